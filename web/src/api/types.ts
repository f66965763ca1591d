// Every answer the UI reads, as decoders; the TypeScript types are derived from them.
import { array, bool, nullable, num, obj, optional, record, str, unknownValue } from "./decode";

export const settingDecoder = obj({
  config: obj({
    site_name: optional(str, "Heron"),
    language: optional(str, "en"),
    custom_code: optional(str, ""),
    custom_code_dashboard: optional(str, ""),
    install_host: optional(str, ""),
    force_auth: optional(bool, false),
  }),
  tsdb_enabled: bool,
  version: optional(str, ""),
});
export type Setting = ReturnType<typeof settingDecoder>;

export const userDecoder = obj({
  id: num,
  username: str,
  role: str,
  nickname: str,
  email: str,
  phone: str,
  created_at: str,
  last_active: nullable(str),
  password_change_required: optional(bool, false),
});
export type User = ReturnType<typeof userDecoder>;

export const loginDecoder = obj({ token: str, expire: str });

export const tokenDecoder = obj({
  id: num,
  user_id: num,
  username: str,
  note: str,
  hint: str,
  created_at: str,
  expires_at: nullable(str),
  last_used_at: nullable(str),
});
export type Token = ReturnType<typeof tokenDecoder>;
export const tokenCreatedDecoder = obj({ id: num, note: str, token: str });

export const apiKeyDecoder = obj({
  id: num,
  user_id: num,
  username: str,
  description: str,
  hint: str,
  created_at: str,
  last_used_at: nullable(str),
});
export type ApiKey = ReturnType<typeof apiKeyDecoder>;
export const apiKeyCreatedDecoder = obj({ id: num, description: str, key: str, qr_code: str });
export type ApiKeyCreated = ReturnType<typeof apiKeyCreatedDecoder>;

const hostDecoder = obj({
  platform: optional(str, ""),
  platform_version: optional(str, ""),
  cpu: optional(array(str), []),
  mem_total: optional(num, 0),
  disk_total: optional(num, 0),
  swap_total: optional(num, 0),
  arch: optional(str, ""),
  virtualization: optional(str, ""),
  boot_time: optional(num, 0),
  version: optional(str, ""),
});
export type Host = ReturnType<typeof hostDecoder>;

const stateDecoder = obj({
  cpu: num,
  mem_used: num,
  swap_used: num,
  disk_used: num,
  net_in_transfer: num,
  net_out_transfer: num,
  net_in_speed: num,
  net_out_speed: num,
  uptime: num,
  load_1: num,
  load_5: num,
  load_15: num,
  tcp_conn_count: num,
  udp_conn_count: num,
  process_count: num,
});
export type State = ReturnType<typeof stateDecoder>;

export const serverDecoder = obj({
  id: num,
  name: str,
  note: optional(str, ""),
  public_note: str,
  display_index: num,
  hide_for_guest: bool,
  host: hostDecoder,
  state: stateDecoder,
  last_active: str,
  online: bool,
  source: optional(str, ""),
  labels: optional(record(unknownValue), {}),
  created_at: optional(str, ""),
});
export type Server = ReturnType<typeof serverDecoder>;
export const serverWithSecretDecoder = obj({ id: num, name: str, secret: str });

export const streamServerDecoder = obj({
  id: num,
  name: str,
  public_note: str,
  display_index: num,
  host: hostDecoder,
  state: stateDecoder,
  last_active: str,
  online: bool,
});
export type StreamServer = ReturnType<typeof streamServerDecoder>;
export const frameDecoder = obj({ now: num, online: num, servers: array(streamServerDecoder) });
export type Frame = ReturnType<typeof frameDecoder>;

export const groupDecoder = obj({
  group: obj({ id: num, name: str, owner_id: nullable(num) }),
  servers: array(num),
});
export type Group = ReturnType<typeof groupDecoder>;

export const metricsDecoder = obj({
  server_id: num,
  server_name: str,
  metric: str,
  data_points: array(obj({ ts: num, value: num })),
});

export const onlineUserDecoder = obj({
  session_id: num,
  user_id: num,
  username: str,
  ip: str,
  user_agent: str,
  connected_at: str,
  last_active: str,
  expire: str,
});
export type OnlineUser = ReturnType<typeof onlineUserDecoder>;

export const wafDecoder = obj({
  ip: str,
  block_identifier: num,
  block_reason: num,
  block_timestamp: num,
  count: num,
  blocked_until: nullable(str),
});
export type WafEntry = ReturnType<typeof wafDecoder>;

export const statusPageDecoder = obj({
  id: num,
  slug: str,
  title: str,
  description: str,
  servers: array(num),
  url: str,
  updated_at: str,
});
export type StatusPage = ReturnType<typeof statusPageDecoder>;
