import { strict as assert } from "node:assert";
import { test } from "node:test";
import { parseSqlTime, plotOf, suggestions, timeParser, wordAt } from "./sqlresult";

test("zone-less SQL times are UTC, nanoseconds are cut to milliseconds", () => {
  assert.equal(parseSqlTime("2026-01-01T00:00:01.123456789"), Date.UTC(2026, 0, 1, 0, 0, 1, 123) / 1000);
  assert.equal(parseSqlTime("web-1"), null);
  assert.equal(parseSqlTime("2026-01-01T02:00:00+02:00"), Date.UTC(2026, 0, 1) / 1000);
  assert.equal(parseSqlTime("2026-01-01 00:00:00Z"), Date.UTC(2026, 0, 1) / 1000);
});

test("rows with a time and numbers become a chart, ordered by time", () => {
  const plot = plotOf([
    { time: "2026-01-01T00:00:02", host: "a", cpu: 2 },
    { time: "2026-01-01T00:00:01", host: "a", cpu: 1 },
  ]);
  assert.ok(plot);
  assert.equal(plot.timeColumn, "time");
  assert.deepEqual(plot.columns, ["cpu"]);
  assert.deepEqual(plot.data[1], [1, 2]);
  assert.equal(plotOf([{ host: "a", cpu: 1 }]), null);
});

test("completion offers names, then SQL words, for the word at the caret", () => {
  assert.deepEqual(wordAt("SELECT cp", 9), { word: "cp", start: 7 });
  assert.deepEqual(suggestions("cp", ["cpu", "cpu_total", "mem"]), ["cpu", "cpu_total"]);
  assert.deepEqual(suggestions("sel", []), ["SELECT"]);
});

test("the fast time parser agrees with the careful one", () => {
  const read = timeParser();
  for (const text of ["2026-03-04T05:06:07", "2026-03-04T05:06:07.5", "2026-03-04T23:59:59.123456789", "2026-12-31 00:00:01",
    "2026-03-05T00:00:00+01:00", "not a time"]) {
    assert.equal(read(text), parseSqlTime(text), text);
  }
});
