import { useEffect, useRef, useState } from "preact/hooks";
import { ident, Row, runSql, runSqlCsv } from "../../api/sql";
import { Button } from "../../components/ui/Button";
import { Segmented } from "../../components/ui/Tabs";
import { Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { navigate, useRoute } from "../../hooks/useRoute";
import { t } from "../../i18n";
import { useSession } from "../../state/session";
import { Catalog } from "./Catalog";
import { Editor } from "./Editor";
import { PromExplore } from "./PromQL";
import { Results } from "./Results";
import "./style.css";

const DEFAULT_DB = "public";

/** The address of a query: ?db=&q= , so a result can be shared as a link. */
function address(db: string, sql: string): string {
  const params = new URLSearchParams({ db });
  if (sql.trim()) params.set("q", sql);
  return `/explore?${params}`;
}

/** SQL (the default) or PromQL, chosen in the address (?lang=promql) so links keep the language. */
export function Explore() {
  const route = useRoute();
  const lang = route.params.get("lang") === "promql" ? "promql" : "sql";
  return (
    <>
      <div class="page-head">
        <h1>{t("explore.title")}</h1>
        <Segmented
          label={t("explore.language")}
          value={lang}
          options={[
            { value: "sql", label: "SQL" },
            { value: "promql", label: "PromQL" },
          ]}
          onChange={(next) => navigate(next === "promql" ? "/explore?lang=promql" : "/explore")}
        />
      </div>
      {lang === "promql" ? <PromExplore /> : <SqlExplore />}
    </>
  );
}

function SqlExplore() {
  const { session } = useSession();
  const route = useRoute();
  const [db, setDb] = useState(route.params.get("db") || DEFAULT_DB);
  const [sql, setSql] = useState(route.params.get("q") ?? "");
  const [rows, setRows] = useState<Row[] | null>(null);
  const [names, setNames] = useState<string[]>([]);
  const [shared, setShared] = useState(false);
  const controller = useRef<AbortController | null>(null);
  const run = useAction(async () => {
    controller.current?.abort();
    controller.current = new AbortController();
    navigate(address(db, sql), true);
    setRows(await runSql(sql, db, controller.current.signal));
  });
  const download = useAction(async () => {
    const blob = await runSqlCsv(sql, db);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `${db}-query.csv`;
    link.click();
    window.setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  });
  useEffect(() => {
    if (route.params.get("q")) void run.run();
    return () => controller.current?.abort();
  }, []);
  useEffect(() => {
    runSql("SHOW TABLES", db)
      .then((r) => setNames((n) => Array.from(new Set([...n, ...r.map((x) => String(x.table_name))]))))
      .catch(() => undefined);
  }, [db]);
  const share = async () => {
    const link = location.origin + address(db, sql);
    navigate(address(db, sql), true);
    try {
      await navigator.clipboard.writeText(link);
      setShared(true);
      window.setTimeout(() => setShared(false), 2000);
    } catch {
      setShared(false);
    }
  };
  return (
    <>
      <div class="explore">
        <Catalog
          db={db}
          isAdmin={session.user?.role === "admin"}
          onDatabase={(next) => {
            setDb(next);
            navigate(address(next, sql), true);
          }}
          onTable={(table) => setSql(`SELECT * FROM ${ident(table)} ORDER BY time DESC LIMIT 100`)}
          onColumns={(_table, columns) => setNames((n) => Array.from(new Set([...n, ...columns])))}
        />
        <div class="stack">
          <form class="card stack" onSubmit={(e) => (e.preventDefault(), void run.run())}>
            <Editor value={sql} names={names} onChange={setSql} onRun={() => void run.run()} />
            <div class="row">
              <Button type="submit" kind="primary" busy={run.running} disabled={!sql.trim()}>
                {t("explore.run")}
              </Button>
              <Button busy={download.running} disabled={!sql.trim()} onClick={() => void download.run()}>
                {t("explore.csv")}
              </Button>
              <Button disabled={!sql.trim()} onClick={() => void share()}>
                {shared ? t("explore.link_copied") : t("explore.share")}
              </Button>
            </div>
            <Notice>{run.error || download.error}</Notice>
          </form>
          {rows && <Results rows={rows} />}
          {!rows && !run.running && <p class="muted">{t("explore.start")}</p>}
        </div>
      </div>
    </>
  );
}
