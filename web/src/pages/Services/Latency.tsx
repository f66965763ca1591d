// Response time per vantage point (the Heron node and each agent) over 1, 7 or 30 days.
import { useState } from "preact/hooks";
import type uPlot from "uplot";
import { getHistory, Period, ServiceHistory } from "../../api/services";
import { Chart } from "../../components/chart/Chart";
import { Loading, Notice } from "../../components/ui/Notice";
import { Segmented } from "../../components/ui/Tabs";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";

const ms = (v: number) => `${v.toFixed(v >= 100 ? 0 : 1)} ms`;

/** One x axis for every vantage point; a bucket without a success is a gap. */
export function alignCurves(history: ServiceHistory): uPlot.AlignedData {
  const times = Array.from(new Set(history.servers.flatMap((s) => s.stats.data_points.map((p) => p.ts)))).sort((a, b) => a - b);
  const index = new Map(times.map((ts, i) => [ts, i]));
  const series = history.servers.map((s) => {
    const values: (number | null)[] = new Array(times.length).fill(null);
    for (const p of s.stats.data_points) if (p.status === 1 && p.delay > 0) values[index.get(p.ts)!] = p.delay;
    return values;
  });
  return [times.map((ts) => ts / 1000), ...series] as uPlot.AlignedData;
}

export function Latency({ id, name }: { id: number; name: string }) {
  const [period, setPeriod] = useState<Period>("1d");
  const history = useFetch((signal) => getHistory(id, period, signal), [id, period]);
  const data = history.data ? alignCurves(history.data) : null;
  return (
    <section class="card stack">
      <div class="page-head">
        <h2>{t("services.latency")}</h2>
        <Segmented
          label={t("services.period")}
          value={period}
          onChange={setPeriod}
          options={[
            { value: "1d", label: t("period.1d") },
            { value: "7d", label: t("period.7d") },
            { value: "30d", label: t("period.30d") },
          ]}
        />
      </div>
      <Notice>{history.error}</Notice>
      {!history.data ? (
        <Loading label={t("common.loading")} />
      ) : !data || data[0].length === 0 ? (
        <p class="muted">{t("services.no_history")}</p>
      ) : (
        <Chart
          label={t("services.latency_of", { name, period })}
          series={history.data.servers.map((s, i) => ({ label: s.server_name, color: `--chart-${(i % 6) + 1}` }))}
          data={data}
          format={ms}
        />
      )}
    </section>
  );
}
