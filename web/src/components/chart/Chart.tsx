// The one wrapper of uPlot: created in an effect, destroyed on cleanup, fed with setData and
// setSize, rebuilt only when the theme or the series change.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { cssColor, effectiveTheme } from "../../utils/theme";

export interface SeriesSpec {
  label: string;
  /** A CSS variable of the palette, e.g. --chart-1. */
  color: string;
}

interface Props {
  label: string;
  series: SeriesSpec[];
  data: uPlot.AlignedData;
  height?: number;
  format?: (value: number, step?: number) => string;
}

function useTheme(): string {
  const [theme, setTheme] = useState(effectiveTheme());
  useEffect(() => {
    const update = () => setTheme(effectiveTheme());
    const media = matchMedia("(prefers-color-scheme: dark)");
    media.addEventListener("change", update);
    window.addEventListener("heron-theme", update);
    return () => {
      media.removeEventListener("change", update);
      window.removeEventListener("heron-theme", update);
    };
  }, []);
  return theme;
}

function options(width: number, height: number, series: SeriesSpec[], format?: (v: number, step?: number) => string): uPlot.Options {
  const axis = cssColor("--muted");
  const grid = cssColor("--line");
  // Ticks get the step between them, so close values keep enough decimals to differ.
  const values = format
    ? (_u: uPlot, ticks: number[]) => ticks.map((v) => (v == null ? "" : format(v, ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : undefined)))
    : undefined;
  return {
    width,
    height,
    cursor: { drag: { x: true, y: false } },
    legend: { show: series.length > 1 },
    scales: { x: { time: true } },
    axes: [
      { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
      { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 84, values },
    ],
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        stroke: cssColor(s.color),
        width: 1.5,
        points: { show: false },
        value: format ? (_u: uPlot, v: number | null) => (v == null ? "—" : format(v)) : undefined,
      })),
    ],
  };
}

export function Chart({ label, series, data, height = 180, format }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const theme = useTheme();
  const seriesKey = series.map((s) => s.label + s.color).join("|");
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const chart = new uPlot(options(el.clientWidth || 300, height, series, format), data, el);
    plot.current = chart;
    const observer = new ResizeObserver(() => chart.setSize({ width: el.clientWidth || 300, height }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [theme, seriesKey, height]);
  useEffect(() => {
    if (plot.current && plot.current.data !== data) plot.current.setData(data);
  }, [data]);
  return <div class="chart" ref={box} role="img" aria-label={label} />;
}
