// Logging in and out, the caller's profile, tokens and API keys.
import { api } from "./client";
import { array, num, page, unknownValue } from "./decode";
import {
  apiKeyCreatedDecoder,
  apiKeyDecoder,
  loginDecoder,
  settingDecoder,
  tokenCreatedDecoder,
  tokenDecoder,
  userDecoder,
} from "./types";

export const getSetting = (signal?: AbortSignal) => api("GET", "/api/v1/setting", settingDecoder, { signal });
export const login = (username: string, password: string) =>
  api("POST", "/api/v1/login", loginDecoder, { body: { username, password } });
export const logout = () => api("POST", "/api/v1/logout", unknownValue);
export const getProfile = (signal?: AbortSignal) => api("GET", "/api/v1/profile", userDecoder, { signal });

export interface ProfileChange {
  nickname?: string;
  email?: string;
  original_password?: string;
  new_password?: string;
}
export const updateProfile = (change: ProfileChange) => api("PATCH", "/api/v1/profile", userDecoder, { body: change });

const LIST = { offset: 0, limit: 1000 };
export const listTokens = (signal?: AbortSignal) =>
  api("GET", "/api/v1/token", page(tokenDecoder), { query: LIST, signal });
export const createToken = (note: string, expires_at: string | null) =>
  api("POST", "/api/v1/token", tokenCreatedDecoder, { body: { note, expires_at } });
export const deleteToken = (id: number) => api("DELETE", `/api/v1/token/${id}`, unknownValue);

export const listApiKeys = (signal?: AbortSignal) =>
  api("GET", "/api/v1/apikey", page(apiKeyDecoder), { query: LIST, signal });
export const createApiKey = (description: string) =>
  api("POST", "/api/v1/apikey", apiKeyCreatedDecoder, { body: { description } });
export const regenerateApiKey = (id: number) => api("POST", `/api/v1/apikey/${id}/regenerate`, apiKeyCreatedDecoder);
export const deleteApiKey = (id: number) => api("DELETE", `/api/v1/apikey/${id}`, unknownValue);

export const ids = array(num);
