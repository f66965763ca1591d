import { strict as assert } from "node:assert";
import { test } from "node:test";
import { joinPath, listRequest, parentPath, parseAnswer } from "./filemsg";

function listing(path: string, entries: [string, boolean][]): ArrayBuffer {
  const enc = new TextEncoder();
  const parts: number[] = [...enc.encode("NZFN"), 0, 0, 0, enc.encode(path).length, ...enc.encode(path)];
  for (const [name, dir] of entries) parts.push(dir ? 1 : 0, enc.encode(name).length, ...enc.encode(name));
  return new Uint8Array(parts).buffer;
}

test("a listing decodes, directories first", () => {
  const answer = parseAnswer(listing("/srv", [["b.txt", false], ["日志", true], ["a", false]]));
  assert.deepEqual(answer, { kind: "list", path: "/srv", entries: [{ name: "日志", dir: true }, { name: "a", dir: false }, { name: "b.txt", dir: false }] });
});

test("errors and requests", () => {
  assert.deepEqual(parseAnswer(new TextEncoder().encode("NERRno such file").buffer), { kind: "error", message: "no such file" });
  assert.deepEqual([...listRequest("/a")], [0, 47, 97]);
  assert.equal(joinPath("/srv/", "x"), "/srv/x");
  assert.equal(parentPath("/srv/x"), "/srv");
  assert.equal(parentPath("/srv"), "/");
});
