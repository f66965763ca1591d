// The UI's addresses. The server answers index.html for each section (heron/api/web/assets.py,
// UI_SECTIONS; a test compares the two lists). A new area (services, alerts, operations) adds
// its section here, one entry in NAV, and a case in app.tsx.
export const SECTIONS = [
  "login",
  "welcome",
  "servers",
  "services",
  "alerts",
  "explore",
  "operations",
  "profile",
  "admin",
] as const;

export interface NavItem {
  href: string;
  label: "nav.servers" | "nav.services" | "nav.alerts" | "nav.explore" | "nav.operations" | "nav.admin";
  adminOnly?: boolean;
  signedIn?: boolean;
}

export const NAV: NavItem[] = [
  { href: "/servers", label: "nav.servers" },
  { href: "/services", label: "nav.services", signedIn: true },
  { href: "/alerts", label: "nav.alerts", signedIn: true },
  { href: "/explore", label: "nav.explore", signedIn: true },
  { href: "/operations", label: "nav.operations", signedIn: true },
  { href: "/admin", label: "nav.admin", adminOnly: true },
];
