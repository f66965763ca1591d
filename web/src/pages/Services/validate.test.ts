import assert from "node:assert/strict";
import { test } from "node:test";
import { cronLine, Draft, optionsOf, scheduleFor, targetProblem, validate } from "./validate";

const base: Draft = {
  name: "shop", kind: "http", target: "https://shop.example/health", interval: "30", timeout: "10", retries: "1",
  maxLatency: "", expectedStatus: "200-299", keyword: "", recordType: "A", resolver: "", count: "3", grace: "60",
};

test("a good http draft has no problem", () => {
  assert.deepEqual(validate(base), {});
});

test("each field's problem is worded as the API words it", () => {
  const found = validate({ ...base, name: " ", target: "shop.example", interval: "0", timeout: "61", retries: "21" });
  assert.equal(found.name, "name: a monitor needs a name");
  assert.equal(found.target, "target: expected a URL starting with http:// or https://, got 'shop.example'");
  assert.equal(found.interval, "duration: the interval must be 1 to 86400 seconds, got 0");
  assert.equal(found.timeout, "timeout: expected more than 0 and at most 60 seconds");
  assert.equal(found.retries, "retries: expected 0 to 20, got 21");
  assert.match(validate({ ...base, expectedStatus: "200, 99" }).expectedStatus ?? "", /^options.expected_status:/);
});

test("targets by kind", () => {
  assert.equal(targetProblem("tcp", "db:5432"), null);
  assert.equal(targetProblem("tcp", "[::1]:22"), null);
  assert.equal(targetProblem("tcp", "db"), "target: expected host:port (IPv6 as [address]:port), got 'db'");
  assert.equal(targetProblem("tcp", "db:70000"), "target: port out of range: expected 1 to 65535, got '70000'");
  assert.equal(targetProblem("http", "http://h:0/x"), "target: port out of range: expected 1 to 65535, got 0");
  assert.equal(targetProblem("icmp", "a b"), "target: 'a b' is not a host name or IP address");
  assert.equal(targetProblem("push", ""), null);
  assert.equal(targetProblem("dns", ""), "target: required to create a monitor (except a push monitor)");
});

test("options and the cron line", () => {
  assert.deepEqual(optionsOf({ ...base, expectedStatus: "200, 300-399", keyword: "ok" }), { expected_status: [200, "300-399"], keyword: "ok" });
  assert.deepEqual(optionsOf({ ...base, kind: "push", grace: "120" }), { grace_seconds: 120 });
  assert.equal(
    cronLine("http://h:8902/", "/api/v1/push/abc", 300, "job"),
    "*/5 * * * * curl -fsS -m 10 --retry 3 http://h:8902/api/v1/push/abc/start; job; curl -fsS -m 10 --retry 3 http://h:8902/api/v1/push/abc/$?",
  );
});

test("the cron schedule follows the interval", () => {
  assert.equal(scheduleFor(30), "*/1 * * * *");
  assert.equal(scheduleFor(900), "*/15 * * * *");
  assert.equal(scheduleFor(7200), "0 */2 * * *");
  assert.equal(scheduleFor(86_400), "0 3 * * *");
});
