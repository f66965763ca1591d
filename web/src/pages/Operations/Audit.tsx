import { useState } from "preact/hooks";
import { listUsers } from "../../api/admin";
import { AuditFilter, listAudit } from "../../api/ops";
import { Field } from "../../components/ui/Field";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { Pager } from "../../components/ui/Pager";
import { Time } from "../../components/ui/Time";
import { useDebounced, useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";
import { useServers } from "./hooks/useServers";

const LIMIT = 50;
const OUTCOMES = ["ok", "refused", "error", "failed", "missed", "timeout", "offline"];
const FAMILIES = ["cron.", "terminal.", "file.", "nat.", "ddns.", "server.", "mcp.", "maintenance"];

/** A datetime-local value (the viewer's zone) as RFC 3339, or nothing. */
const rfc3339 = (local: string) => (local ? new Date(local).toISOString() : undefined);

function detail(value: Record<string, unknown>): string {
  return Object.entries(value)
    .filter(([, v]) => v !== "" && v !== null)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" ");
}

/** Who did what, from where, on which server, and how it ended; filtered and paged by the server. */
export function AuditTab() {
  const servers = useServers();
  const users = useFetch((signal) => listUsers(signal), []);
  const [action, setAction] = useState("");
  const [outcome, setOutcome] = useState("");
  const [serverId, setServerId] = useState("");
  const [userId, setUserId] = useState("");
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const [offset, setOffset] = useState(0);
  const typed = useDebounced(action, 300);
  const filter: AuditFilter = {
    action: typed || undefined,
    outcome: outcome || undefined,
    server_id: serverId ? Number(serverId) : undefined,
    user_id: userId ? Number(userId) : undefined,
    since: rfc3339(since),
    until: rfc3339(until),
  };
  const records = useFetch((signal) => listAudit(filter, offset, LIMIT, signal), [JSON.stringify(filter), offset]);
  const change = (apply: () => void) => {
    apply();
    setOffset(0);
  };
  const names = new Map((servers.data ?? []).map((s) => [s.id, s.name]));
  const list = records.data?.value ?? [];
  return (
    <div class="stack">
      <h2>{t("ops.audit")}</h2>
      <form class="card row filters" role="search" aria-label={t("ops.audit_filters")} onSubmit={(e) => e.preventDefault()}>
        <Field label={t("ops.audit_action")} hint={t("ops.audit_action_hint")}>
          {(id, hint) => (
            <>
              <input id={id} list="audit-families" aria-describedby={hint} value={action} onInput={(e) => change(() => setAction(e.currentTarget.value))} />
              <datalist id="audit-families">
                {FAMILIES.map((f) => (
                  <option key={f} value={f} />
                ))}
              </datalist>
            </>
          )}
        </Field>
        <Field label={t("ops.audit_outcome")}>
          {(id) => (
            <select id={id} value={outcome} onChange={(e) => change(() => setOutcome(e.currentTarget.value))}>
              <option value="">{t("ops.any")}</option>
              {OUTCOMES.map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("ops.audit_user")}>
          {(id) => (
            <select id={id} value={userId} onChange={(e) => change(() => setUserId(e.currentTarget.value))}>
              <option value="">{t("ops.any")}</option>
              {(users.data?.value ?? []).map((u) => (
                <option key={u.id} value={u.id}>
                  {u.username}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("ops.server")}>
          {(id) => (
            <select id={id} value={serverId} onChange={(e) => change(() => setServerId(e.currentTarget.value))}>
              <option value="">{t("ops.any")}</option>
              {(servers.data ?? []).map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("ops.audit_since")}>{(id) => <input id={id} type="datetime-local" value={since} onInput={(e) => change(() => setSince(e.currentTarget.value))} />}</Field>
        <Field label={t("ops.audit_until")}>{(id) => <input id={id} type="datetime-local" value={until} onInput={(e) => change(() => setUntil(e.currentTarget.value))} />}</Field>
      </form>
      <Notice>{records.error}</Notice>
      {!records.data ? (
        <Loading label={t("common.loading")} />
      ) : !list.length ? (
        <Empty title={t("ops.audit_empty")}>
          <p>{t("ops.audit_empty_hint")}</p>
        </Empty>
      ) : (
        <div class="table-wrap card wide" aria-busy={records.isLoading}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("ops.audit_at")}</th>
                <th scope="col">{t("ops.audit_user")}</th>
                <th scope="col">{t("ops.audit_action")}</th>
                <th scope="col">{t("ops.server")}</th>
                <th scope="col">{t("ops.audit_target")}</th>
                <th scope="col">{t("ops.audit_outcome")}</th>
                <th scope="col">{t("ops.audit_detail")}</th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <tr key={r.id}>
                  <td>
                    <Time value={r.at} />
                  </td>
                  <td>
                    {r.username || "—"} <span class="muted small">{[r.via, r.ip].filter(Boolean).join(", ")}</span>
                  </td>
                  <td>
                    <code>{r.action}</code>
                  </td>
                  <td>{r.server_id === null ? "—" : (names.get(r.server_id) ?? `#${r.server_id}`)}</td>
                  <td>
                    <span class="command">{r.target}</span>
                  </td>
                  <td>
                    <span class={`pill ${r.outcome === "ok" ? "up" : r.outcome === "refused" ? "warn" : "down"}`}>{r.outcome}</span>
                  </td>
                  <td class="small">{detail(r.detail)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {records.data && <Pager offset={offset} limit={LIMIT} total={records.data.pagination.total} onOffset={setOffset} />}
    </div>
  );
}
