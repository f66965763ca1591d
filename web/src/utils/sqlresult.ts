// Turning SQL rows into chart data: a time column and the numeric columns beside it.
import type uPlot from "uplot";
import type { Row } from "../api/sql";

/** SQL answers write times as RFC 3339 without a zone, meaning UTC. */
export function parseSqlTime(value: unknown): number | null {
  if (typeof value !== "string" || !/^\d{4}-\d\d-\d\d[T ]\d\d:\d\d/.test(value)) return null;
  const text = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.replace(" ", "T")}Z`;
  const ms = Date.parse(text.replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(ms) ? null : ms / 1000;
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
  const ordered = rows
    .map((r) => ({ at: parseSqlTime(r[timeColumn]), row: r }))
    .filter((x): x is { at: number; row: Row } => x.at !== null)
    .sort((a, b) => a.at - b.at);
  const data: uPlot.AlignedData = [
    ordered.map((x) => x.at),
    ...columns.map((c) => ordered.map((x) => (typeof x.row[c] === "number" ? (x.row[c] as number) : null))),
  ];
  return { timeColumn, columns, data };
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
