// Turning SQL rows into chart data: a time column and the numeric columns beside it.
import type uPlot from "uplot";
import type { Row } from "../api/sql";

const SQL_TIME = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?(Z|[+-]\d\d:?\d\d)?$/i;

/** SQL answers write times as RFC 3339 without a zone, meaning UTC; seconds since the epoch. */
export function parseSqlTime(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const m = SQL_TIME.exec(value);
  if (!m) return null;
  const fraction = m[7] ? Number(`0.${m[7].slice(0, 3)}`) : 0;
  let seconds = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0)) / 1000 + fraction;
  const zone = m[8];
  if (zone && zone.toUpperCase() !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    seconds -= sign * (+digits.slice(0, 2) * 3600 + +digits.slice(2) * 60);
  }
  return Number.isFinite(seconds) ? seconds : null;
}

const digits = (s: string, from: number, to: number): number => {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + s.charCodeAt(i) - 48;
  return n;
};

/**
 * A parser for one column of times: a zone-less `YYYY-MM-DDTHH:MM:SS[.fff…]` (what the SQL
 * endpoint writes) is read digit by digit, with the day's start computed once per day; 86,400
 * rows take a few milliseconds instead of a regular expression each. Anything else goes to
 * parseSqlTime.
 */
export function timeParser(): (value: unknown) => number | null {
  let day = "";
  let dayStart = 0;
  return (value) => {
    const plain =
      typeof value === "string" && value.length >= 19 && value[4] === "-" && value[13] === ":" && value[16] === ":" &&
      (value.length === 19 || value[19] === ".") && /\d$/.test(value);
    if (!plain) {
      return parseSqlTime(value);
    }
    const text = value as string;
    const head = text.slice(0, 10);
    if (head !== day) {
      const start = parseSqlTime(`${head}T00:00:00`);
      if (start === null) return parseSqlTime(text);
      day = head;
      dayStart = start;
    }
    const fraction = text.length > 20 ? digits(text, 20, Math.min(23, text.length)) / 10 ** Math.min(3, text.length - 20) : 0;
    return dayStart + digits(text, 11, 13) * 3600 + digits(text, 14, 16) * 60 + digits(text, 17, 19) + fraction;
  };
}

export interface Plot {
  timeColumn: string;
  columns: string[];
  data: uPlot.AlignedData;
}

/** A chart of the rows when one column holds times and others numbers; otherwise null. */
export function plotOf(rows: Row[]): Plot | null {
  if (!rows.length) return null;
  const names = Object.keys(rows[0]);
  const timeColumn = names.find((n) => parseSqlTime(rows[0][n]) !== null);
  if (!timeColumn) return null;
  const columns = names.filter((n) => n !== timeColumn && rows.some((r) => typeof r[n] === "number"));
  if (!columns.length) return null;
  // One pass into typed columns; rows already in time order (the usual ORDER BY time) are not sorted.
  let times: number[] = [];
  let kept: Row[] = [];
  let sorted = true;
  const read = timeParser();
  for (const row of rows) {
    const at = read(row[timeColumn]);
    if (at === null) continue;
    if (times.length && at < times[times.length - 1]) sorted = false;
    times.push(at);
    kept.push(row);
  }
  if (!sorted) {
    const order = times.map((_, i) => i).sort((a, b) => times[a] - times[b]);
    times = order.map((i) => times[i]);
    kept = order.map((i) => kept[i]);
  }
  const series = columns.map((c) => kept.map((r) => (typeof r[c] === "number" ? (r[c] as number) : null)));
  return { timeColumn, columns, data: [times, ...series] as uPlot.AlignedData };
}

/** The word being typed at `caret`, and where it starts. */
export function wordAt(text: string, caret: number): { word: string; start: number } {
  let start = caret;
  while (start > 0 && /[\w.]/.test(text[start - 1])) start--;
  return { word: text.slice(start, caret), start };
}

export const SQL_WORDS = [
  "SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "LIMIT", "AND", "OR", "NOT", "AS", "DESC", "ASC", "COUNT", "AVG",
  "MIN", "MAX", "SUM", "time_bucket", "date_trunc", "now()", "INTERVAL", "DISTINCT", "HAVING", "SHOW TABLES",
  "SHOW DATABASES", "DESCRIBE TABLE", "DESCRIBE DATABASE",
];

export function suggestions(word: string, names: string[], limit = 8): string[] {
  if (word.length < 1) return [];
  const lower = word.toLowerCase();
  const seen = new Set<string>();
  const out: string[] = [];
  for (const candidate of [...names, ...SQL_WORDS]) {
    if (candidate.toLowerCase().startsWith(lower) && candidate.toLowerCase() !== lower && !seen.has(candidate)) {
      seen.add(candidate);
      out.push(candidate);
      if (out.length >= limit) break;
    }
  }
  return out;
}
