// One monitor: its state from each vantage point, uptime, response times, incidents, and for a
// push monitor the URL its job calls with a cron line ready to copy.
import { deleteMonitors, getMonitor, getStateChanges, getVantages } from "../../api/services";
import { Button } from "../../components/ui/Button";
import { Copy } from "../../components/ui/Copy";
import { Link } from "../../components/ui/Link";
import { Loading, Notice } from "../../components/ui/Notice";
import { Time } from "../../components/ui/Time";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { navigate } from "../../hooks/useRoute";
import { t } from "../../i18n";
import { useEvery } from "./hooks";
import { Latency } from "./Latency";
import { vantageText } from "./state";
import { cronLine } from "./validate";
import "./style.css";

const REFRESH_MS = 5_000;
const iso = (seconds: number | null) => (seconds ? new Date(seconds * 1000).toISOString() : null);

function PushHelp({ path, interval }: { path: string; interval: number }) {
  const url = location.origin + path;
  return (
    <section class="card stack">
      <h2>{t("services.push_title")}</h2>
      <p class="muted">{t("services.push_intro")}</p>
      <Copy label={t("services.push_url")} value={url} />
      <p class="muted">{t("services.cron_intro")}</p>
      <Copy label={t("services.cron_line")} value={cronLine(location.origin, path, interval)} />
    </section>
  );
}

function Incidents({ id }: { id: number }) {
  const changes = useFetch((signal) => getStateChanges(id, signal), [id]);
  useEvery(REFRESH_MS, changes.reload);
  return (
    <section class="card stack">
      <h2>{t("services.incidents")}</h2>
      <Notice>{changes.error}</Notice>
      {!changes.data ? (
        <Loading label={t("common.loading")} />
      ) : changes.data.length === 0 ? (
        <p class="muted">{t("services.no_incidents")}</p>
      ) : (
        <ul class="incidents">
          {changes.data.map((c) => (
            <li key={`${c.at}-${c.server_id}`}>
              <Time value={new Date(c.at).toISOString()} />
              <span class={`badge badge-${c.state}`}>{t(vantageText(c.state))}</span>
              <span>{c.server_name}</span>
              {c.reason && <span class="muted">{c.reason}</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function MonitorPage({ id }: { id: number }) {
  const monitor = useFetch((signal) => getMonitor(id, signal), [id]);
  const vantages = useFetch((signal) => getVantages(id, signal), [id]);
  useEvery(REFRESH_MS, vantages.reload);
  const remove = useAction(async () => {
    await deleteMonitors([id]);
    navigate("/services");
  });
  const m = monitor.data;
  if (!m) return monitor.error ? <Notice>{monitor.error}</Notice> : <Loading label={t("common.loading")} />;
  return (
    <div class="stack">
      <div class="page-head">
        <div>
          <p class="small"><Link href="/services">{t("services.title")}</Link></p>
          <h1>{m.name}</h1>
          <p class="muted small">{m.kind.toUpperCase()} {m.target}</p>
        </div>
        <div class="actions">
          <Link href={`/services/${id}/edit`} class="btn">{t("common.edit")}</Link>
          <Button kind="danger" busy={remove.running} onClick={() => confirm(t("services.confirm_delete", { name: m.name })) && void remove.run()}>
            {t("common.delete")}
          </Button>
        </div>
      </div>
      <Notice>{remove.error || vantages.error}</Notice>
      <section class="card stack">
        <h2>{t("services.vantages")}</h2>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("services.vantage")}</th>
                <th scope="col">{t("services.state")}</th>
                <th scope="col">{t("services.since")}</th>
                <th scope="col">{t("services.last_check")}</th>
                <th scope="col">{t("services.delay")}</th>
                <th scope="col">{t("services.reason")}</th>
              </tr>
            </thead>
            <tbody>
              {(vantages.data ?? []).map((v) => (
                <tr key={v.server_id} data-state={v.state}>
                  <td>{v.server_name}</td>
                  <td><span class={`badge badge-${v.state}`}>{t(vantageText(v.state))}</span></td>
                  <td><Time value={iso(v.since)} /></td>
                  <td><Time value={iso(v.last_check_at)} /></td>
                  <td>{v.delay === null ? "—" : `${v.delay.toFixed(1)} ms`}</td>
                  <td class="clip">{v.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {vantages.data?.length === 0 && <p class="muted">{t("services.no_vantages")}</p>}
      </section>
      <section class="card">
        <h2>{t("services.uptime")}</h2>
        <div class="uptime-grid">
          {["24h", "7d", "30d", "90d"].map((w) => (
            <div key={w}>
              <span class="muted small">{t("services.uptime_window", { window: w })}</span>
              <strong>{m.uptime[w] == null ? "—" : `${(m.uptime[w] as number).toFixed(2)}%`}</strong>
            </div>
          ))}
        </div>
      </section>
      {m.kind === "push" && m.push_url && <PushHelp path={m.push_url} interval={m.duration} />}
      <Latency id={id} name={m.name} />
      <Incidents id={id} />
    </div>
  );
}
