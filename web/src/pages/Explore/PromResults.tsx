import { useMemo, useState } from "preact/hooks";
import { Chart } from "../../components/chart/Chart";
import { Empty } from "../../components/ui/Notice";
import { Segmented } from "../../components/ui/Tabs";
import { Time } from "../../components/ui/Time";
import { t } from "../../i18n";
import { alignMatrix, PromData, PromSeries, tableRows } from "../../utils/promql";

/** Series drawn at most; the table and the CSV have them all. */
const CHART_SERIES = 24;

export function PromResults({ data }: { data: PromData }) {
  const plot = useMemo(() => (data.resultType === "matrix" ? alignMatrix((data.result as PromSeries[]).slice(0, CHART_SERIES)) : null), [data]);
  const rows = useMemo(() => tableRows(data), [data]);
  const [view, setView] = useState<"chart" | "table">(plot ? "chart" : "table");
  const count = Array.isArray(data.result) && data.resultType !== "scalar" && data.resultType !== "string" ? data.result.length : 1;
  if (!count) return <Empty title={t("explore.no_series")}>{t("explore.no_series_hint")}</Empty>;
  return (
    <section class="card" aria-labelledby="prom-results-title">
      <div class="page-head">
        <h2 id="prom-results-title">{t("explore.series", { count })}</h2>
        {plot && (
          <Segmented
            label={t("explore.view")}
            value={view}
            options={[
              { value: "chart", label: t("explore.chart") },
              { value: "table", label: t("explore.table") },
            ]}
            onChange={setView}
          />
        )}
      </div>
      {view === "chart" && plot ? (
        <>
          <Chart
            label={t("explore.chart_label", { columns: plot.names.join(", ") })}
            series={plot.names.map((name, i) => ({ label: name, color: `--chart-${(i % 6) + 1}` }))}
            data={plot.data as never}
            height={320}
          />
          {count > CHART_SERIES && <p class="muted">{t("explore.series_truncated", { shown: CHART_SERIES })}</p>}
        </>
      ) : (
        <div class="table-wrap results" tabIndex={0} role="region" aria-label={t("explore.table")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("explore.series_column")}</th>
                <th scope="col">{t("explore.time_column")}</th>
                <th scope="col">{t("explore.value_column")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => (
                <tr key={i}>
                  <td>
                    <code>{r.series}</code>
                  </td>
                  <td>
                    <Time value={new Date(r.time * 1000).toISOString()} />
                  </td>
                  <td>{r.value}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
