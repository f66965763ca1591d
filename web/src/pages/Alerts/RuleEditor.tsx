// Create or change a server, service, PromQL or SQL rule, with a live preview: the rule as typed
// is evaluated once by the server (nothing saved) and what it would fire for now is listed.
import { useState } from "preact/hooks";
import { createRule, listGroups, listRules, Preview, previewRule, Rule, updateRule } from "../../api/alerts";
import { Cron, listCron } from "../../api/ops";
import { listMonitors } from "../../api/services";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Link } from "../../components/ui/Link";
import { Loading, Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { useDebounced, useFetch } from "../../hooks/useFetch";
import { navigate } from "../../hooks/useRoute";
import { Key, t } from "../../i18n";
import { Conditions } from "./Conditions";
import { draftOf, RULE_KINDS, RuleDraft, RuleKind, ruleBody, ruleProblems, SEVERITIES, switchKind } from "./ruleform";

function previewHeadline(p: Preview): string {
  if (p.kind === "server") return t("alerts.would_fire_servers", { n: p.count, checked: p.checked });
  if (p.kind === "service") return t("alerts.would_fire_monitors", { n: p.count, checked: p.checked });
  if (p.kind === "promql") return t("alerts.would_fire_series", { n: p.count });
  return t("alerts.would_fire_rows", { n: p.count });
}

function matchText(labels: Record<string, string>): string {
  if (labels.server_name) return labels.server_name;
  if (labels.service_name) return `${labels.service_name} · ${labels.vantage_name ?? ""}`;
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(", ") || "{}";
}

/** Triggered cron tasks (task_type 1) to run when the rule's alert fires or resolves. */
function TaskPicker({ legend, tasks, chosen, onChange }: { legend: string; tasks: Cron[] | null; chosen: number[]; onChange: (ids: number[]) => void }) {
  if (!tasks) return null;
  const missing = chosen.filter((id) => !tasks.some((task) => task.id === id));
  return (
    <fieldset>
      <legend>{legend}</legend>
      <div class="checks">
        {tasks.map((task) => (
          <label key={task.id}>
            <input
              type="checkbox"
              checked={chosen.includes(task.id)}
              onChange={(e) => onChange(e.currentTarget.checked ? [...chosen, task.id] : chosen.filter((id) => id !== task.id))}
            />{" "}
            {task.name}
          </label>
        ))}
        {missing.map((id) => (
          <label key={id}>
            <input type="checkbox" checked onChange={() => onChange(chosen.filter((x) => x !== id))} /> {t("alerts.task_unknown", { id })}
          </label>
        ))}
        {!tasks.length && !missing.length && (
          <span class="muted small">
            {t("alerts.no_triggered_tasks")} <Link href="/operations/cron">{t("alerts.make_task")}</Link>
          </span>
        )}
      </div>
    </fieldset>
  );
}

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
            <strong>{previewHeadline(p)}</strong>
          </p>
          {p.matches.length > 0 && (
            <ul>
              {p.matches.map((m, i) => (
                <li key={i}>
                  {matchText(m.labels)}
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
  const cron = useFetch((signal) => listCron(signal), []);
  const monitors = useFetch((signal) => (d.kind === "service" ? listMonitors(signal) : Promise.resolve(null)), [d.kind === "service"]);
  const triggered = cron.data ? cron.data.value.filter((task) => task.task_type === 1) : null;
  const save = useAction(async () => {
    const problems = ruleProblems(d);
    if (problems.length) throw new Error(problems[0]);
    if (rule) await updateRule(rule.id, ruleBody(d));
    else await createRule(ruleBody(d));
    navigate("/alerts/rules");
  });
  const text = (k: "name" | "query" | "threshold" | "expr" | "database" | "interval" | "forSeconds" | "keepFiring" | "labels" | "annotations") => (e: Event) =>
    setD({ ...d, [k]: (e.currentTarget as HTMLInputElement).value });
  return (
    <div class="grid-2">
      <form class="card stack" onSubmit={(e) => (e.preventDefault(), void save.run())}>
        <Field label={t("alerts.rule_name")}>{(id) => <input id={id} value={d.name} onInput={text("name")} />}</Field>
        <div class="row">
          <Field label={t("alerts.rule_kind")}>
            {(id) => (
              <select id={id} value={d.kind} disabled={Boolean(rule)} onChange={(e) => setD(switchKind(d, e.currentTarget.value as RuleKind))}>
                {RULE_KINDS.map((k) => <option key={k} value={k}>{t(`alerts.kind_${k}` as Key)}</option>)}
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
        {d.kind === "server" || d.kind === "service" ? (
          <Conditions
            kind={d.kind}
            conditions={d.conditions}
            monitors={(monitors.data ?? []).map((m) => ({ id: m.id, name: m.name }))}
            onChange={(conditions) => setD({ ...d, conditions })}
          />
        ) : d.kind === "promql" ? (
          <>
            <Field label={t("alerts.expr")} hint={t("alerts.expr_hint")}>
              {(id, hint) => <textarea id={id} class="mono" rows={3} spellcheck={false} aria-describedby={hint} value={d.expr} onInput={text("expr")} />}
            </Field>
            <div class="row">
              <Field label={t("alerts.interval")}>{(id) => <input id={id} inputMode="numeric" size={8} value={d.interval} onInput={text("interval")} />}</Field>
              <Field label={t("alerts.for_seconds")}>{(id) => <input id={id} inputMode="numeric" size={8} value={d.forSeconds} onInput={text("forSeconds")} />}</Field>
              <Field label={t("alerts.keep_firing")}>{(id) => <input id={id} inputMode="numeric" size={8} value={d.keepFiring} onInput={text("keepFiring")} />}</Field>
              <Field label={t("alerts.database")}>{(id) => <input id={id} size={12} value={d.database} onInput={text("database")} />}</Field>
            </div>
            <div class="row">
              <Field label={t("alerts.rule_labels")} hint={t("alerts.pairs_hint")}>
                {(id, hint) => <textarea id={id} class="mono" rows={3} spellcheck={false} aria-describedby={hint} value={d.labels} onInput={text("labels")} />}
              </Field>
              <Field label={t("alerts.rule_annotations")} hint={t("alerts.annotations_hint")}>
                {(id, hint) => <textarea id={id} class="mono" rows={3} spellcheck={false} aria-describedby={hint} value={d.annotations} onInput={text("annotations")} />}
              </Field>
            </div>
          </>
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
        <div class="row">
          <TaskPicker legend={t("alerts.fail_tasks")} tasks={triggered} chosen={d.failTasks} onChange={(failTasks) => setD({ ...d, failTasks })} />
          <TaskPicker legend={t("alerts.recover_tasks")} tasks={triggered} chosen={d.recoverTasks} onChange={(recoverTasks) => setD({ ...d, recoverTasks })} />
        </div>
        <label class="check">
          <input type="checkbox" checked={d.once} onChange={(e) => setD({ ...d, once: e.currentTarget.checked })} /> {t("alerts.trigger_once")}
        </label>
        <Notice>{save.error || cron.error || monitors.error}</Notice>
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
  // Nightingale's rules (PromQL without Heron's `expr`) are changed through its API.
  const foreign = rule.data && (!(RULE_KINDS as readonly string[]).includes(rule.data.kind) || (rule.data.kind === "promql" && !rule.data.expr));
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
