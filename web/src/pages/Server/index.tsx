import { Chart } from "../../components/chart/Chart";
import { Link } from "../../components/ui/Link";
import { Meter } from "../../components/ui/Meter";
import { Empty, Loading } from "../../components/ui/Notice";
import { Time } from "../../components/ui/Time";
import { t } from "../../i18n";
import { useSession } from "../../state/session";
import { bytes, duration, pct, percent, speed } from "../../utils/format";
import { History } from "./History";
import { useLive } from "./hooks/useLive";
import "./style.css";

export function ServerPage({ id }: { id: number }) {
  const { session } = useSession();
  const live = useLive(id);
  const s = live.server;
  if (!s) {
    return live.frames === 0 ? (
      <Loading label={t("servers.connecting")} />
    ) : (
      <Empty title={t("server.not_found")}>
        <Link href="/servers">{t("server.back")}</Link>
      </Empty>
    );
  }
  const host = s.host;
  return (
    <>
      <div class="page-head">
        <div class="title-line">
          <h1>{s.name}</h1>
          <span class={s.online ? "badge up" : "badge down"}>{s.online ? t("servers.online") : t("servers.offline")}</span>
        </div>
        {session.user && (
          <Link href={`/servers/${id}/edit`} class="btn btn-plain">
            {t("common.edit")}
          </Link>
        )}
      </div>
      {s.public_note && <p class="muted">{s.public_note}</p>}
      <div class="grid-2">
        <section class="card" aria-labelledby="host-title">
          <h2 id="host-title">{t("server.host")}</h2>
          <dl class="kv">
            <dt>{t("server.platform")}</dt>
            <dd>{[host.platform, host.platform_version, host.arch].filter(Boolean).join(" · ") || "—"}</dd>
            <dt>{t("server.cpu_model")}</dt>
            <dd>{host.cpu.join(", ") || "—"}</dd>
            <dt>{t("metric.memory")}</dt>
            <dd>{bytes(host.mem_total)}</dd>
            <dt>{t("metric.disk")}</dt>
            <dd>{bytes(host.disk_total)}</dd>
            <dt>{t("server.virtualization")}</dt>
            <dd>{host.virtualization || "—"}</dd>
            <dt>{t("server.agent")}</dt>
            <dd>{host.version || "—"}</dd>
            <dt>{t("metric.uptime")}</dt>
            <dd>{duration(s.state.uptime)}</dd>
            <dt>{t("server.last_active")}</dt>
            <dd>
              <Time value={s.last_active} />
            </dd>
          </dl>
        </section>
        <section class="card stack" aria-labelledby="now-title">
          <h2 id="now-title">{t("server.now")}</h2>
          <Meter label={t("metric.cpu")} value={s.state.cpu} />
          <Meter label={t("metric.memory")} value={percent(s.state.mem_used, host.mem_total)} detail={`${bytes(s.state.mem_used)} / ${bytes(host.mem_total)}`} />
          <Meter label={t("metric.disk")} value={percent(s.state.disk_used, host.disk_total)} detail={`${bytes(s.state.disk_used)} / ${bytes(host.disk_total)}`} />
          <p>
            {t("metric.net")}: ↓ {speed(s.state.net_in_speed)} ↑ {speed(s.state.net_out_speed)} · {t("metric.load")} {s.state.load_1.toFixed(2)} /{" "}
            {s.state.load_5.toFixed(2)} / {s.state.load_15.toFixed(2)} · {t("server.processes")} {s.state.process_count}
          </p>
        </section>
      </div>
      <section aria-labelledby="live-title">
        <h2 id="live-title">{t("server.live")}</h2>
        {live.data.cpu[0].length < 2 ? (
          <p class="muted">{s.online ? t("server.live_waiting") : t("server.live_offline")}</p>
        ) : (
          <div class="charts">
            <section class="card chart-card">
              <h3>{t("metric.cpu")}</h3>
              <Chart label={t("server.live_cpu")} series={[{ label: t("metric.cpu"), color: "--chart-1" }]} data={live.data.cpu} format={pct} />
            </section>
            <section class="card chart-card">
              <h3>{t("metric.memory")}</h3>
              <Chart label={t("server.live_memory")} series={[{ label: t("metric.memory"), color: "--chart-2" }]} data={live.data.mem} format={pct} />
            </section>
            <section class="card chart-card">
              <h3>{t("metric.net")}</h3>
              <Chart
                label={t("server.live_net")}
                series={[
                  { label: t("metric.net_in"), color: "--chart-1" },
                  { label: t("metric.net_out"), color: "--chart-2" },
                ]}
                data={live.data.net}
                format={speed}
              />
            </section>
          </div>
        )}
      </section>
      <History id={id} memTotal={host.mem_total} diskTotal={host.disk_total} guest={!session.user} />
    </>
  );
}
