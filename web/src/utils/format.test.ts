import { strict as assert } from "node:assert";
import { test } from "node:test";
import { bytes, duration, parseTime, percent, utcTime } from "./format";

test("bytes uses binary units and one decimal", () => {
  assert.equal(bytes(0), "0 B");
  assert.equal(bytes(512), "512 B");
  assert.equal(bytes(1536), "1.5 KiB");
  assert.equal(bytes(8 * 2 ** 30), "8.0 GiB");
});

test("percent clamps and survives a zero total", () => {
  assert.equal(percent(5, 10), 50);
  assert.equal(percent(20, 10), 100);
  assert.equal(percent(1, 0), 0);
});

test("duration shows the two largest units", () => {
  assert.equal(duration(90061), "1d 1h");
  assert.equal(duration(3720), "1h 2m");
  assert.equal(duration(42), "42s");
  assert.equal(duration(0), "—");
});

test("Go's zero time is never, and UTC is written plainly", () => {
  assert.equal(parseTime("0001-01-01T00:00:00Z"), null);
  assert.equal(utcTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5))), "2026-01-02 03:04:05 UTC");
});
