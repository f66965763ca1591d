// 90 days of uptime as one canvas of day bars (green all up, amber some failures, red mostly
// down, grey no checks). An image for screen readers with a summary; arrow keys walk the
// days and read each one out; the day under the pointer shows in a tip.
import { useEffect, useRef, useState } from "preact/hooks";
import { t } from "../../i18n";
import { cssColor } from "../../utils/theme";

const BAR_PX = 4;
const GAP_PX = 2;
const HEIGHT_PX = 24;
const DAY_MS = 86_400_000;

export interface DayCounts {
  up: number[];
  down: number[];
  /** Unix seconds of the first day's start (UTC). */
  firstDay: number;
}

export function dayPercent(up: number, down: number): number | null {
  return up + down > 0 ? (100 * up) / (up + down) : null;
}

/** Uptime over all days with checks, or null without any. */
export function overall({ up, down }: DayCounts): number | null {
  const u = up.reduce((a, b) => a + b, 0);
  const d = down.reduce((a, b) => a + b, 0);
  return dayPercent(u, d);
}

function colourOf(p: number | null, palette: Record<string, string>): string {
  if (p === null) return palette.none;
  if (p >= 99.9) return palette.up;
  if (p >= 50) return palette.warn;
  return palette.down;
}

function dayText(counts: DayCounts, i: number): string {
  const date = new Date(counts.firstDay * 1000 + i * DAY_MS).toLocaleDateString(undefined, { dateStyle: "medium", timeZone: "UTC" });
  const p = dayPercent(counts.up[i], counts.down[i]);
  return p === null ? `${date}: ${t("services.no_checks")}` : `${date}: ${p.toFixed(2)}% (${t("services.failed_checks", { n: counts.down[i] })})`;
}

export function UptimeBar({ name, counts }: { name: string; counts: DayCounts }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [focus, setFocus] = useState(-1);
  const [hover, setHover] = useState(-1);
  const days = counts.up.length;
  const width = days * (BAR_PX + GAP_PX) - GAP_PX;
  useEffect(() => {
    const el = canvas.current;
    const ctx = el?.getContext("2d");
    if (!el || !ctx) return;
    const ratio = window.devicePixelRatio || 1;
    el.width = Math.round(width * ratio);
    el.height = Math.round(HEIGHT_PX * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, HEIGHT_PX);
    const palette = { up: cssColor("--up"), warn: cssColor("--warn"), down: cssColor("--down"), none: cssColor("--line") };
    for (let i = 0; i < days; i++) {
      ctx.fillStyle = colourOf(dayPercent(counts.up[i], counts.down[i]), palette);
      ctx.fillRect(i * (BAR_PX + GAP_PX), i === focus ? 0 : 2, BAR_PX, i === focus ? HEIGHT_PX : HEIGHT_PX - 4);
    }
  }, [counts, width, days, focus]);
  const total = overall(counts);
  const bad = counts.down.filter((d) => d > 0).length;
  const summary = t("services.bar_summary", { name, days, uptime: total === null ? "—" : `${total.toFixed(2)}%`, bad });
  const shown = hover >= 0 ? hover : focus;
  return (
    <div class="uptime-bar">
      <canvas
        ref={canvas}
        style={{ width: `${width}px`, height: `${HEIGHT_PX}px` }}
        role="img"
        tabIndex={0}
        aria-label={summary}
        onKeyDown={(e) => {
          const step: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, Home: -days, End: days };
          if (!(e.key in step)) return;
          e.preventDefault();
          setFocus((f) => Math.max(0, Math.min(days - 1, f < 0 ? days - 1 : f + step[e.key])));
        }}
        onBlur={() => setFocus(-1)}
        onMouseMove={(e) => setHover(Math.min(days - 1, Math.floor(e.offsetX / (BAR_PX + GAP_PX))))}
        onMouseLeave={() => setHover(-1)}
      />
      <span class="uptime-tip" aria-live="polite">
        {shown >= 0 ? dayText(counts, shown) : ""}
      </span>
    </div>
  );
}
