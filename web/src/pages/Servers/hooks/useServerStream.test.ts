import { strict as assert } from "node:assert";
import { test } from "node:test";
import { EMPTY_STREAM, streamReducer } from "./useServerStream";

test("a frame replaces the servers and counts; a disconnect keeps the last servers", () => {
  const frame = { now: 5, online: 2, servers: [] };
  const after = streamReducer(EMPTY_STREAM, { type: "frame", frame });
  assert.equal(after.frames, 1);
  assert.equal(after.viewers, 2);
  assert.equal(after.connected, true);
  const lost = streamReducer(after, { type: "connection", connected: false });
  assert.equal(lost.connected, false);
  assert.equal(lost.servers, after.servers);
});
