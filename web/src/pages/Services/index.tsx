// The monitors: each one's state now, 90 days of uptime, and a way to the details and the form.
import { getDaily, getOverview, listMonitors, Monitor } from "../../api/services";
import { Link } from "../../components/ui/Link";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";
import { useEvery } from "./hooks";
import { stateOf, STATE_TEXT } from "./state";
import { overall, UptimeBar } from "./UptimeBar";
import "./style.css";

/** States change by themselves: read them often. Day bars change slowly and cost a scan of
 * 90 days of results: read them seldom. */
const REFRESH_MS = 5_000;
const BARS_REFRESH_MS = 60_000;

async function loadAll(signal: AbortSignal) {
  const [monitors, overview] = await Promise.all([listMonitors(signal), getOverview(signal)]);
  return { monitors, overview: overview.services };
}

function describe(m: Monitor): string {
  return m.kind === "push" ? t("services.push_every", { s: m.duration }) : m.target;
}

export function Services() {
  const all = useFetch(loadAll, []);
  useEvery(REFRESH_MS, all.reload);
  const bars = useFetch((signal) => getDaily(signal), []);
  useEvery(BARS_REFRESH_MS, bars.reload);
  const data = all.data;
  return (
    <>
      <div class="page-head">
        <h1>{t("services.title")}</h1>
        <Link href="/services/new" class="btn btn-primary">
          {t("services.add")}
        </Link>
      </div>
      <Notice>{all.error || bars.error}</Notice>
      {!data ? (
        <Loading label={t("common.loading")} />
      ) : data.monitors.length === 0 ? (
        <section class="card">
          <Empty title={t("services.empty")}>
            <p>{t("services.empty_hint")}</p>
            <Link href="/services/new" class="btn btn-primary">
              {t("services.add")}
            </Link>
          </Empty>
        </section>
      ) : (
        <ul class="monitor-list" aria-label={t("services.title")}>
          {data.monitors.map((m) => {
            const now = data.overview[String(m.id)];
            const state = stateOf(m.enabled, now?.current_up ?? 0, now?.current_down ?? 0);
            const days = bars.data?.services[String(m.id)];
            const counts = days && bars.data ? { up: days.up, down: days.down, firstDay: bars.data.first_day } : null;
            const total = counts ? overall(counts) : null;
            return (
              <li key={m.id} class={`card monitor state-${state}`} data-state={state}>
                <div class="monitor-head">
                  <span class={`badge badge-${state}`}>{t(STATE_TEXT[state])}</span>
                  <Link href={`/services/${m.id}`} class="monitor-name">
                    {m.name}
                  </Link>
                  <span class="muted small">{m.kind.toUpperCase()}</span>
                  <span class="muted small clip">{describe(m)}</span>
                  <span class="monitor-uptime">{total === null ? "—" : `${total.toFixed(2)}%`}</span>
                </div>
                {counts && <UptimeBar name={m.name} counts={counts} />}
              </li>
            );
          })}
        </ul>
      )}
    </>
  );
}
