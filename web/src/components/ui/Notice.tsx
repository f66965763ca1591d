import { ComponentChildren } from "preact";

/** An error (role=alert, read out at once) or a neutral note. */
export function Notice({ kind = "error", children }: { kind?: "error" | "info" | "ok"; children: ComponentChildren }) {
  if (!children) return null;
  return (
    <p class={`notice notice-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </p>
  );
}

/** What an empty list says: what this is, and what to do next. */
export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <h2 class="empty-title">{title}</h2>
      {children}
    </div>
  );
}

export function Loading({ label }: { label: string }) {
  return (
    <p class="loading" role="status">
      <span class="spinner" aria-hidden="true" /> {label}
    </p>
  );
}
