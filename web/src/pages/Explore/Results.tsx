import { useMemo, useState } from "preact/hooks";
import type { Row } from "../../api/sql";
import { Chart } from "../../components/chart/Chart";
import { Empty } from "../../components/ui/Notice";
import { Segmented } from "../../components/ui/Tabs";
import { t } from "../../i18n";
import { plotOf } from "../../utils/sqlresult";

/** Rows drawn in the table at most; the CSV download has them all. */
const SHOWN_ROWS = 1000;

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function Results({ rows }: { rows: Row[] }) {
  const plot = useMemo(() => plotOf(rows), [rows]);
  const [view, setView] = useState<"table" | "chart">(plot ? "chart" : "table");
  if (!rows.length) return <Empty title={t("explore.no_rows")}>{t("explore.no_rows_hint")}</Empty>;
  const columns = Object.keys(rows[0]);
  return (
    <section class="card" aria-labelledby="results-title">
      <div class="page-head">
        <h2 id="results-title">{t("explore.rows", { count: rows.length })}</h2>
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
        <Chart
          label={t("explore.chart_label", { columns: plot.columns.join(", ") })}
          series={plot.columns.map((c, i) => ({ label: c, color: `--chart-${(i % 6) + 1}` }))}
          data={plot.data}
          height={320}
        />
      ) : (
        <div class="table-wrap results" tabIndex={0} role="region" aria-label={t("explore.table")}>
          <table>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th scope="col" key={c}>
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, SHOWN_ROWS).map((r, i) => (
                <tr key={i}>
                  {columns.map((c) => (
                    <td key={c}>{cell(r[c])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length > SHOWN_ROWS && <p class="muted">{t("explore.truncated", { shown: SHOWN_ROWS })}</p>}
        </div>
      )}
    </section>
  );
}
