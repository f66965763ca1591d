import assert from "node:assert/strict";
import { test } from "node:test";
import { draftOf, newCondition, parsePairs, retype, ruleBody, ruleProblems, switchKind } from "./ruleform";

test("a new server rule is a valid CPU rule", () => {
  const d = { ...draftOf(null), name: "hot" };
  assert.deepEqual(ruleProblems(d), []);
  assert.deepEqual(ruleBody(d), {
    name: "hot", severity: "warning", notification_group_id: 0, trigger_mode: 0, enable: true,
    fail_trigger_tasks: [], recover_trigger_tasks: [], kind: "server",
    rules: [{ type: "cpu", min: 0, max: 90, duration: 60, cover: 0, ignore: {} }],
  });
});

test("problems are worded as the API words them", () => {
  const d = { ...draftOf(null), conditions: [{ ...newCondition(), type: "cpu", min: "95", max: "90", duration: "-1" }] };
  assert.deepEqual(ruleProblems(d), [
    "name: a rule needs a name of 1 to 255 characters",
    "rules[0].duration: must not be negative, got -1",
    "rules[0]: min (95) is greater than max (90)",
  ]);
  assert.deepEqual(ruleProblems({ ...d, name: "x", conditions: [] }), ["rules: need at least one condition"]);
  assert.deepEqual(ruleProblems({ ...d, name: "x", conditions: [{ ...newCondition(), type: "offline", min: "", max: "", duration: "30" }] }), []);
  const sql = { ...draftOf(null), name: "q", kind: "sql" as const, query: "", threshold: "x; y" };
  assert.deepEqual(ruleProblems(sql), ["query: a sql rule needs its SELECT statement in 'query'", "threshold: one SQL condition, without ';'"]);
});

test("a transfer quota carries its cycle, checked as the API checks it", () => {
  const quota = { ...retype(newCondition(), "transfer_out_cycle"), cycleStart: "2024-01-01T00:00:00Z", cycleInterval: "1", cycleUnit: "month" };
  const d = { ...draftOf(null), name: "quota", conditions: [quota], failTasks: [4] };
  assert.deepEqual(ruleProblems(d), []);
  const body = ruleBody(d);
  assert.deepEqual((body.rules as unknown[])[0], {
    type: "transfer_out_cycle", min: 0, max: 1024 ** 4, duration: 60, cover: 0, ignore: {},
    cycle_start: "2024-01-01T00:00:00Z", cycle_interval: 1, cycle_unit: "month",
  });
  assert.deepEqual(body.fail_trigger_tasks, [4]);
  const bad = { ...d, conditions: [{ ...quota, cycleStart: "2999-01-01T00:00:00Z", cycleInterval: "0" }] };
  assert.deepEqual(ruleProblems(bad), [
    "rules[0].cycle_interval: expected a whole number of cycle units, at least 1, got '0'",
    "rules[0].cycle_start: the cycle starts in the future (2999-01-01T00:00:00Z)",
  ]);
});

test("service rules take the service types' bounds and choose monitors", () => {
  const d = switchKind({ ...draftOf(null), name: "shop" }, "service");
  assert.equal(d.conditions[0].type, "down");
  assert.deepEqual(ruleProblems(d), []);
  const chosen = { ...d, conditions: [{ ...d.conditions[0], cover: 1, ignore: [7] }] };
  assert.deepEqual(ruleBody(chosen).rules, [{ type: "down", min: 0, max: 0, duration: 30, cover: 1, ignore: { "7": true } }]);
  const cert = { ...d, conditions: [{ ...retype(d.conditions[0], "cert_expiry"), min: "", max: "3" }] };
  assert.deepEqual(ruleProblems(cert), [
    "rules[0].min: a cert_expiry condition needs min, the days left below which it fires",
    "rules[0].max: a cert_expiry condition takes min (days left) only",
  ]);
  assert.equal(retype(d.conditions[0], "latency").max, "1000");
  assert.equal(retype(retype(newCondition(), "transfer_in_cycle"), "cpu").max, "90");
});

test("PromQL rules send their expression, timings, labels and annotations", () => {
  const d = { ...switchKind({ ...draftOf(null), name: "up" }, "promql"), expr: " up == 0 ", keepFiring: "60", labels: "team=ops\n", annotations: "summary={{ $labels.instance }} down" };
  assert.deepEqual(ruleProblems(d), []);
  const body = ruleBody(d);
  assert.equal(body.kind, "promql");
  assert.equal(body.expr, "up == 0");
  assert.equal(body.keep_firing_for_seconds, 60);
  assert.deepEqual(body.labels, { team: "ops" });
  assert.deepEqual(body.annotations, { summary: "{{ $labels.instance }} down" });
  assert.deepEqual(ruleProblems({ ...d, expr: "", labels: "9x=1\nnope" }), [
    "expr: a PromQL rule needs its expression",
    "labels: '9x' is not a label name",
    "labels: line 2 is not key=value",
  ]);
  assert.deepEqual(parsePairs("a=b=c", "annotations").pairs, { a: "b=c" });
});
