// The one door to the API: credentials, CSRF, the native envelope, and errors with the server's words.
import { Decoder, ShapeError } from "./decode";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  text?: string;
  accept?: string;
  signal?: AbortSignal;
}

let onUnauthorized: (() => void) | null = null;

/** Called when a signed-in call answers 401 (the session ended elsewhere). */
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

export function cookie(name: string): string {
  const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

export function url(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** A raw call: the Response, after turning an error answer into ApiError. */
export async function call(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = {
    Accept: options.accept ?? "application/json",
    // Asks the server to leave out WWW-Authenticate on a 401, so the browser shows no login dialog.
    "X-Requested-With": "XMLHttpRequest",
  };
  let body: BodyInit | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  } else if (options.text !== undefined) {
    headers["Content-Type"] = "text/plain; charset=utf-8";
    body = options.text;
  }
  if (method !== "GET") headers["X-CSRF-Token"] = cookie("heron_csrf");
  const response = await fetch(url(path, options.query), {
    method,
    headers,
    body,
    credentials: "same-origin",
    signal: options.signal,
  });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const payload = await response.json();
      message = payload.error ?? payload.error_message ?? payload.message ?? message;
    } catch {
      // not JSON: keep the status line
    }
    if (response.status === 401 && onUnauthorized && !path.endsWith("/login")) onUnauthorized();
    throw new ApiError(String(message), response.status);
  }
  return response;
}

/** A call to a native route: checks `{success, data}` and decodes `data`. */
export async function api<T>(method: string, path: string, decode: Decoder<T>, options: RequestOptions = {}): Promise<T> {
  const response = await call(method, path, options);
  const payload: unknown = await response.json();
  if (typeof payload !== "object" || payload === null || (payload as { success?: unknown }).success !== true) {
    throw new ShapeError(`unexpected answer from ${path}: no success envelope`);
  }
  return decode((payload as { data: unknown }).data, "data");
}
