// The monitor form's checks, worded as the API words its 400s (heron/probes/monitors.py and
// checks/), so a mistake is named before the round trip; the server checks again regardless.
export type Kind = "http" | "tcp" | "icmp" | "dns" | "push";
export const KINDS: Kind[] = ["http", "tcp", "icmp", "dns", "push"];
export const RECORD_TYPES = ["A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA"];
export const MAX_INTERVAL = 86_400;

export interface Draft {
  name: string;
  kind: Kind;
  target: string;
  interval: string;
  timeout: string;
  retries: string;
  maxLatency: string;
  expectedStatus: string;
  keyword: string;
  recordType: string;
  resolver: string;
  count: string;
  grace: string;
}

/** field -> message, in the API's words. */
export type Problems = Partial<Record<keyof Draft, string>>;

const STATUS = /^([1-5]\d\d)(?:-([1-5]\d\d))?$/;
const IP_PORT = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:.]+)(:\d+)?$/;

function hostProblem(host: string, raw: string): string | null {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (!bare) return "target: a host name or IP address is required";
  if (bare.length > 253 || /[\s/?#@]/.test(bare)) return `target: '${raw}' is not a host name or IP address`;
  return null;
}

function portProblem(port: string): string | null {
  return /^\d+$/.test(port) && +port >= 1 && +port <= 65535 ? null : `target: port out of range: expected 1 to 65535, got '${port}'`;
}

export function targetProblem(kind: Kind, raw: string): string | null {
  const target = raw.trim();
  if (kind === "push") return null;
  if (!target) return "target: required to create a monitor (except a push monitor)";
  if (kind === "http") {
    const m = /^(https?):\/\/([^/?#]*)/i.exec(target);
    if (!m) return `target: expected a URL starting with http:// or https://, got '${target}'`;
    const port = /:(\d*)$/.exec(m[2].replace(/^\[[^\]]*\]/, ""));
    if (port && port[1] !== "" && portProblem(port[1])) return `target: port out of range: expected 1 to 65535, got ${port[1]}`;
    return null;
  }
  if (kind === "tcp") {
    if (target.startsWith("[")) {
      const end = target.indexOf("]");
      if (end < 0 || target[end + 1] !== ":") return `target: expected [IPv6]:port, got '${target}'`;
      return hostProblem(target.slice(1, end), target) ?? portProblem(target.slice(end + 2));
    }
    const at = target.lastIndexOf(":");
    if (at < 0 || target.slice(0, at).includes(":")) return `target: expected host:port (IPv6 as [address]:port), got '${target}'`;
    return hostProblem(target.slice(0, at), target) ?? portProblem(target.slice(at + 1));
  }
  return hostProblem(target, target);
}

function intIn(value: string, lo: number, hi: number): boolean {
  return /^-?\d+$/.test(value.trim()) && +value >= lo && +value <= hi;
}

export function validate(d: Draft): Problems {
  const out: Problems = {};
  if (!d.name.trim()) out.name = "name: a monitor needs a name";
  const target = targetProblem(d.kind, d.target);
  if (target) out.target = target;
  if (!intIn(d.interval, 1, MAX_INTERVAL)) out.interval = `duration: the interval must be 1 to ${MAX_INTERVAL} seconds, got ${d.interval || "nothing"}`;
  const timeout = Number(d.timeout);
  if (!(d.timeout.trim() !== "" && timeout > 0 && timeout <= 60)) out.timeout = "timeout: expected more than 0 and at most 60 seconds";
  if (!intIn(d.retries, 0, 20)) out.retries = `retries: expected 0 to 20, got ${d.retries || "nothing"}`;
  if (d.maxLatency.trim() !== "" && !(Number(d.maxLatency) >= 0)) out.maxLatency = "max_latency: latencies are milliseconds, zero or more";
  if (d.kind === "http") {
    const codes = d.expectedStatus.split(",").map((s) => s.trim()).filter(Boolean);
    if (codes.length > 32 || codes.some((c) => !STATUS.test(c)))
      out.expectedStatus = "options.expected_status: expected a list of 1 to 32 codes or ranges such as 200 or '200-299'";
    if (d.keyword.length > 1024) out.keyword = "options.keyword: at most 1024 characters";
  }
  if (d.kind === "dns" && d.resolver.trim() && !IP_PORT.test(d.resolver.trim()))
    out.resolver = `options.resolver: expected an IP address (optionally with :port), got '${d.resolver.trim()}'`;
  if (d.kind === "icmp" && !intIn(d.count, 1, 20)) out.count = `options.count: expected 1 to 20 echo requests, got ${d.count || "nothing"}`;
  if (d.kind === "push" && !intIn(d.grace, 0, MAX_INTERVAL)) out.grace = `options.grace_seconds: expected 0 to ${MAX_INTERVAL} seconds`;
  return out;
}

/** The kind's options as the API takes them. */
export function optionsOf(d: Draft): Record<string, unknown> {
  switch (d.kind) {
    case "http": {
      const codes = d.expectedStatus.split(",").map((s) => s.trim()).filter(Boolean);
      return { expected_status: codes.map((c) => (c.includes("-") ? c : Number(c))), ...(d.keyword ? { keyword: d.keyword } : {}) };
    }
    case "dns":
      return { record_type: d.recordType, ...(d.resolver.trim() ? { resolver: d.resolver.trim() } : {}) };
    case "icmp":
      return { count: Number(d.count) };
    case "push":
      return { grace_seconds: Number(d.grace) };
    default:
      return {};
  }
}

/** A cron schedule at about the monitor's interval: every few minutes, hours, or daily at 03:00. */
export function scheduleFor(intervalSeconds: number): string {
  if (intervalSeconds < 3600) return `*/${Math.max(1, Math.floor(intervalSeconds / 60))} * * * *`;
  if (intervalSeconds < 86_400) return `0 */${Math.floor(intervalSeconds / 3600)} * * *`;
  return "0 3 * * *";
}

/** The cron line a push monitor's job runs: signals its start, then its exit code. */
export function cronLine(origin: string, pushPath: string, intervalSeconds: number, command = "/usr/local/bin/your-job.sh"): string {
  const url = origin.replace(/\/$/, "") + pushPath;
  return `${scheduleFor(intervalSeconds)} curl -fsS -m 10 --retry 3 ${url}/start; ${command}; curl -fsS -m 10 --retry 3 ${url}/$?`;
}
