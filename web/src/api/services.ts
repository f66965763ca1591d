// Monitors (Nezha v1's service API with Heron's additions): list, state, history, incidents, changes.
import { api } from "./client";
import { array, bool, nullable, num, obj, optional, record, str, unknownValue } from "./decode";

export const monitorDecoder = obj({
  id: num,
  name: str,
  type: num,
  kind: str,
  target: str,
  duration: num,
  timeout: num,
  retries: num,
  cover: num,
  skip_servers: record(bool),
  heron_vantage: str,
  max_latency: num,
  hide_for_guest: bool,
  enabled: bool,
  display_index: num,
  notification_group_id: optional(num, 0),
  options: record(unknownValue),
  push_url: nullable(str),
  created_at: str,
});
export type Monitor = ReturnType<typeof monitorDecoder>;

export const overviewDecoder = obj({
  services: record(
    obj({ service_name: str, current_up: num, current_down: num, total_up: num, total_down: num }),
  ),
});

export const dailyDecoder = obj({
  first_day: num,
  days: num,
  services: record(obj({ up: array(num), down: array(num) })),
});
export type Daily = ReturnType<typeof dailyDecoder>;

export const vantageDecoder = obj({
  server_id: num,
  server_name: str,
  state: str,
  since: nullable(num),
  reason: optional(str, ""),
  last_check_at: nullable(num),
  delay: nullable(num),
});
export type Vantage = ReturnType<typeof vantageDecoder>;

export const detailDecoder = (v: unknown, p: string) => {
  const monitor = monitorDecoder(v, p);
  const extra = obj({ states: array(vantageDecoder), uptime: record(nullable(num)) })(v, p);
  return { ...monitor, ...extra };
};

export const historyDecoder = obj({
  servers: array(
    obj({
      server_id: num,
      server_name: str,
      stats: obj({
        avg_delay: num,
        up_percent: num,
        data_points: array(obj({ ts: num, delay: num, status: num })),
      }),
    }),
  ),
});
export type ServiceHistory = ReturnType<typeof historyDecoder>;

export const eventDecoder = obj({ at: num, server_id: num, server_name: str, previous: str, state: str, reason: str });
export type StateChange = ReturnType<typeof eventDecoder>;

export type Period = "1d" | "7d" | "30d";

export const listMonitors = (signal?: AbortSignal) => api("GET", "/api/v1/service/list", array(monitorDecoder), { signal });
export const getOverview = (signal?: AbortSignal) => api("GET", "/api/v1/service", overviewDecoder, { signal });
export const getDaily = (signal?: AbortSignal) => api("GET", "/api/v1/service/daily", dailyDecoder, { query: { days: 90 }, signal });
export const getMonitor = (id: number, signal?: AbortSignal) => api("GET", `/api/v1/service/${id}`, detailDecoder, { signal });
export const getVantages = (id: number, signal?: AbortSignal) =>
  api("GET", `/api/v1/service/${id}/server`, array(vantageDecoder), { signal });
export const getHistory = (id: number, period: Period, signal?: AbortSignal) =>
  api("GET", `/api/v1/service/${id}/history`, historyDecoder, { query: { period }, signal });
export const getStateChanges = (id: number, signal?: AbortSignal) =>
  api("GET", `/api/v1/service/${id}/event`, array(eventDecoder), { query: { limit: 20 }, signal });

/** What the create and change forms send (Nezha's ServiceForm with Heron's fields). */
export interface MonitorForm {
  name: string;
  type: string;
  target?: string;
  duration: number;
  timeout: number;
  retries: number;
  max_latency: number;
  heron_vantage: string;
  hide_for_guest: boolean;
  enabled: boolean;
  notification_group_id: number;
  options: Record<string, unknown>;
}
export const createMonitor = (form: MonitorForm) => api("POST", "/api/v1/service", num, { body: form });
export const updateMonitor = (id: number, form: MonitorForm) => api("PATCH", `/api/v1/service/${id}`, unknownValue, { body: form });
export const deleteMonitors = (ids: number[]) => api("POST", "/api/v1/batch-delete/service", unknownValue, { body: ids });
