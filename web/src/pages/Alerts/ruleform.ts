// The rule editor's draft, its checks in the API's words (heron/alerts/rules.py, conditions.py,
// service_conditions.py), and the body the API takes.
import type { Rule } from "../../api/alerts";

export type RuleKind = "server" | "service" | "sql" | "promql";
export const RULE_KINDS: readonly RuleKind[] = ["server", "service", "promql", "sql"];

/** Nezha's server condition types; the `_cycle` ones are transfer quotas over a repeating cycle. */
export const CONDITION_TYPES = [
  "cpu", "memory", "swap", "disk", "load1", "load5", "load15", "net_in_speed", "net_out_speed", "net_all_speed",
  "transfer_in", "transfer_out", "transfer_all", "transfer_in_cycle", "transfer_out_cycle", "transfer_all_cycle",
  "offline", "tcp_conn_count", "udp_conn_count", "process_count", "temperature_max", "gpu_max",
] as const;
/** Heron's service condition types, over monitors. */
export const SERVICE_TYPES = ["down", "latency", "cert_expiry"] as const;
export const CYCLE_UNITS = ["hour", "day", "week", "month", "year"] as const;
export const SEVERITIES = ["critical", "warning", "info"] as const;

export interface CondDraft {
  type: string;
  min: string;
  max: string;
  duration: string;
  /** 0: every server or monitor except `ignore`; 1: only those. */
  cover: number;
  ignore: number[];
  cycleStart: string;
  cycleInterval: string;
  cycleUnit: string;
}

export interface RuleDraft {
  kind: RuleKind;
  name: string;
  severity: string;
  group: number;
  once: boolean;
  conditions: CondDraft[];
  query: string;
  threshold: string;
  expr: string;
  database: string;
  interval: string;
  forSeconds: string;
  keepFiring: string;
  /** `key=value` lines (PromQL rules). */
  labels: string;
  annotations: string;
  failTasks: number[];
  recoverTasks: number[];
}

export const isCycle = (type: string) => type.endsWith("_cycle");

/** The first day of this month, 00:00 UTC: a monthly quota's usual start. */
export function monthStart(now = new Date()): string {
  return `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}-01T00:00:00Z`;
}

export const newCondition = (kind: RuleKind = "server"): CondDraft => ({
  type: kind === "service" ? "down" : "cpu",
  min: "",
  max: kind === "service" ? "" : "90",
  duration: kind === "service" ? "30" : "60",
  cover: 0,
  ignore: [],
  cycleStart: monthStart(),
  cycleInterval: "1",
  cycleUnit: "month",
});

/** A condition fitting `type`: bounds the new type does not take are cleared, a latency or quota gets a bound. */
export function retype(c: CondDraft, type: string): CondDraft {
  if (type === "down" || type === "offline") return { ...c, type, min: "", max: "" };
  if (type === "cert_expiry") return { ...c, type, min: c.min || "14", max: "" };
  if (type === "latency") return { ...c, type, max: c.max || (c.min ? "" : "1000") };
  // Bytes in a cycle and percents or speeds are different scales: a bound does not carry across.
  if (isCycle(type)) return isCycle(c.type) ? { ...c, type } : { ...c, type, min: "", max: String(1024 ** 4) };
  if (isCycle(c.type)) return { ...c, type, min: "", max: "90" };
  return { ...c, type, max: c.max || c.min ? c.max : "90" };
}

const lines = (m: Record<string, string>) => Object.entries(m).map(([k, v]) => `${k}=${v}`).join("\n");
const shown = (n: number) => (n ? String(n) : "");

