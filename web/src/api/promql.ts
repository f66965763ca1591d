// PromQL over Prometheus' HTTP API (/api/v1/query, /query_range, /labels, /label/{name}/values):
// its own envelope, {status, data} or {status: "error", error}.
import { call } from "./client";
import { array, obj, str, unknownValue } from "./decode";
import type { PromData } from "../utils/promql";

const envelope = obj({ status: str, data: unknownValue });

async function prom(path: string, params: Record<string, string | number>, signal?: AbortSignal): Promise<unknown> {
  const body = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  const response = await call("GET", `${path}?${body}`, { signal });
  const payload = envelope(await response.json(), "answer");
  if (payload.status !== "success") throw new Error(`unexpected answer from ${path}: status ${payload.status}`);
  return payload.data;
}

const dataDecoder = obj({ resultType: str, result: unknownValue });

function promData(value: unknown): PromData {
  const data = dataDecoder(value, "data");
  if (!["matrix", "vector", "scalar", "string"].includes(data.resultType)) throw new Error(`unexpected resultType ${data.resultType}`);
  if (!Array.isArray(data.result)) throw new Error("unexpected answer: data.result should be an array");
  return data as PromData;
}

export const queryInstant = async (query: string, time: number, signal?: AbortSignal) =>
  promData(await prom("/api/v1/query", { query, time }, signal));

export const queryRange = async (query: string, start: number, end: number, step: number, signal?: AbortSignal) =>
  promData(await prom("/api/v1/query_range", { query, start, end, step }, signal));

export const metricNames = async (signal?: AbortSignal) => array(str)(await prom("/api/v1/label/__name__/values", {}, signal), "data");

/** Label names, of the series of `metric` when one is given. */
export const labelNames = async (metric: string, signal?: AbortSignal) =>
  array(str)(await prom("/api/v1/labels", metric ? { "match[]": metric } : {}, signal), "data");

export const labelValues = async (label: string, metric: string, signal?: AbortSignal) =>
  array(str)(await prom(`/api/v1/label/${encodeURIComponent(label)}/values`, metric ? { "match[]": metric } : {}, signal), "data");
