// The file manager's binary frames (docs/operations.md, Nezha's protocol): 0x00+path asks for a
// listing; the answer is NZFN, the path's length (4 bytes), the path, then per entry one byte
// is-directory, one byte name length, the name. NERR and a message is an error.
export interface Entry {
  name: string;
  dir: boolean;
}
export type FileAnswer = { kind: "list"; path: string; entries: Entry[] } | { kind: "error"; message: string } | { kind: "other"; tag: string };

const utf8 = new TextDecoder();

export function listRequest(path: string): Uint8Array {
  const encoded = new TextEncoder().encode(path);
  const frame = new Uint8Array(encoded.length + 1);
  frame[0] = 0;
  frame.set(encoded, 1);
  return frame;
}

export function parseAnswer(buffer: ArrayBuffer): FileAnswer {
  const bytes = new Uint8Array(buffer);
  const tag = utf8.decode(bytes.subarray(0, 4));
  if (tag === "NERR") return { kind: "error", message: utf8.decode(bytes.subarray(4)) };
  if (tag !== "NZFN") return { kind: "other", tag };
  const view = new DataView(buffer);
  const length = view.getUint32(4);
  const path = utf8.decode(bytes.subarray(8, 8 + length));
  const entries: Entry[] = [];
  let at = 8 + length;
  while (at + 2 <= bytes.length) {
    const dir = bytes[at] === 1;
    const size = bytes[at + 1];
    entries.push({ name: utf8.decode(bytes.subarray(at + 2, at + 2 + size)), dir });
    at += 2 + size;
  }
  entries.sort((a, b) => Number(b.dir) - Number(a.dir) || a.name.localeCompare(b.name));
  return { kind: "list", path, entries };
}

/** `child` inside directory `dir`, and the parent of a path ("/" stays "/"). */
export function joinPath(dir: string, child: string): string {
  return `${dir.replace(/\/+$/, "")}/${child}`;
}
export function parentPath(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const cut = trimmed.lastIndexOf("/");
  return cut <= 0 ? "/" : trimmed.slice(0, cut);
}
