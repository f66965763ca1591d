// The rule editor's draft, its checks in the API's words (heron/alerts/rules.py, conditions.py),
// and the body the API takes.
import type { Rule } from "../../api/alerts";

/** Nezha's condition types the editor offers (transfer quotas need cycle fields: use the API). */
export const CONDITION_TYPES = [
  "cpu", "memory", "swap", "disk", "load1", "load5", "load15", "net_in_speed", "net_out_speed", "net_all_speed",
  "transfer_in", "transfer_out", "transfer_all", "offline", "tcp_conn_count", "udp_conn_count", "process_count",
  "temperature_max", "gpu_max",
] as const;
export const SEVERITIES = ["critical", "warning", "info"] as const;

export interface CondDraft {
  type: string;
  min: string;
  max: string;
  duration: string;
}

export interface RuleDraft {
  kind: "server" | "sql";
  name: string;
  severity: string;
  group: number;
  once: boolean;
  conditions: CondDraft[];
  query: string;
  threshold: string;
  interval: string;
  forSeconds: string;
}

export const newCondition = (): CondDraft => ({ type: "cpu", min: "", max: "90", duration: "60" });

export function draftOf(rule: Rule | null): RuleDraft {
  return {
    kind: rule?.kind === "sql" ? "sql" : "server",
    name: rule?.name ?? "",
    severity: rule?.severity ?? "warning",
    group: rule?.notification_group_id ?? 0,
    once: rule?.trigger_mode === 1,
    conditions: rule?.rules.length
      ? rule.rules.map((c) => ({ type: c.type, min: c.min ? String(c.min) : "", max: c.max ? String(c.max) : "", duration: String(c.duration) }))
      : [newCondition()],
    query: rule?.query ?? "",
    threshold: rule?.threshold ?? "",
    interval: String(rule?.interval_seconds ?? 30),
    forSeconds: String(rule?.for_seconds ?? 0),
  };
}

const num = (s: string) => (s.trim() === "" ? 0 : Number(s));

/** Problems in the API's words, first one per field. */
export function ruleProblems(d: RuleDraft): string[] {
  const out: string[] = [];
  if (!d.name.trim() || d.name.length > 255) out.push("name: a rule needs a name of 1 to 255 characters");
  if (d.kind === "server") {
    if (d.conditions.length === 0) out.push("rules: need at least one condition");
    d.conditions.forEach((c, i) => {
      const where = `rules[${i}]`;
      for (const [name, raw] of [["min", c.min], ["max", c.max], ["duration", c.duration]] as const) {
        const v = num(raw);
        if (Number.isNaN(v)) out.push(`${where}.${name}: expected a number, got '${raw}'`);
        else if (v < 0) out.push(`${where}.${name}: must not be negative, got ${v}`);
      }
      const low = num(c.min);
      const high = num(c.max);
      if (low && high && low > high) out.push(`${where}: min (${low}) is greater than max (${high})`);
      if (c.type !== "offline" && !low && !high) out.push(`${where}: set max or min (0 means unset), or the condition never fails`);
      if (num(c.duration) > 86_400) out.push(`${where}.duration: at most 86400 seconds, got ${num(c.duration)}`);
    });
  } else {
    if (!d.query.trim()) out.push("query: a sql rule needs its SELECT statement in 'query'");
    if (d.threshold.includes(";")) out.push("threshold: one SQL condition, without ';'");
    if (!(num(d.interval) >= 1)) out.push(`interval_seconds: at least 1 seconds, got ${d.interval}`);
    if (num(d.forSeconds) < 0 || Number.isNaN(num(d.forSeconds))) out.push(`for_seconds: must not be negative, got ${d.forSeconds}`);
  }
  return out;
}

export function ruleBody(d: RuleDraft): Record<string, unknown> {
  const common = { name: d.name.trim(), severity: d.severity, notification_group_id: d.group, trigger_mode: d.once ? 1 : 0, enable: true };
  if (d.kind === "server") {
    return {
      ...common,
      kind: "server",
      rules: d.conditions.map((c) => ({ type: c.type, min: num(c.min), max: num(c.max), duration: num(c.duration), cover: 0 })),
    };
  }
  return { ...common, kind: "sql", query: d.query.trim(), threshold: d.threshold.trim(), interval_seconds: num(d.interval), for_seconds: num(d.forSeconds) };
}
