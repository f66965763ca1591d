// Alerting: events (firing and history), rules with a preview, silences, maintenance windows,
// notification methods and groups.
import { api } from "./client";
import { array, bool, nullable, num, obj, optional, page, record, str, unknownValue } from "./decode";

export const alertEventDecoder = obj({
  id: num,
  rule_id: nullable(num),
  rule_name: str,
  rule_kind: str,
  state: str,
  severity: str,
  labels: record(str),
  annotations: record(str),
  server_id: nullable(num),
  value: nullable(num),
  started_at: nullable(str),
  fired_at: nullable(str),
  resolved_at: nullable(str),
  silenced: bool,
  flapping: bool,
  acked_by: nullable(str),
  acked_at: nullable(str),
});
export type AlertEvent = ReturnType<typeof alertEventDecoder>;

const conditionDecoder = obj({
  type: str,
  min: num,
  max: num,
  duration: num,
  cover: num,
  ignore: optional(record(bool), {}),
  cycle_start: optional(str, ""),
  cycle_interval: optional(num, 0),
  cycle_unit: optional(str, ""),
});
export type Condition = ReturnType<typeof conditionDecoder>;

export const ruleDecoder = obj({
  id: num,
  name: str,
  kind: str,
  enable: bool,
  trigger_mode: num,
  notification_group_id: num,
  severity: str,
  rules: optional(array(conditionDecoder), []),
  query: optional(str, ""),
  threshold: optional(str, ""),
  expr: optional(str, ""),
  database: optional(str, "public"),
  interval_seconds: optional(num, 30),
  for_seconds: optional(num, 0),
  keep_firing_for_seconds: optional(num, 0),
  labels: optional(record(str), {}),
  annotations: optional(record(str), {}),
  fail_trigger_tasks: optional(array(num), []),
  recover_trigger_tasks: optional(array(num), []),
  status: obj({ state: str, message: str, last_eval_at: nullable(str), active: num }),
});
export type Rule = ReturnType<typeof ruleDecoder>;

export const previewDecoder = obj({
  kind: str,
  checked: num,
  count: num,
  matches: array(obj({ server_id: nullable(num), labels: record(str), value: nullable(num), message: str })),
});
export type Preview = ReturnType<typeof previewDecoder>;

export const silenceDecoder = obj({
  id: num,
  matchers: array(obj({ name: str, op: str, value: str })),
  starts_at: str,
  ends_at: str,
  comment: str,
  created_by: str,
  state: str,
});
export type Silence = ReturnType<typeof silenceDecoder>;

export const windowDecoder = obj({
  id: num,
  name: str,
  cron: str,
  duration_seconds: num,
  timezone: str,
  server_ids: array(num),
  enabled: bool,
  comment: str,
  active: bool,
});
export type Window = ReturnType<typeof windowDecoder>;

export const methodDecoder = obj({ id: num, name: str, kind: str, url: optional(str, "") });
export type Method = ReturnType<typeof methodDecoder>;

export const groupDecoder = obj({
  group: obj({ id: num, name: str, repeat_interval_seconds: num }),
  notifications: array(num),
});
export type Group = ReturnType<typeof groupDecoder>;

export const testAnswerDecoder = obj({ delivered: bool, status_code: nullable(num), response: optional(str, "") });
export type TestAnswer = ReturnType<typeof testAnswerDecoder>;

export const listEvents = (state: "active" | "", offset: number, signal?: AbortSignal) =>
  api("GET", "/api/v1/alert-event", page(alertEventDecoder), { query: { state: state || undefined, offset, limit: 50 }, signal });
export const acknowledge = (ids: number[]) => api("POST", "/api/v1/alert-event/ack", num, { body: ids });

export const listRules = (signal?: AbortSignal, id?: number) =>
  api("GET", "/api/v1/alert-rule", array(ruleDecoder), { query: { id }, signal });
export const createRule = (form: Record<string, unknown>) => api("POST", "/api/v1/alert-rule", num, { body: form });
export const updateRule = (id: number, form: Record<string, unknown>) =>
  api("PATCH", `/api/v1/alert-rule/${id}`, unknownValue, { body: form });
export const deleteRules = (ids: number[]) => api("POST", "/api/v1/batch-delete/alert-rule", unknownValue, { body: ids });
export const previewRule = (form: Record<string, unknown>, signal?: AbortSignal) =>
  api("POST", "/api/v1/alert-rule/preview", previewDecoder, { body: form, signal });

export const listSilences = (signal?: AbortSignal) => api("GET", "/api/v1/silence", array(silenceDecoder), { signal });
export const createSilence = (form: Record<string, unknown>) => api("POST", "/api/v1/silence", num, { body: form });
export const deleteSilences = (ids: number[]) => api("POST", "/api/v1/batch-delete/silence", unknownValue, { body: ids });

export const listWindows = (signal?: AbortSignal) => api("GET", "/api/v1/maintenance-window", array(windowDecoder), { signal });
export const createWindow = (form: Record<string, unknown>) => api("POST", "/api/v1/maintenance-window", num, { body: form });
export const deleteWindows = (ids: number[]) =>
  api("POST", "/api/v1/batch-delete/maintenance-window", unknownValue, { body: ids });

export const listMethods = (signal?: AbortSignal) => api("GET", "/api/v1/notification", array(methodDecoder), { signal });
export const createMethod = (form: Record<string, unknown>) => api("POST", "/api/v1/notification", num, { body: form });
export const deleteMethods = (ids: number[]) => api("POST", "/api/v1/batch-delete/notification", unknownValue, { body: ids });
export const testMethod = (id: number) => api("POST", `/api/v1/notification/${id}/test`, testAnswerDecoder);

export const listGroups = (signal?: AbortSignal) => api("GET", "/api/v1/notification-group", array(groupDecoder), { signal });
export const createGroup = (form: Record<string, unknown>) => api("POST", "/api/v1/notification-group", num, { body: form });
export const deleteGroups = (ids: number[]) =>
  api("POST", "/api/v1/batch-delete/notification-group", unknownValue, { body: ids });
