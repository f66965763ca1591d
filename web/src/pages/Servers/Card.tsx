import { memo } from "preact/compat";
import type { StreamServer } from "../../api/types";
import { Link } from "../../components/ui/Link";
import { Meter } from "../../components/ui/Meter";
import { t } from "../../i18n";
import { diskPercent, memPercent } from "../../utils/filter";
import { bytes, duration, speed } from "../../utils/format";

function CardView({ s }: { s: StreamServer }) {
  const mem = memPercent(s);
  const disk = diskPercent(s);
  return (
    <article class={`server-card ${s.online ? "" : "is-offline"}`} aria-labelledby={`srv-${s.id}`}>
      <header>
        <span class={`dot ${s.online ? "up" : "down"}`} aria-hidden="true" />
        <Link href={`/servers/${s.id}`} id={`srv-${s.id}`} class="server-name">
          {s.name}
        </Link>
        <span class="sr-only">{s.online ? t("servers.online") : t("servers.offline")}</span>
        <span class="muted small">{s.host.platform}</span>
      </header>
      {s.public_note && <p class="muted small note">{s.public_note}</p>}
      {s.online ? (
        <>
          <Meter label={t("metric.cpu")} value={s.state.cpu} />
          <Meter label={t("metric.memory")} value={mem} detail={`${bytes(s.state.mem_used)} / ${bytes(s.host.mem_total)}`} />
          <Meter label={t("metric.disk")} value={disk} detail={`${bytes(s.state.disk_used)} / ${bytes(s.host.disk_total)}`} />
          <dl class="facts">
            <div>
              <dt>{t("metric.net")}</dt>
              <dd>
                <span class="nowrap">↓ {speed(s.state.net_in_speed)}</span> <span class="nowrap">↑ {speed(s.state.net_out_speed)}</span>
              </dd>
            </div>
            <div>
              <dt>{t("metric.uptime")}</dt>
              <dd>{duration(s.state.uptime)}</dd>
            </div>
            <div>
              <dt>{t("metric.load")}</dt>
              <dd>{s.state.load_1.toFixed(2)}</dd>
            </div>
          </dl>
        </>
      ) : (
        <p class="muted">{t("servers.offline_since")}</p>
      )}
    </article>
  );
}

/** One server's card, re-rendered only when its data changed (each frame parses new objects, so compare values). */
export const Card = memo(CardView, (a, b) => JSON.stringify(a.s) === JSON.stringify(b.s));
