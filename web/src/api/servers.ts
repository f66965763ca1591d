// Servers, their groups, history, and the live stream.
import { api } from "./client";
import { array, num, unknownValue } from "./decode";
import { frameDecoder, Frame, groupDecoder, metricsDecoder, serverDecoder, serverWithSecretDecoder } from "./types";

export const listServers = (signal?: AbortSignal) => api("GET", "/api/v1/server", array(serverDecoder), { signal });

export interface ServerForm {
  name?: string;
  note?: string;
  public_note?: string;
  display_index?: number;
  hide_for_guest?: boolean;
  server_groups?: number[];
}
export const createServer = (form: ServerForm) => api("POST", "/api/v1/server", serverWithSecretDecoder, { body: form });
export const updateServer = (id: number, form: ServerForm) =>
  api("PATCH", `/api/v1/server/${id}`, serverDecoder, { body: form });
export const replaceSecret = (id: number) => api("POST", `/api/v1/server/${id}/secret`, serverWithSecretDecoder);
export const deleteServers = (ids: number[]) => api("POST", "/api/v1/batch-delete/server", array(num), { body: ids });

export const listGroups = (signal?: AbortSignal) => api("GET", "/api/v1/server-group", array(groupDecoder), { signal });
export const createGroup = (name: string, servers: number[]) =>
  api("POST", "/api/v1/server-group", num, { body: { name, servers } });
export const updateGroup = (id: number, change: { name?: string; servers?: number[] }) =>
  api("PATCH", `/api/v1/server-group/${id}`, groupDecoder, { body: change });
export const deleteGroups = (ids: number[]) => api("POST", "/api/v1/batch-delete/server-group", unknownValue, { body: ids });

export type Period = "1d" | "7d" | "30d";
export const getMetrics = (id: number, metric: string, period: Period, signal?: AbortSignal) =>
  api("GET", `/api/v1/server/${id}/metrics`, metricsDecoder, { query: { metric, period }, signal });

export interface StreamHandlers {
  onFrame(frame: Frame): void;
  onState(connected: boolean): void;
}

/** Follows `/api/v1/ws/server`, reconnecting with backoff; returns a function that closes it. */
export function followServers(handlers: StreamHandlers): () => void {
  let socket: WebSocket | null = null;
  let closed = false;
  let delay = 1000;
  let timer: number | undefined;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/api/v1/ws/server`);
    socket.onopen = () => {
      delay = 1000;
      handlers.onState(true);
    };
    socket.onmessage = (event) => {
      try {
        handlers.onFrame(frameDecoder(JSON.parse(String(event.data)), "frame"));
      } catch (err) {
        console.error(err);
      }
    };
    socket.onclose = () => {
      handlers.onState(false);
      if (closed) return;
      timer = window.setTimeout(open, delay);
      delay = Math.min(delay * 2, 30000);
    };
  };
  open();
  return () => {
    closed = true;
    window.clearTimeout(timer);
    socket?.close();
  };
}
