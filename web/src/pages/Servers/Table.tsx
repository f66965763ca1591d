import { useEffect, useRef, useState } from "preact/hooks";
import type { StreamServer } from "../../api/types";
import { Link } from "../../components/ui/Link";
import { t } from "../../i18n";
import { diskPercent, memPercent } from "../../utils/filter";
import { duration, pct, speed } from "../../utils/format";

const ROW_PX = 36;
const EXTRA_ROWS = 10;

/** A dense table; only the rows in view (and a few around them) are in the DOM. */
export function Table({ servers }: { servers: StreamServer[] }) {
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const update = () => setView({ top: el.scrollTop, height: el.clientHeight });
    update();
    el.addEventListener("scroll", update, { passive: true });
    const observer = new ResizeObserver(update);
    observer.observe(el);
    return () => {
      el.removeEventListener("scroll", update);
      observer.disconnect();
    };
  }, []);
  const first = Math.max(0, Math.floor(view.top / ROW_PX) - EXTRA_ROWS);
  const last = Math.min(servers.length, Math.ceil((view.top + view.height) / ROW_PX) + EXTRA_ROWS);
  return (
    <div class="table-wrap dense" ref={box} tabIndex={0} aria-label={t("servers.table")} role="region">
      <table aria-rowcount={servers.length + 1}>
        <thead>
          <tr>
            <th scope="col">{t("servers.name")}</th>
            <th scope="col">{t("servers.state")}</th>
            <th scope="col">{t("metric.cpu")}</th>
            <th scope="col">{t("metric.memory")}</th>
            <th scope="col">{t("metric.disk")}</th>
            <th scope="col">{t("metric.net_in")}</th>
            <th scope="col">{t("metric.net_out")}</th>
            <th scope="col">{t("metric.uptime")}</th>
            <th scope="col">{t("metric.load")}</th>
          </tr>
        </thead>
        <tbody>
          {first > 0 && <tr aria-hidden="true" style={{ height: `${first * ROW_PX}px` }} />}
          {servers.slice(first, last).map((s, i) => (
            <tr key={s.id} aria-rowindex={first + i + 2} class={s.online ? "" : "is-offline"}>
              <td>
                <Link href={`/servers/${s.id}`}>{s.name}</Link>
              </td>
              <td>
                <span class={`dot ${s.online ? "up" : "down"}`} aria-hidden="true" /> {s.online ? t("servers.online") : t("servers.offline")}
              </td>
              <td>{pct(s.state.cpu)}</td>
              <td>{pct(memPercent(s))}</td>
              <td>{pct(diskPercent(s))}</td>
              <td>{speed(s.state.net_in_speed)}</td>
              <td>{speed(s.state.net_out_speed)}</td>
              <td>{duration(s.state.uptime)}</td>
              <td>{s.state.load_1.toFixed(2)}</td>
            </tr>
          ))}
          {last < servers.length && <tr aria-hidden="true" style={{ height: `${(servers.length - last) * ROW_PX}px` }} />}
        </tbody>
      </table>
    </div>
  );
}
