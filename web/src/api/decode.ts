// Checks an answer's shape where it enters the UI, so a changed API fails loudly in one place
// instead of as `undefined` deep in a component.
export type Decoder<T> = (value: unknown, path: string) => T;

export class ShapeError extends Error {}

function fail(path: string, expected: string, value: unknown): never {
  const got = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  throw new ShapeError(`unexpected answer: ${path} should be ${expected}, got ${got}`);
}

export const str: Decoder<string> = (v, p) => (typeof v === "string" ? v : fail(p, "a string", v));
export const num: Decoder<number> = (v, p) => (typeof v === "number" ? v : fail(p, "a number", v));
export const bool: Decoder<boolean> = (v, p) => (typeof v === "boolean" ? v : fail(p, "a boolean", v));
export const unknownValue: Decoder<unknown> = (v) => v;

export function nullable<T>(inner: Decoder<T>): Decoder<T | null> {
  return (v, p) => (v === null || v === undefined ? null : inner(v, p));
}

export function optional<T>(inner: Decoder<T>, fallback: T): Decoder<T> {
  return (v, p) => (v === undefined || v === null ? fallback : inner(v, p));
}

/** Checks each item in place (a stream frame holds 2,000 servers: no copies of them). */
export function array<T>(inner: Decoder<T>): Decoder<T[]> {
  return (v, p) => {
    if (!Array.isArray(v)) fail(p, "an array", v);
    for (let i = 0; i < v.length; i++) {
      const item = inner(v[i], p);
      if (item !== v[i]) v[i] = item;
    }
    return v as T[];
  };
}

export function record<T>(inner: Decoder<T>): Decoder<Record<string, T>> {
  return (v, p) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail(p, "an object", v);
    const out: Record<string, T> = {};
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) out[k] = inner(item, `${p}.${k}`);
    return out;
  };
}

type Shape = Record<string, Decoder<unknown>>;
type Decoded<S extends Shape> = { [K in keyof S]: S[K] extends Decoder<infer T> ? T : never };

/** Checks the fields of `shape` in place, filling defaults; other fields are left as they are. */
export function obj<S extends Shape>(shape: S): Decoder<Decoded<S>> {
  const keys = Object.keys(shape);
  return (v, p) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail(p, "an object", v);
    const source = v as Record<string, unknown>;
    for (const key of keys) {
      const value = shape[key](source[key], p + "." + key);
      if (value !== source[key]) source[key] = value;
    }
    return source as Decoded<S>;
  };
}

export function page<T>(inner: Decoder<T>) {
  return obj({
    value: array(inner),
    pagination: obj({ offset: num, limit: num, total: num }),
  });
}
