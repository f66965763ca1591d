import assert from "node:assert/strict";
import { test } from "node:test";
import { draftOf, ruleBody, ruleProblems } from "./ruleform";

test("a new server rule is a valid CPU rule", () => {
  const d = { ...draftOf(null), name: "hot" };
  assert.deepEqual(ruleProblems(d), []);
  assert.deepEqual(ruleBody(d), {
    name: "hot", severity: "warning", notification_group_id: 0, trigger_mode: 0, enable: true, kind: "server",
    rules: [{ type: "cpu", min: 0, max: 90, duration: 60, cover: 0 }],
  });
});

test("problems are worded as the API words them", () => {
  const d = { ...draftOf(null), conditions: [{ type: "cpu", min: "95", max: "90", duration: "-1" }] };
  assert.deepEqual(ruleProblems(d), [
    "name: a rule needs a name of 1 to 255 characters",
    "rules[0].duration: must not be negative, got -1",
    "rules[0]: min (95) is greater than max (90)",
  ]);
  assert.deepEqual(ruleProblems({ ...d, name: "x", conditions: [] }), ["rules: need at least one condition"]);
  assert.deepEqual(ruleProblems({ ...d, name: "x", conditions: [{ type: "offline", min: "", max: "", duration: "30" }] }), []);
  const sql = { ...draftOf(null), name: "q", kind: "sql" as const, query: "", threshold: "x; y" };
  assert.deepEqual(ruleProblems(sql), ["query: a sql rule needs its SELECT statement in 'query'", "threshold: one SQL condition, without ';'"]);
});
