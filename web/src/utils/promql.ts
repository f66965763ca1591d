// PromQL in the editor: what to complete at the caret (a metric, a label name, a label's value),
// and a query's answer as chart data, table rows and CSV.
export const PROMQL_FUNCTIONS = [
  "abs", "absent", "avg_over_time", "ceil", "changes", "clamp_max", "clamp_min", "count_over_time", "delta", "deriv",
  "floor", "histogram_quantile", "idelta", "increase", "irate", "label_replace", "max_over_time", "min_over_time",
  "predict_linear", "rate", "resets", "round", "sort", "sort_desc", "sum_over_time", "time", "timestamp", "vector",
];
export const PROMQL_AGGREGATIONS = ["avg", "bottomk", "count", "count_values", "group", "max", "min", "quantile", "stddev", "stdvar", "sum", "topk"];

export type Want =
  | { kind: "metric"; word: string; start: number }
  | { kind: "label"; word: string; start: number; metric: string }
  | { kind: "value"; word: string; start: number; metric: string; label: string };

/** What the word before `caret` is: a metric (or function), a label name inside {...}, or a value in quotes. */
export function wantAt(text: string, caret: number): Want {
  const before = text.slice(0, caret);
  const open = before.lastIndexOf("{");
  const inBraces = open > before.lastIndexOf("}");
  const metric = inBraces ? (/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/.exec(before.slice(0, open))?.[1] ?? "") : "";
  if (inBraces) {
    const value = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)$/.exec(before);
    if (value) return { kind: "value", word: value[3], start: caret - value[3].length, metric, label: value[1] };
    const label = /([a-zA-Z_][a-zA-Z0-9_]*)?$/.exec(before)?.[1] ?? "";
    return { kind: "label", word: label, start: caret - label.length, metric };
  }
  const word = /([a-zA-Z_:][a-zA-Z0-9_:]*)?$/.exec(before)?.[1] ?? "";
  return { kind: "metric", word, start: caret - word.length };
}

/** Names starting with the word (then containing it), at most `limit`; nothing for an empty word outside braces. */
export function complete(word: string, names: string[], limit = 12): string[] {
  const lower = word.toLowerCase();
  const starts = names.filter((n) => n.toLowerCase().startsWith(lower) && n !== word);
  const contains = lower ? names.filter((n) => !n.toLowerCase().startsWith(lower) && n.toLowerCase().includes(lower)) : [];
  return [...starts, ...contains].slice(0, limit);
}

export interface PromSeries {
  metric: Record<string, string>;
  values?: [number, string][];
  value?: [number, string];
}
export interface PromData {
  resultType: "matrix" | "vector" | "scalar" | "string";
  result: PromSeries[] | [number, string];
}

/** `name{a="1", b="2"}`: how Prometheus writes a series. */
export function seriesName(metric: Record<string, string>): string {
  const { __name__: name = "", ...labels } = metric;
  const inner = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`)
    .join(", ");
  return inner ? `${name}{${inner}}` : name || "{}";
}

function numberOf(text: string): number | null {
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/** A range answer as uPlot's aligned data: the union of timestamps, a column per series (null where absent). */
export function alignMatrix(series: PromSeries[]): { names: string[]; data: (number | null)[][] } {
  const times = Array.from(new Set(series.flatMap((s) => (s.values ?? []).map(([t]) => t)))).sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = series.map((s) => {
    const column: (number | null)[] = new Array(times.length).fill(null);
    for (const [t, v] of s.values ?? []) column[index.get(t)!] = numberOf(v);
    return column;
  });
  return { names: series.map((s) => seriesName(s.metric)), data: [times, ...columns] };
}

/** Table rows: one per series (its last value for a range), or the scalar. */
export function tableRows(data: PromData): { series: string; time: number; value: string }[] {
  if (data.resultType === "scalar" || data.resultType === "string") {
    const [time, value] = data.result as [number, string];
    return [{ series: data.resultType, time, value }];
  }
  return (data.result as PromSeries[]).map((s) => {
    const last = s.value ?? s.values?.[s.values.length - 1] ?? [0, ""];
    return { series: seriesName(s.metric), time: last[0], value: last[1] };
  });
}

function csvCell(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Every point of the answer: series, RFC 3339 time, value. */
export function toCsv(data: PromData): string {
  const lines = ["series,time,value"];
  const add = (series: string, t: number, v: string) => lines.push([csvCell(series), new Date(t * 1000).toISOString(), csvCell(v)].join(","));
  if (data.resultType === "scalar" || data.resultType === "string") {
    const [t, v] = data.result as [number, string];
    add(data.resultType, t, v);
  } else {
    for (const s of data.result as PromSeries[]) {
      const name = seriesName(s.metric);
      if (s.value) add(name, s.value[0], s.value[1]);
      for (const [t, v] of s.values ?? []) add(name, t, v);
    }
  }
  return lines.join("\n") + "\n";
}

/** A step that gives about 300 points over the range, rounded to whole seconds (at least 1). */
export function stepFor(rangeSeconds: number): number {
  return Math.max(1, Math.round(rangeSeconds / 300));
}
