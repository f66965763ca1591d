// SQL over POST /api/v1/sql (CnosDB's endpoint): JSON rows for the UI, CSV for downloads.
import { call } from "./client";

export type Row = Record<string, unknown>;

export async function runSql(sql: string, db: string, signal?: AbortSignal): Promise<Row[]> {
  const response = await call("POST", "/api/v1/sql", { text: sql, query: { db }, signal });
  const text = await response.text();
  if (!text.trim()) return [];
  const rows: unknown = JSON.parse(text);
  if (!Array.isArray(rows)) throw new Error("unexpected answer from /api/v1/sql: not a list of rows");
  return rows as Row[];
}

export async function runSqlCsv(sql: string, db: string): Promise<Blob> {
  const response = await call("POST", "/api/v1/sql", { text: sql, query: { db }, accept: "text/csv" });
  return response.blob();
}

/** Quotes a name for SQL when it is not a plain identifier. */
export function ident(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
