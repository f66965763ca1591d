import { strict as assert } from "node:assert";
import { test } from "node:test";
import { cronProblem } from "./cron";

test("valid schedules pass", () => {
  for (const ok of ["*/30 * * * * *", "0 0 3 * * *", "0 */5 * * * mon-fri", "0 0 0 1 jan,jul ?", "@hourly", "5,10 1-5/2 * * * 7"]) {
    assert.equal(cronProblem(ok), null, ok);
  }
});

test("problems name the field", () => {
  assert.match(cronProblem("0 0 3 * *")!.message, /expected 6 fields.*got 5/);
  assert.deepEqual(cronProblem("0 60 * * * *")?.field, "minute");
  assert.deepEqual(cronProblem("0 0 24 * * *")?.field, "hour");
  assert.deepEqual(cronProblem("0 0 0 0 * *")?.field, "day");
  assert.deepEqual(cronProblem("0 0 0 * 5-2 *")?.field, "month");
  assert.deepEqual(cronProblem("*/0 * * * * *")?.field, "second");
  assert.deepEqual(cronProblem("? * * * * *")?.field, "second");
  assert.equal(cronProblem("@often")?.field, "expression");
  assert.equal(cronProblem("  ")?.field, "expression");
});