export function draftOf(rule: Rule | null): RuleDraft {
  const kind: RuleKind = rule && (RULE_KINDS as readonly string[]).includes(rule.kind) ? (rule.kind as RuleKind) : "server";
  return {
    kind,
    name: rule?.name ?? "",
    severity: rule?.severity ?? "warning",
    group: rule?.notification_group_id ?? 0,
    once: rule?.trigger_mode === 1,
    conditions: rule?.rules.length
      ? rule.rules.map((c) => ({
          type: c.type,
          min: shown(c.min),
          max: shown(c.max),
          duration: String(c.duration),
          cover: c.cover,
          ignore: Object.entries(c.ignore).filter(([, on]) => on).map(([id]) => Number(id)),
          cycleStart: c.cycle_start || monthStart(),
          cycleInterval: String(c.cycle_interval || 1),
          cycleUnit: c.cycle_unit || "month",
        }))
      : [newCondition(kind)],
    query: rule?.query ?? "",
    threshold: rule?.threshold ?? "",
    expr: rule?.expr ?? "",
    database: rule?.database ?? "public",
    interval: String(rule?.interval_seconds ?? 30),
    forSeconds: String(rule?.for_seconds ?? 0),
    keepFiring: String(rule?.keep_firing_for_seconds ?? 0),
    labels: lines(rule?.labels ?? {}),
    annotations: lines(rule?.annotations ?? {}),
    failTasks: rule?.fail_trigger_tasks ?? [],
    recoverTasks: rule?.recover_trigger_tasks ?? [],
  };
}

/** The draft switched to another kind: conditions of the old kind do not carry over. */
export function switchKind(d: RuleDraft, kind: RuleKind): RuleDraft {
  const sameFamily = (kind === "service") === (d.kind === "service");
  return { ...d, kind, conditions: sameFamily ? d.conditions : [newCondition(kind)] };
}

const num = (s: string) => (s.trim() === "" ? 0 : Number(s));

/** `key=value` lines as an object; the problems name the field and line. */
export function parsePairs(text: string, field: string): { pairs: Record<string, string>; problems: string[] } {
  const pairs: Record<string, string> = {};
  const problems: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const at = line.indexOf("=");
    const key = at < 0 ? "" : line.slice(0, at).trim();
    if (!key) problems.push(`${field}: line ${i + 1} is not key=value`);
    else if (field === "labels" && !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key)) problems.push(`${field}: '${key}' is not a label name`);
    else pairs[key] = line.slice(at + 1).trim();
  });
  return { pairs, problems };
}

function conditionProblems(c: CondDraft, where: string, kind: RuleKind): string[] {
  const out: string[] = [];
  for (const [name, raw] of [["min", c.min], ["max", c.max], ["duration", c.duration]] as const) {
    const v = num(raw);
    if (Number.isNaN(v)) out.push(`${where}.${name}: expected a number, got '${raw}'`);
    else if (v < 0) out.push(`${where}.${name}: must not be negative, got ${v}`);
  }
  const low = num(c.min);
  const high = num(c.max);
  if (low && high && low > high) out.push(`${where}: min (${low}) is greater than max (${high})`);
  if (!isCycle(c.type) && num(c.duration) > 86_400) out.push(`${where}.duration: at most 86400 seconds, got ${num(c.duration)}`);
  if (kind === "service") {
    if (c.type === "latency" && !low && !high) out.push(`${where}: a latency condition needs max (ms, fires above) or min (ms, fires below)`);
    if (c.type === "cert_expiry" && !low) out.push(`${where}.min: a cert_expiry condition needs min, the days left below which it fires`);
    if (c.type === "cert_expiry" && high) out.push(`${where}.max: a cert_expiry condition takes min (days left) only`);
    if (c.type === "down" && (low || high)) out.push(`${where}: a down condition takes no min or max`);
    return out;
  }
  if (isCycle(c.type)) {
    if (!low && !high) out.push(`${where}: a transfer quota needs max (bytes) or min`);
    const interval = Number(c.cycleInterval);
    if (!Number.isInteger(interval) || interval < 1) {
      out.push(`${where}.cycle_interval: expected a whole number of cycle units, at least 1, got '${c.cycleInterval}'`);
    }
    const start = Date.parse(c.cycleStart);
    if (!/^\d{4}-\d\d-\d\dT/.test(c.cycleStart) || Number.isNaN(start)) {
      out.push(`${where}.cycle_start: expected an RFC 3339 time such as 2024-01-01T00:00:00Z, got '${c.cycleStart}'`);
    } else if (start > Date.now()) out.push(`${where}.cycle_start: the cycle starts in the future (${c.cycleStart})`);
  } else if (c.type !== "offline" && !low && !high) out.push(`${where}: set max or min (0 means unset), or the condition never fails`);
  return out;
}

