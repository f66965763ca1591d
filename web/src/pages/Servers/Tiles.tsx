// Every server as a small tile on one canvas: 2,000 servers are one draw call per frame, not
// 2,000 DOM nodes. The canvas is an image with a summary for screen readers; arrow keys move
// a focus tile whose name is read out, Enter opens the server.
import { useEffect, useRef, useState } from "preact/hooks";
import type { StreamServer } from "../../api/types";
import { navigate } from "../../hooks/useRoute";
import { t } from "../../i18n";
import { pct } from "../../utils/format";
import { cssColor } from "../../utils/theme";

const TILE_PX = 16;
const GAP_PX = 3;

function colourOf(s: StreamServer, palette: Record<string, string>): string {
  if (!s.online) return palette.down;
  if (s.state.cpu >= 90) return palette.bad;
  if (s.state.cpu >= 70) return palette.warn;
  return palette.up;
}

export function Tiles({ servers }: { servers: StreamServer[] }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(800);
  const [focus, setFocus] = useState(-1);
  const [hover, setHover] = useState<{ i: number; x: number; y: number } | null>(null);
  const perRow = Math.max(1, Math.floor((width + GAP_PX) / (TILE_PX + GAP_PX)));
  const rows = Math.ceil(servers.length / perRow);
  const height = Math.max(TILE_PX, rows * (TILE_PX + GAP_PX));
  useEffect(() => {
    const el = canvas.current?.parentElement;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  useEffect(() => {
    const el = canvas.current;
    const ctx = el?.getContext("2d");
    if (!el || !ctx) return;
    const ratio = window.devicePixelRatio || 1;
    el.width = Math.round(width * ratio);
    el.height = Math.round(height * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const palette = { up: cssColor("--up"), down: cssColor("--down"), warn: cssColor("--warn"), bad: cssColor("--bad") };
    for (let i = 0; i < servers.length; i++) {
      ctx.fillStyle = colourOf(servers[i], palette);
      ctx.fillRect((i % perRow) * (TILE_PX + GAP_PX), Math.floor(i / perRow) * (TILE_PX + GAP_PX), TILE_PX, TILE_PX);
    }
    if (focus >= 0 && focus < servers.length) {
      ctx.strokeStyle = cssColor("--fg");
      ctx.lineWidth = 2;
      ctx.strokeRect((focus % perRow) * (TILE_PX + GAP_PX) - 1, Math.floor(focus / perRow) * (TILE_PX + GAP_PX) - 1, TILE_PX + 2, TILE_PX + 2);
    }
  }, [servers, width, height, perRow, focus]);
  const indexAt = (x: number, y: number) => {
    const col = Math.floor(x / (TILE_PX + GAP_PX));
    const i = Math.floor(y / (TILE_PX + GAP_PX)) * perRow + col;
    return col < perRow && i < servers.length ? i : -1;
  };
  const online = servers.filter((s) => s.online).length;
  const focused = servers[focus];
  const shown = hover ? servers[hover.i] : null;
  return (
    <div class="tiles">
      <canvas
        ref={canvas}
        style={{ width: `${width}px`, height: `${height}px` }}
        role="img"
        tabIndex={0}
        aria-label={t("servers.tiles_summary", { total: servers.length, online, offline: servers.length - online })}
        onKeyDown={(e) => {
          const step: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: perRow, ArrowUp: -perRow, Home: -focus, End: servers.length };
          if (e.key in step) {
            e.preventDefault();
            setFocus((f) => Math.max(0, Math.min(servers.length - 1, (f < 0 ? 0 : f) + (f < 0 ? 0 : step[e.key]))));
          } else if (e.key === "Enter" && focused) navigate(`/servers/${focused.id}`);
        }}
        onBlur={() => setFocus(-1)}
        onMouseMove={(e) => {
          const i = indexAt(e.offsetX, e.offsetY);
          setHover(i >= 0 ? { i, x: e.offsetX, y: e.offsetY } : null);
        }}
        onMouseLeave={() => setHover(null)}
        onClick={(e) => {
          const i = indexAt(e.offsetX, e.offsetY);
          if (i >= 0) navigate(`/servers/${servers[i].id}`);
        }}
      />
      {shown && hover && (
        <div class="tip" style={{ left: `${hover.x + 12}px`, top: `${hover.y + 12}px` }}>
          <strong>{shown.name}</strong> · {shown.online ? `${t("metric.cpu")} ${pct(shown.state.cpu)}` : t("servers.offline")}
        </div>
      )}
      <p class="sr-only" aria-live="polite">
        {focused ? `${focused.name}: ${focused.online ? `${t("metric.cpu")} ${pct(focused.state.cpu)}` : t("servers.offline")}` : ""}
      </p>
    </div>
  );
}
