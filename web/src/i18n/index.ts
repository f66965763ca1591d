// Words of the UI in English and Simplified Chinese. The language is the user's choice (kept in
// the browser), else the browser's first language Heron speaks, else the site's setting.
import { en } from "./en";
import { zhCN } from "./zh-CN";

export type Key = keyof typeof en;
export type Language = "en" | "zh-CN";
export const LANGUAGES: { code: Language; name: string }[] = [
  { code: "en", name: "English" },
  { code: "zh-CN", name: "简体中文" },
];

const DICTIONARIES: Record<Language, Record<Key, string>> = { en, "zh-CN": zhCN };
const KEY = "heron.language";
let current: Language = "en";

function known(tag: string | null | undefined): Language | null {
  const lower = (tag ?? "").toLowerCase();
  if (lower.startsWith("zh")) return "zh-CN";
  if (lower.startsWith("en")) return "en";
  return null;
}

export function pickLanguage(siteLanguage: string): Language {
  const chosen = known(localStorage.getItem(KEY));
  if (chosen) return chosen;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const found = known(tag);
    if (found) return found;
  }
  return known(siteLanguage) ?? "en";
}

export function setLanguage(language: Language, remember = false): void {
  current = language;
  document.documentElement.lang = language;
  if (remember) localStorage.setItem(KEY, language);
}

/** The text of `key` in the current language, with `{name}` filled from `vars`. */
export function t(key: Key, vars?: Record<string, string | number>): string {
  const text = DICTIONARIES[current][key] ?? en[key];
  return vars ? text.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`)) : text;
}
