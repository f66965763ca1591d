import { useState } from "preact/hooks";
import { ident, Row, runSql } from "../../api/sql";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";

interface Props {
  db: string;
  isAdmin: boolean;
  onDatabase: (db: string) => void;
  onTable: (table: string) => void;
  onColumns: (table: string, columns: string[]) => void;
}

const names = (rows: Row[], key: string) => rows.map((r) => String(r[key]));

/** Databases (with their TTL) and tables (with their columns); admins create databases and set TTLs. */
export function Catalog({ db, isAdmin, onDatabase, onTable, onColumns }: Props) {
  const [round, setRound] = useState(0);
  const databases = useFetch((signal) => runSql("SHOW DATABASES", db, signal).then((r) => names(r, "database_name")), [round]);
  const info = useFetch((signal) => runSql(`DESCRIBE DATABASE ${ident(db)}`, db, signal), [db, round]);
  const tables = useFetch((signal) => runSql("SHOW TABLES", db, signal).then((r) => names(r, "table_name")), [db, round]);
  const [open, setOpen] = useState<Record<string, string[]>>({});
  const [newDb, setNewDb] = useState("");
  const [ttl, setTtl] = useState("");
  const expand = async (table: string) => {
    if (open[table]) return setOpen(({ [table]: _, ...rest }) => rest);
    const columns = names(await runSql(`DESCRIBE TABLE ${ident(table)}`, db), "column_name");
    setOpen((o) => ({ ...o, [table]: columns }));
    onColumns(table, columns);
  };
  const create = useAction(async () => {
    await runSql(`CREATE DATABASE ${ident(newDb)}${ttl ? ` WITH TTL '${ttl.replace(/'/g, "")}'` : ""}`, db);
    onDatabase(newDb);
    setNewDb("");
    setRound((n) => n + 1);
  });
  const alter = useAction(async () => {
    await runSql(`ALTER DATABASE ${ident(db)} SET TTL '${ttl.replace(/'/g, "")}'`, db);
    setRound((n) => n + 1);
  });
  const currentTtl = info.data?.[0]?.ttl;
  return (
    <aside class="catalog card stack" aria-label={t("explore.catalog")}>
      <Field label={t("explore.database")}>
        {(id) => (
          <select id={id} value={db} onChange={(e) => onDatabase(e.currentTarget.value)}>
            {(databases.data ?? [db]).map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        )}
      </Field>
      <p class="muted small">
        {t("explore.ttl")}: {currentTtl === undefined ? "…" : String(currentTtl)}
      </p>
      <Notice>{databases.error || tables.error || info.error}</Notice>
      <h2 class="small-title">{t("explore.tables")}</h2>
      {tables.data && !tables.data.length && <p class="muted small">{t("explore.no_tables")}</p>}
      <ul class="tree">
        {(tables.data ?? []).map((table) => (
          <li key={table}>
            <button type="button" class="link" aria-expanded={Boolean(open[table])} onClick={() => void expand(table)}>
              <span aria-hidden="true">{open[table] ? "▾" : "▸"}</span> {table}
            </button>
            <button type="button" class="link small" onClick={() => onTable(table)} aria-label={t("explore.query_table", { table })}>
              {t("explore.query")}
            </button>
            {open[table] && (
              <ul>
                {open[table].map((c) => (
                  <li key={c} class="muted small">
                    {c}
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ul>
      {isAdmin && (
        <details>
          <summary>{t("explore.manage")}</summary>
          <div class="stack">
            <Field label={t("explore.ttl_value")} hint={t("explore.ttl_hint")}>
              {(id, hint) => <input id={id} value={ttl} placeholder="30d" aria-describedby={hint} onInput={(e) => setTtl(e.currentTarget.value)} />}
            </Field>
            <Button busy={alter.running} disabled={!ttl} onClick={() => void alter.run()}>
              {t("explore.set_ttl", { db })}
            </Button>
            <Field label={t("explore.new_database")}>
              {(id) => <input id={id} value={newDb} pattern="[A-Za-z0-9_]+" onInput={(e) => setNewDb(e.currentTarget.value)} />}
            </Field>
            <Button busy={create.running} disabled={!newDb} onClick={() => void create.run()}>
              {t("explore.create_database")}
            </Button>
            <Notice>{create.error || alter.error}</Notice>
          </div>
        </details>
      )}
    </aside>
  );
}
