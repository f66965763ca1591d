import { strict as assert } from "node:assert";
import { test } from "node:test";
import { alignMatrix, complete, seriesName, stepFor, tableRows, toCsv, wantAt } from "./promql";

test("the word at the caret: metric, label name, label value", () => {
  assert.deepEqual(wantAt("rate(heron_se", 13), { kind: "metric", word: "heron_se", start: 5 });
  assert.deepEqual(wantAt('heron_server_cpu{ser', 20), { kind: "label", word: "ser", start: 17, metric: "heron_server_cpu" });
  assert.deepEqual(wantAt('heron_server_cpu{server_name="bo', 32), {
    kind: "value", word: "bo", start: 30, metric: "heron_server_cpu", label: "server_name",
  });
  assert.deepEqual(wantAt('up{a="1", ', 10), { kind: "label", word: "", start: 10, metric: "up" });
  assert.equal(wantAt('up{a="1"} + do', 14).kind, "metric");
});

test("completion prefers prefixes", () => {
  assert.deepEqual(complete("cpu", ["heron_server_cpu", "cpu_seconds", "mem"]), ["cpu_seconds", "heron_server_cpu"]);
  assert.deepEqual(complete("", ["a", "b"]), ["a", "b"]);
});

test("answers become chart data, rows and CSV", () => {
  const series = [
    { metric: { __name__: "m", b: "2", a: "1" }, values: [[10, "1"], [20, "2"]] as [number, string][] },
    { metric: { __name__: "m", a: "x" }, values: [[20, "5"], [30, "NaN"]] as [number, string][] },
  ];
  assert.equal(seriesName(series[0].metric), 'm{a="1", b="2"}');
  assert.deepEqual(alignMatrix(series).data, [[10, 20, 30], [1, 2, null], [null, 5, null]]);
  const data = { resultType: "matrix" as const, result: series };
  assert.deepEqual(tableRows(data)[1], { series: 'm{a="x"}', time: 30, value: "NaN" });
  assert.equal(toCsv(data).split("\n")[1], '"m{a=""1"", b=""2""}",1970-01-01T00:00:10.000Z,1');
  assert.equal(stepFor(3600), 12);
  assert.equal(stepFor(60), 1);
});
