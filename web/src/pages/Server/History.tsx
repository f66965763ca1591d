import { useState } from "preact/hooks";
import type uPlot from "uplot";
import { getMetrics, Period } from "../../api/servers";
import { Chart } from "../../components/chart/Chart";
import { Loading, Notice } from "../../components/ui/Notice";
import { Segmented } from "../../components/ui/Tabs";
import { useFetch } from "../../hooks/useFetch";
import { Key, t } from "../../i18n";
import { bytes, pct, speed } from "../../utils/format";

interface MetricSpec {
  title: Key;
  metrics: string[];
  labels: Key[];
  format: (v: number) => string;
  /** Divides raw values (memory and disk are bytes; shown as % of the total when known). */
  total?: number;
}

async function loadCurves(id: number, spec: MetricSpec, period: Period, signal: AbortSignal): Promise<uPlot.AlignedData> {
  const curves = await Promise.all(spec.metrics.map((m) => getMetrics(id, m, period, signal)));
  const times = Array.from(new Set(curves.flatMap((c) => c.data_points.map((p) => p.ts)))).sort((a, b) => a - b);
  const index = new Map(times.map((ts, i) => [ts, i]));
  const series = curves.map((c) => {
    const values: (number | null)[] = new Array(times.length).fill(null);
    for (const p of c.data_points) values[index.get(p.ts)!] = spec.total ? (100 * p.value) / spec.total : p.value;
    return values;
  });
  return [times.map((ts) => ts / 1000), ...series] as uPlot.AlignedData;
}

function HistoryChart({ id, spec, period }: { id: number; spec: MetricSpec; period: Period }) {
  const curve = useFetch((signal) => loadCurves(id, spec, period, signal), [id, period, spec.total]);
  const empty = curve.data && curve.data[0].length === 0;
  return (
    <section class="card chart-card">
      <h3>{t(spec.title)}</h3>
      <Notice>{curve.error}</Notice>
      {curve.isLoading && !curve.data ? (
        <Loading label={t("common.loading")} />
      ) : empty ? (
        <p class="muted">{t("server.no_history")}</p>
      ) : (
        curve.data && (
          <Chart
            label={`${t(spec.title)} (${period})`}
            series={spec.labels.map((l, i) => ({ label: t(l), color: `--chart-${i + 1}` }))}
            data={curve.data}
            format={spec.format}
          />
        )
      )}
    </section>
  );
}

export function History({ id, memTotal, diskTotal, guest }: { id: number; memTotal: number; diskTotal: number; guest: boolean }) {
  const [period, setPeriod] = useState<Period>("1d");
  const specs: MetricSpec[] = [
    { title: "metric.cpu", metrics: ["cpu"], labels: ["metric.cpu"], format: pct },
    memTotal
      ? { title: "metric.memory", metrics: ["memory"], labels: ["metric.memory"], format: pct, total: memTotal }
      : { title: "metric.memory", metrics: ["memory"], labels: ["metric.memory"], format: bytes },
    diskTotal
      ? { title: "metric.disk", metrics: ["disk"], labels: ["metric.disk"], format: pct, total: diskTotal }
      : { title: "metric.disk", metrics: ["disk"], labels: ["metric.disk"], format: bytes },
    { title: "metric.net", metrics: ["net_in_speed", "net_out_speed"], labels: ["metric.net_in", "metric.net_out"], format: speed },
    { title: "metric.load", metrics: ["load1", "load5", "load15"], labels: ["metric.load1", "metric.load5", "metric.load15"], format: (v) => v.toFixed(2) },
  ];
  return (
    <section aria-labelledby="history-title">
      <div class="page-head">
        <h2 id="history-title">{t("server.history")}</h2>
        <Segmented<Period>
          label={t("server.period")}
          value={period}
          options={(["1d", "7d", "30d"] as Period[]).filter((p) => !guest || p === "1d").map((p) => ({ value: p, label: t(`period.${p}`) }))}
          onChange={setPeriod}
        />
      </div>
      {guest && <p class="muted">{t("server.guest_history")}</p>}
      <div class="charts">
        {specs.map((spec) => (
          <HistoryChart key={spec.title} id={id} spec={spec} period={period} />
        ))}
      </div>
    </section>
  );
}
