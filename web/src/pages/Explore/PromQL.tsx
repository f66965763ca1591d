import { useEffect, useRef, useState } from "preact/hooks";
import { queryInstant, queryRange } from "../../api/promql";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { navigate, useRoute } from "../../hooks/useRoute";
import { t } from "../../i18n";
import { PromData, stepFor, toCsv } from "../../utils/promql";
import { PromEditor } from "./PromEditor";
import { PromResults } from "./PromResults";

/** Ranges offered, in seconds; "instant" asks /api/v1/query at now. */
const RANGES: Record<string, number> = { "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400, "7d": 604800 };

/** The address of a query: ?lang=promql&q=&range= , so a result can be shared as a link. */
function address(query: string, range: string): string {
  const params = new URLSearchParams({ lang: "promql", range });
  if (query.trim()) params.set("q", query);
  return `/explore?${params}`;
}

export function PromExplore() {
  const route = useRoute();
  const [query, setQuery] = useState(route.params.get("q") ?? "");
  const [range, setRange] = useState(route.params.get("range") && (route.params.get("range")! in RANGES || route.params.get("range") === "instant") ? route.params.get("range")! : "1h");
  const [data, setData] = useState<PromData | null>(null);
  const [shared, setShared] = useState(false);
  const controller = useRef<AbortController | null>(null);
  const run = useAction(async () => {
    controller.current?.abort();
    controller.current = new AbortController();
    navigate(address(query, range), true);
    const now = Math.floor(Date.now() / 1000);
    const span = RANGES[range];
    setData(span ? await queryRange(query, now - span, now, stepFor(span), controller.current.signal) : await queryInstant(query, now, controller.current.signal));
  });
  useEffect(() => {
    if (route.params.get("q")) void run.run();
    return () => controller.current?.abort();
  }, []);
  const download = () => {
    if (!data) return;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([toCsv(data)], { type: "text/csv" }));
    link.download = "promql-query.csv";
    link.click();
    window.setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  };
  const share = async () => {
    navigate(address(query, range), true);
    try {
      await navigator.clipboard.writeText(location.origin + address(query, range));
      setShared(true);
      window.setTimeout(() => setShared(false), 2000);
    } catch {
      setShared(false);
    }
  };
  return (
    <div class="stack">
      <form class="card stack" onSubmit={(e) => (e.preventDefault(), void run.run())}>
        <PromEditor value={query} onChange={setQuery} onRun={() => void run.run()} />
        <div class="row">
          <Field label={t("explore.range")}>
            {(id) => (
              <select id={id} value={range} onChange={(e) => setRange(e.currentTarget.value)}>
                {Object.keys(RANGES).map((r) => (
                  <option key={r} value={r}>
                    {t("explore.last", { range: r })}
                  </option>
                ))}
                <option value="instant">{t("explore.instant")}</option>
              </select>
            )}
          </Field>
        </div>
        <div class="row">
          <Button type="submit" kind="primary" busy={run.running} disabled={!query.trim()}>
            {t("explore.run")}
          </Button>
          <Button disabled={!data} onClick={download}>
            {t("explore.csv")}
          </Button>
          <Button disabled={!query.trim()} onClick={() => void share()}>
            {shared ? t("explore.link_copied") : t("explore.share")}
          </Button>
        </div>
        <Notice>{run.error}</Notice>
      </form>
      {data && <PromResults data={data} />}
      {!data && !run.running && <p class="muted">{t("explore.promql_start")}</p>}
    </div>
  );
}
