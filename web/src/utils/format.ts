// Numbers as people read them: bytes, speeds, percentages, durations.
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(value: number, digits = 1): string {
  if (!Number.isFinite(value) || value <= 0) return "0 B";
  const exp = Math.min(UNITS.length - 1, Math.floor(Math.log(value) / Math.log(1024)));
  const scaled = value / 1024 ** exp;
  return `${exp === 0 ? Math.round(scaled) : scaled.toFixed(digits)} ${UNITS[exp]}`;
}

export const speed = (value: number): string => `${bytes(value)}/s`;

export function percent(used: number, total: number): number {
  return total > 0 ? Math.min(100, Math.max(0, (100 * used) / total)) : 0;
}

/** A percentage; `step` (the distance between axis ticks) asks for as many decimals as tell ticks apart. */
export function pct(value: number, step?: number): string {
  const digits = step !== undefined ? (step >= 1 ? 0 : step >= 0.1 ? 1 : 2) : value >= 10 ? 0 : 1;
  return `${value.toFixed(digits)}%`;
}

/** "3d 4h", "5h 2m", "42s" */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return "—";
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m`;
  return `${Math.floor(seconds)}s`;
}

/** Go's zero time means "never". */
export function parseTime(value: string | null | undefined): Date | null {
  if (!value || value.startsWith("0001-")) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function localTime(date: Date): string {
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function utcTime(date: Date): string {
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}
