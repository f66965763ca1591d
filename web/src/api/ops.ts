// Remote operations (docs/operations.md): cron tasks and their runs, terminal and file-manager
// sessions, file transfers with progress, DDNS and NAT profiles, the agent's settings, the audit log.
import { api, call, cookie, url } from "./client";
import { array, bool, nullable, num, obj, optional, page, record, str, unknownValue } from "./decode";

export const cronDecoder = obj({
  id: num,
  user_id: num,
  name: str,
  task_type: num,
  scheduler: str,
  command: str,
  servers: array(num),
  cover: num,
  push_successful: bool,
  notification_group_id: num,
  last_executed_at: nullable(str),
  last_result: nullable(bool),
});
export type Cron = ReturnType<typeof cronDecoder>;

export const cronRunDecoder = obj({
  id: num,
  server_id: nullable(num),
  server_name: optional(str, ""),
  trigger: str,
  status: str,
  exit_code: nullable(num),
  output: optional(str, ""),
  truncated: optional(bool, false),
  error: optional(str, ""),
  started_at: nullable(str),
  duration_ms: nullable(num),
});
export type CronRun = ReturnType<typeof cronRunDecoder>;

export const ddnsDecoder = obj({
  id: num,
  name: str,
  provider: str,
  enable_ipv4: bool,
  enable_ipv6: bool,
  max_retries: num,
  domains: array(str),
  access_id: optional(str, ""),
  access_secret: optional(str, ""),
  webhook_url: optional(str, ""),
  webhook_method: optional(num, 1),
  webhook_request_type: optional(num, 1),
  webhook_request_body: optional(str, ""),
  webhook_headers: optional(str, ""),
  dns_server: optional(str, ""),
  zone: optional(str, ""),
  tsig_algorithm: optional(str, "hmac-sha256"),
});
export type Ddns = ReturnType<typeof ddnsDecoder>;

export const natDecoder = obj({ id: num, name: str, enabled: bool, server_id: num, host: str, domain: str });
export type Nat = ReturnType<typeof natDecoder>;

export const auditDecoder = obj({
  id: num,
  at: str,
  user_id: nullable(num),
  username: optional(str, ""),
  via: optional(str, ""),
  ip: optional(str, ""),
  server_id: nullable(num),
  action: str,
  target: optional(str, ""),
  outcome: str,
  detail: optional(record(unknownValue), {}),
});
export type Audit = ReturnType<typeof auditDecoder>;

const agentConfigDecoder = obj({ allow: array(str), files_roots: optional(array(str), []) });
export type AgentConfig = ReturnType<typeof agentConfigDecoder>;

const ALL = { offset: 0, limit: 1000 };

export interface CronForm {
  name: string;
  task_type: number;
  scheduler: string;
  command: string;
  servers: number[];
  cover: number;
  push_successful: boolean;
  notification_group_id: number;
}
export const listCron = (signal?: AbortSignal) => api("GET", "/api/v1/cron", page(cronDecoder), { query: ALL, signal });
export const createCron = (form: CronForm) => api("POST", "/api/v1/cron", num, { body: form });
export const updateCron = (id: number, form: CronForm) => api("PATCH", `/api/v1/cron/${id}`, unknownValue, { body: form });
export const runCron = (id: number) => api("POST", `/api/v1/cron/${id}/manual`, unknownValue);
export const deleteCron = (ids: number[]) => api("POST", "/api/v1/batch-delete/cron", unknownValue, { body: ids });
export const listCronRuns = (id: number, offset: number, limit: number, signal?: AbortSignal) =>
  api("GET", `/api/v1/cron/${id}/runs`, page(cronRunDecoder), { query: { offset, limit }, signal });

/** What the server's agent allows (`exec`, `terminal`, `files`, `nat`); its owner sets it on the server. */
export async function agentConfig(serverId: number, signal?: AbortSignal): Promise<AgentConfig> {
  const text = await api("GET", `/api/v1/server/config/${serverId}`, str, { signal });
  return agentConfigDecoder(JSON.parse(text), "data");
}

const sessionDecoder = obj({ session_id: str });
export const openTerminal = (serverId: number) =>
  api("POST", "/api/v1/terminal", sessionDecoder, { body: { server_id: serverId } });
export const openFileSession = (serverId: number) =>
  api("POST", "/api/v1/file", sessionDecoder, { query: { id: serverId } });

/** The WebSocket address of a session (same origin: the login cookie authenticates it). */
export function socketUrl(kind: "terminal" | "file", sessionId: string): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/v1/ws/${kind}/${encodeURIComponent(sessionId)}`;
}

export type Progress = (done: number, total: number) => void;

/** Downloads a file from the server's agent, reporting bytes as they arrive. */
export async function downloadFile(serverId: number, path: string, onProgress: Progress, signal?: AbortSignal): Promise<Blob> {
  const response = await call("GET", `/api/v1/server/${serverId}/file`, { query: { path }, accept: "application/octet-stream", signal });
  const total = Number(response.headers.get("Content-Length") ?? 0);
  const reader = response.body?.getReader();
  if (!reader) return response.blob();
  const parts: Uint8Array[] = [];
  let done = 0;
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    parts.push(chunk.value);
    done += chunk.value.length;
    onProgress(done, total);
  }
  return new Blob(parts as BlobPart[]);
}

/** Uploads a file to the server's agent; XMLHttpRequest, since fetch reports no upload progress. */
export function uploadFile(serverId: number, path: string, file: Blob, onProgress: Progress): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url(`/api/v1/server/${serverId}/file`, { path }));
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.setRequestHeader("X-CSRF-Token", cookie("heron_csrf"));
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.total || file.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let message = `${xhr.status} ${xhr.statusText}`;
      try {
        message = JSON.parse(xhr.responseText).error ?? message;
      } catch {
        // not JSON: keep the status line
      }
      reject(new Error(message));
    };
    xhr.onerror = () => reject(new Error("the upload was cut off"));
    xhr.send(file);
  });
}

export type DdnsForm = Omit<Ddns, "id">;
export const listDdnsProviders = (signal?: AbortSignal) => api("GET", "/api/v1/ddns/providers", array(str), { signal });
export const listDdns = (signal?: AbortSignal) => api("GET", "/api/v1/ddns", page(ddnsDecoder), { query: ALL, signal });
export const createDdns = (form: DdnsForm) => api("POST", "/api/v1/ddns", num, { body: form });
export const updateDdns = (id: number, form: DdnsForm) => api("PATCH", `/api/v1/ddns/${id}`, unknownValue, { body: form });
export const deleteDdns = (ids: number[]) => api("POST", "/api/v1/batch-delete/ddns", unknownValue, { body: ids });

export type NatForm = Omit<Nat, "id">;
export const listNat = (signal?: AbortSignal) => api("GET", "/api/v1/nat", page(natDecoder), { query: ALL, signal });
export const createNat = (form: NatForm) => api("POST", "/api/v1/nat", num, { body: form });
export const updateNat = (id: number, form: NatForm) => api("PATCH", `/api/v1/nat/${id}`, unknownValue, { body: form });
export const deleteNat = (ids: number[]) => api("POST", "/api/v1/batch-delete/nat", unknownValue, { body: ids });

export interface AuditFilter {
  action?: string;
  outcome?: string;
  user_id?: number;
  server_id?: number;
  since?: string;
  until?: string;
}
export const listAudit = (filter: AuditFilter, offset: number, limit: number, signal?: AbortSignal) =>
  api("GET", "/api/v1/audit", page(auditDecoder), { query: { ...filter, offset, limit }, signal });
