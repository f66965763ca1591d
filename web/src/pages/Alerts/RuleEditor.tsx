// Create or change a server or SQL rule, with a live preview: the rule as typed is evaluated
// once by the server (nothing saved) and the servers or rows it would fire for now are listed.
import { useState } from "preact/hooks";
import { createRule, listGroups, listRules, previewRule, Rule, updateRule } from "../../api/alerts";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Link } from "../../components/ui/Link";
import { Loading, Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { useDebounced, useFetch } from "../../hooks/useFetch";
import { navigate } from "../../hooks/useRoute";
import { t } from "../../i18n";
import { Conditions } from "./Conditions";
import { draftOf, RuleDraft, ruleBody, ruleProblems, SEVERITIES } from "./ruleform";

function PreviewPanel({ draft }: { draft: RuleDraft }) {
  const problems = ruleProblems(draft);
  const body = useDebounced(problems.length ? "" : JSON.stringify(ruleBody(draft)), 500);
  const preview = useFetch((signal) => (body ? previewRule(JSON.parse(body) as Record<string, unknown>, signal) : Promise.resolve(null)), [body]);
  const p = preview.data;
  return (
    <section class="preview" aria-live="polite" aria-label={t("alerts.preview")}>
      <h2>{t("alerts.preview")}</h2>
      {problems.length > 0 ? (
        <ul class="field-error">{problems.map((m) => <li key={m}>{m}</li>)}</ul>
      ) : preview.error ? (
        <Notice>{preview.error}</Notice>
      ) : !p || preview.isLoading ? (
        <Loading label={t("alerts.previewing")} />
      ) : (
        <>
          <p>
            <strong>
              {p.kind === "server" ? t("alerts.would_fire_servers", { n: p.count, checked: p.checked }) : t("alerts.would_fire_rows", { n: p.count })}
            </strong>
          </p>
          {p.matches.length > 0 && (
            <ul>
              {p.matches.map((m, i) => (
                <li key={i}>
                  {m.labels.server_name ?? Object.entries(m.labels).map(([k, v]) => `${k}=${v}`).join(", ")}
                  {m.value !== null && <span class="muted"> · {m.value.toFixed(2)}</span>}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

function Editor({ rule }: { rule: Rule | null }) {
  const [d, setD] = useState<RuleDraft>(() => draftOf(rule));
  const groups = useFetch((signal) => listGroups(signal), []);
  const save = useAction(async () => {
    const problems = ruleProblems(d);
    if (problems.length) throw new Error(problems[0]);
    if (rule) await updateRule(rule.id, ruleBody(d));
    else await createRule(ruleBody(d));
    navigate("/alerts/rules");
  });
  const text = (k: "name" | "query" | "threshold" | "interval" | "forSeconds") => (e: Event) =>
    setD({ ...d, [k]: (e.currentTarget as HTMLInputElement).value });
  return (
    <div class="grid-2">
      <form class="card stack" onSubmit={(e) => (e.preventDefault(), void save.run())}>
        <Field label={t("alerts.rule_name")}>{(id) => <input id={id} value={d.name} onInput={text("name")} />}</Field>
        <div class="row">
          <Field label={t("alerts.rule_kind")}>
            {(id) => (
              <select id={id} value={d.kind} disabled={Boolean(rule)} onChange={(e) => setD({ ...d, kind: e.currentTarget.value as "server" | "sql" })}>
                <option value="server">{t("alerts.kind_server")}</option>
                <option value="sql">{t("alerts.kind_sql")}</option>
              </select>
            )}
          </Field>
          <Field label={t("alerts.severity")}>
            {(id) => (
              <select id={id} value={d.severity} onChange={(e) => setD({ ...d, severity: e.currentTarget.value })}>
                {SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}
              </select>
            )}
          </Field>
          <Field label={t("alerts.notify_group")}>
            {(id) => (
              <select id={id} value={d.group} onChange={(e) => setD({ ...d, group: Number(e.currentTarget.value) })}>
                <option value={0}>{t("alerts.no_group")}</option>
                {(groups.data ?? []).map((g) => <option key={g.group.id} value={g.group.id}>{g.group.name}</option>)}
              </select>
            )}
          </Field>
        </div>
        {d.kind === "server" ? (
          <Conditions conditions={d.conditions} onChange={(conditions) => setD({ ...d, conditions })} />
        ) : (
          <>
            <Field label={t("alerts.query")} hint={t("alerts.query_hint")}>
              {(id, hint) => <textarea id={id} rows={5} spellcheck={false} aria-describedby={hint} value={d.query} onInput={text("query")} />}
            </Field>
            <Field label={t("alerts.threshold")} hint={t("alerts.threshold_hint")}>
              {(id, hint) => <input id={id} aria-describedby={hint} value={d.threshold} onInput={text("threshold")} />}
            </Field>
            <div class="row">
              <Field label={t("alerts.interval")}>{(id) => <input id={id} inputMode="numeric" size={8} value={d.interval} onInput={text("interval")} />}</Field>
              <Field label={t("alerts.for_seconds")}>{(id) => <input id={id} inputMode="numeric" size={8} value={d.forSeconds} onInput={text("forSeconds")} />}</Field>
            </div>
          </>
        )}
        <label class="check">
          <input type="checkbox" checked={d.once} onChange={(e) => setD({ ...d, once: e.currentTarget.checked })} /> {t("alerts.trigger_once")}
        </label>
        <Notice>{save.error}</Notice>
        <div class="actions">
          <Button type="submit" kind="primary" busy={save.running}>{rule ? t("common.save") : t("alerts.create_rule")}</Button>
          <Link href="/alerts/rules" class="btn">{t("common.cancel")}</Link>
        </div>
      </form>
      <PreviewPanel draft={d} />
    </div>
  );
}

export function RuleEditor({ id }: { id: number | null }) {
  const rule = useFetch((signal) => (id ? listRules(signal, id).then((found) => found[0] ?? null) : Promise.resolve(null)), [id]);
  const foreign = rule.data && rule.data.kind !== "server" && rule.data.kind !== "sql";
  return (
    <>
      <h2>{id ? t("alerts.edit_rule") : t("alerts.new_rule")}</h2>
      <Notice>{rule.error}</Notice>
      {rule.isLoading && !rule.data ? (
        <Loading label={t("common.loading")} />
      ) : id && !rule.data && !rule.error ? (
        <Notice>{t("alerts.no_such_rule")}</Notice>
      ) : foreign ? (
        <Notice kind="info">{t("alerts.foreign_rule")}</Notice>
      ) : (
        <Editor rule={rule.data} />
      )}
    </>
  );
}
