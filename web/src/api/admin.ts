// What admins manage: users, site settings, the WAF, login sessions and status pages.
import { api } from "./client";
import { array, num, page, unknownValue } from "./decode";
import { onlineUserDecoder, settingDecoder, statusPageDecoder, userDecoder, wafDecoder } from "./types";

const LIST = { offset: 0, limit: 1000 };

export const listUsers = (signal?: AbortSignal) => api("GET", "/api/v1/user", page(userDecoder), { query: LIST, signal });
export interface UserForm {
  username?: string;
  password?: string;
  role?: "admin" | "member";
  nickname?: string;
  email?: string;
}
export const createUser = (form: UserForm) => api("POST", "/api/v1/user", userDecoder, { body: form });
export const updateUser = (id: number, form: UserForm) => api("PATCH", `/api/v1/user/${id}`, userDecoder, { body: form });
export const deleteUser = (id: number) => api("DELETE", `/api/v1/user/${id}`, unknownValue);

export interface SettingForm {
  site_name?: string;
  language?: string;
  install_host?: string;
  custom_code?: string;
  force_auth?: boolean;
}
export const updateSetting = (form: SettingForm) => api("PATCH", "/api/v1/setting", settingDecoder, { body: form });

export const listWaf = (signal?: AbortSignal) => api("GET", "/api/v1/waf", page(wafDecoder), { query: LIST, signal });
export const liftBans = (ips: string[]) => api("POST", "/api/v1/batch-delete/waf", num, { body: ips });

export const listOnline = (signal?: AbortSignal) =>
  api("GET", "/api/v1/online-user", page(onlineUserDecoder), { query: LIST, signal });
export const blockAddresses = (ips: string[]) => api("POST", "/api/v1/online-user/batch-block", num, { body: ips });

export const listStatusPages = (signal?: AbortSignal) =>
  api("GET", "/api/v1/status-page", array(statusPageDecoder), { signal });
export interface StatusPageForm {
  slug: string;
  title: string;
  description: string;
  servers: number[];
}
export const createStatusPage = (form: StatusPageForm) =>
  api("POST", "/api/v1/status-page", statusPageDecoder, { body: form });
export const updateStatusPage = (id: number, form: Partial<StatusPageForm>) =>
  api("PATCH", `/api/v1/status-page/${id}`, statusPageDecoder, { body: form });
export const deleteStatusPages = (ids: number[]) =>
  api("POST", "/api/v1/batch-delete/status-page", array(num), { body: ids });
