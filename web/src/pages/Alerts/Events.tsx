// Alerts firing now (pending and firing), or every alert, newest first; acknowledge one or many.
import { useState } from "preact/hooks";
import { acknowledge, listEvents } from "../../api/alerts";
import { Button } from "../../components/ui/Button";
import { Link } from "../../components/ui/Link";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { Time } from "../../components/ui/Time";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { Key, t } from "../../i18n";
import { useEvery } from "../Services/hooks";

const REFRESH_MS = 5_000;
const PAGE = 50;

const STATE_TEXT: Record<string, Key> = { pending: "alerts.state_pending", firing: "alerts.state_firing", resolved: "alerts.state_resolved" };

/** Labels the other columns do not already show, the server's name first. */
const SHOWN_ELSEWHERE = new Set(["rulename", "alertname", "rule_id", "severity", "server_id"]);
function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .filter(([k]) => !SHOWN_ELSEWHERE.has(k))
    .sort(([a], [b]) => (a === "server_name" ? -1 : b === "server_name" ? 1 : a.localeCompare(b)))
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

export function Events({ active }: { active: boolean }) {
  const [offset, setOffset] = useState(0);
  const [chosen, setChosen] = useState<Set<number>>(new Set());
  const events = useFetch((signal) => listEvents(active ? "active" : "", offset, signal), [active, offset]);
  useEvery(REFRESH_MS, events.reload);
  const ack = useAction(async (ids: number[]) => {
    await acknowledge(ids);
    setChosen(new Set());
    events.reload();
  });
  const data = events.data;
  const toggle = (id: number, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(id);
    else next.delete(id);
    setChosen(next);
  };
  if (!data) return events.error ? <Notice>{events.error}</Notice> : <Loading label={t("common.loading")} />;
  if (data.value.length === 0)
    return (
      <section class="card">
        <Empty title={active ? t("alerts.none_firing") : t("alerts.no_history")}>
          <p>{t("alerts.none_hint")}</p>
          <Link href="/alerts/rules/new" class="btn btn-primary">{t("alerts.new_rule")}</Link>
        </Empty>
      </section>
    );
  return (
    <section class="card stack">
      <div class="row">
        <Button disabled={chosen.size === 0} busy={ack.running} onClick={() => void ack.run([...chosen])}>
          {t("alerts.ack_chosen", { n: chosen.size })}
        </Button>
        <span class="muted">{t("alerts.total", { n: data.pagination.total })}</span>
      </div>
      <Notice>{events.error || ack.error}</Notice>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col"><span class="sr-only">{t("alerts.choose")}</span></th>
              <th scope="col">{t("alerts.state")}</th>
              <th scope="col">{t("alerts.rule")}</th>
              <th scope="col">{t("alerts.labels")}</th>
              <th scope="col">{t("alerts.value")}</th>
              <th scope="col">{t("alerts.started")}</th>
              <th scope="col">{t("alerts.resolved")}</th>
              <th scope="col">{t("alerts.acked")}</th>
            </tr>
          </thead>
          <tbody>
            {data.value.map((e) => (
              <tr key={e.id} data-state={e.state}>
                <td>
                  <input type="checkbox" aria-label={t("alerts.choose_one", { rule: e.rule_name, id: e.id })} checked={chosen.has(e.id)} disabled={Boolean(e.acked_by)} onChange={(ev) => toggle(e.id, ev.currentTarget.checked)} />
                </td>
                <td>
                  <span class={`badge alert-${e.state}`}>{t(STATE_TEXT[e.state] ?? "alerts.state_pending")}</span>
                  {e.silenced && <span class="muted small"> {t("alerts.silenced")}</span>}
                  {e.flapping && <span class="muted small"> {t("alerts.flapping")}</span>}
                </td>
                <td>{e.rule_name} <span class="muted small">{e.severity}</span></td>
                <td class="clip" title={labelsText(e.labels)}>{labelsText(e.labels)}</td>
                <td>{e.value === null ? "—" : e.value.toFixed(2)}</td>
                <td><Time value={e.started_at} /></td>
                <td><Time value={e.resolved_at} /></td>
                <td>
                  {e.acked_by ? (
                    <span>{e.acked_by} · <Time value={e.acked_at} /></span>
                  ) : (
                    <Button onClick={() => void ack.run([e.id])} aria-label={t("alerts.ack_one", { rule: e.rule_name, id: e.id })}>{t("alerts.ack")}</Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="row">
        <Button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>{t("alerts.newer")}</Button>
        <Button disabled={offset + PAGE >= data.pagination.total} onClick={() => setOffset(offset + PAGE)}>{t("alerts.older")}</Button>
      </div>
    </section>
  );
}