const seconds = (raw: string, field: string, least = 0): string[] => {
  const v = num(raw);
  if (Number.isNaN(v)) return [`${field}: expected a number of seconds, got '${raw}'`];
  if (v < 0) return [`${field}: must not be negative, got ${v}`];
  if (v < least) return [`${field}: at least ${least} seconds, got ${v}`];
  return [];
};

/** Problems in the API's words, first one per field. */
export function ruleProblems(d: RuleDraft): string[] {
  const out: string[] = [];
  if (!d.name.trim() || d.name.length > 255) out.push("name: a rule needs a name of 1 to 255 characters");
  if (d.kind === "server" || d.kind === "service") {
    if (d.conditions.length === 0) out.push(d.kind === "service" ? "rules: a service rule needs at least one condition" : "rules: need at least one condition");
    d.conditions.forEach((c, i) => out.push(...conditionProblems(c, `rules[${i}]`, d.kind)));
  } else if (d.kind === "sql") {
    if (!d.query.trim()) out.push("query: a sql rule needs its SELECT statement in 'query'");
    if (d.threshold.includes(";")) out.push("threshold: one SQL condition, without ';'");
    if (!(num(d.interval) >= 1)) out.push(`interval_seconds: at least 1 seconds, got ${d.interval}`);
    out.push(...seconds(d.forSeconds, "for_seconds"));
  } else {
    if (!d.expr.trim()) out.push("expr: a PromQL rule needs its expression");
    out.push(...seconds(d.interval, "interval_seconds", 1), ...seconds(d.forSeconds, "for_seconds"), ...seconds(d.keepFiring, "keep_firing_for_seconds"));
    out.push(...parsePairs(d.labels, "labels").problems, ...parsePairs(d.annotations, "annotations").problems);
  }
  return out;
}

function conditionBody(c: CondDraft, kind: RuleKind): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: c.type,
    min: num(c.min),
    max: num(c.max),
    duration: num(c.duration),
    cover: c.cover,
    ignore: Object.fromEntries(c.ignore.map((id) => [String(id), true])),
  };
  if (kind === "server" && isCycle(c.type)) {
    Object.assign(out, { cycle_start: c.cycleStart.trim(), cycle_interval: Number(c.cycleInterval), cycle_unit: c.cycleUnit });
  }
  return out;
}

export function ruleBody(d: RuleDraft): Record<string, unknown> {
  const common = {
    name: d.name.trim(),
    severity: d.severity,
    notification_group_id: d.group,
    trigger_mode: d.once ? 1 : 0,
    enable: true,
    fail_trigger_tasks: d.failTasks,
    recover_trigger_tasks: d.recoverTasks,
  };
  if (d.kind === "server" || d.kind === "service") {
    return { ...common, kind: d.kind, rules: d.conditions.map((c) => conditionBody(c, d.kind)) };
  }
  if (d.kind === "promql") {
    return {
      ...common,
      kind: "promql",
      expr: d.expr.trim(),
      database: d.database.trim() || "public",
      interval_seconds: num(d.interval),
      for_seconds: num(d.forSeconds),
      keep_firing_for_seconds: num(d.keepFiring),
      labels: parsePairs(d.labels, "labels").pairs,
      annotations: parsePairs(d.annotations, "annotations").pairs,
    };
  }
  return { ...common, kind: "sql", query: d.query.trim(), threshold: d.threshold.trim(), interval_seconds: num(d.interval), for_seconds: num(d.forSeconds) };
}
