// Create or change a monitor of any kind. The fields are checked here as the API checks them
// (validate.ts) before sending; the API's own answer is shown as it came.
import { useState } from "preact/hooks";
import { listGroups } from "../../api/alerts";
import { createMonitor, getMonitor, Monitor, updateMonitor } from "../../api/services";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Link } from "../../components/ui/Link";
import { Loading, Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { navigate } from "../../hooks/useRoute";
import { Key, t } from "../../i18n";
import { KindOptions } from "./KindOptions";
import { Draft, Kind, KINDS, optionsOf, Problems, validate } from "./validate";
import "./style.css";

const KIND_TEXT: Record<Kind, Key> = {
  http: "services.kind_http",
  tcp: "services.kind_tcp",
  icmp: "services.kind_icmp",
  dns: "services.kind_dns",
  push: "services.kind_push",
};

function draftOf(m: Monitor | null): Draft {
  const o = m?.options ?? {};
  const statuses = Array.isArray(o.expected_status) ? (o.expected_status as unknown[]).join(", ") : "200-299";
  return {
    name: m?.name ?? "",
    kind: (m?.kind as Kind) ?? "http",
    target: m?.target ?? "",
    interval: String(m?.duration ?? 30),
    timeout: String(m?.timeout ?? 10),
    retries: String(m?.retries ?? 1),
    maxLatency: m?.max_latency ? String(m.max_latency) : "",
    expectedStatus: statuses,
    keyword: typeof o.keyword === "string" ? o.keyword : "",
    recordType: typeof o.record_type === "string" ? o.record_type : "A",
    resolver: typeof o.resolver === "string" ? o.resolver : "",
    count: String(typeof o.count === "number" ? o.count : 3),
    grace: String(typeof o.grace_seconds === "number" ? o.grace_seconds : 60),
  };
}

export function Problem({ text, id }: { text?: string; id: string }) {
  return text ? (
    <small id={id} class="field-error">
      {text}
    </small>
  ) : null;
}

function Form({ monitor }: { monitor: Monitor | null }) {
  const [d, setD] = useState<Draft>(() => draftOf(monitor));
  const [vantage, setVantage] = useState(monitor?.heron_vantage ?? "always");
  const [enabled, setEnabled] = useState(monitor?.enabled ?? true);
  const [hidden, setHidden] = useState(monitor?.hide_for_guest ?? false);
  const [group, setGroup] = useState(monitor?.notification_group_id ?? 0);
  // Checked on submit, then again on every change, so a fixed field loses its message at once.
  const [tried, setTried] = useState(false);
  const problems: Problems = tried ? validate(d) : {};
  const groups = useFetch((signal) => listGroups(signal), []);
  const set = (k: keyof Draft) => (e: Event) => setD({ ...d, [k]: (e.currentTarget as HTMLInputElement).value });
  const save = useAction(async () => {
    const form = {
      name: d.name.trim(),
      type: d.kind,
      ...(d.kind === "push" ? {} : { target: d.target.trim() }),
      duration: Number(d.interval),
      timeout: Number(d.timeout),
      retries: Number(d.retries),
      max_latency: Number(d.maxLatency || 0),
      heron_vantage: vantage,
      hide_for_guest: hidden,
      enabled,
      notification_group_id: group,
      notify: group > 0,
      options: optionsOf(d),
    };
    const id = monitor ? (await updateMonitor(monitor.id, form), monitor.id) : await createMonitor(form);
    navigate(`/services/${id}`);
  });
  const submit = (e: Event) => {
    e.preventDefault();
    setTried(true);
    if (Object.keys(validate(d)).length === 0) void save.run();
    else window.setTimeout(() => document.querySelector<HTMLElement>(".monitor-form [aria-invalid=true]")?.focus(), 0);
  };
  const input = (k: keyof Draft, extra: Record<string, unknown> = {}) => (id: string, hint?: string) => (
    <>
      <input id={id} value={d[k]} onInput={set(k)} aria-invalid={problems[k] ? true : undefined} aria-describedby={[hint, problems[k] ? `${id}-err` : ""].filter(Boolean).join(" ") || undefined} {...extra} />
      <Problem id={`${id}-err`} text={problems[k]} />
    </>
  );
  return (
    <form class="card stack monitor-form narrow" onSubmit={submit} noValidate>
      <Field label={t("services.name")}>{input("name")}</Field>
      <Field label={t("services.kind")}>
        {(id) => (
          <select id={id} value={d.kind} disabled={Boolean(monitor)} onChange={(e) => setD({ ...d, kind: e.currentTarget.value as Kind })}>
            {KINDS.map((k) => <option key={k} value={k}>{t(KIND_TEXT[k])}</option>)}
          </select>
        )}
      </Field>
      {d.kind !== "push" && <Field label={t("services.target")} hint={t(`services.target_hint_${d.kind}` as Key)}>{input("target")}</Field>}
      <div class="row">
        <Field label={t("services.interval")}>{input("interval", { inputMode: "numeric", size: 8 })}</Field>
        {d.kind !== "push" && <Field label={t("services.timeout")}>{input("timeout", { inputMode: "decimal", size: 8 })}</Field>}
        <Field label={t("services.retries")}>{input("retries", { inputMode: "numeric", size: 6 })}</Field>
        {d.kind !== "push" && <Field label={t("services.max_latency")}>{input("maxLatency", { inputMode: "decimal", size: 8 })}</Field>}
      </div>
      <KindOptions draft={d} input={input} setDraft={setD} />
      {d.kind !== "push" && (
        <Field label={t("services.heron_vantage")}>
          {(id) => (
            <select id={id} value={vantage} onChange={(e) => setVantage(e.currentTarget.value)}>
              <option value="always">{t("services.vantage_always")}</option>
              <option value="when_no_agent">{t("services.vantage_when_no_agent")}</option>
              <option value="never">{t("services.vantage_never")}</option>
            </select>
          )}
        </Field>
      )}
      <Field label={t("services.notify_group")}>
        {(id) => (
          <select id={id} value={group} onChange={(e) => setGroup(Number(e.currentTarget.value))}>
            <option value={0}>{t("services.no_group")}</option>
            {(groups.data ?? []).map((g) => <option key={g.group.id} value={g.group.id}>{g.group.name}</option>)}
          </select>
        )}
      </Field>
      <label class="check"><input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} /> {t("services.enabled")}</label>
      <label class="check"><input type="checkbox" checked={hidden} onChange={(e) => setHidden(e.currentTarget.checked)} /> {t("services.hide_for_guest")}</label>
      <Notice>{save.error}</Notice>
      <div class="actions">
        <Button type="submit" kind="primary" busy={save.running}>{monitor ? t("common.save") : t("services.create")}</Button>
        <Link href={monitor ? `/services/${monitor.id}` : "/services"} class="btn">{t("common.cancel")}</Link>
      </div>
    </form>
  );
}

export function MonitorForm({ id }: { id: number | null }) {
  const existing = useFetch((signal) => (id ? getMonitor(id, signal) : Promise.resolve(null)), [id]);
  return (
    <>
      <h1>{id ? t("services.edit_title") : t("services.new_title")}</h1>
      <Notice>{existing.error}</Notice>
      {existing.isLoading && !existing.data ? <Loading label={t("common.loading")} /> : (!id || existing.data) && <Form monitor={existing.data} />}
    </>
  );
}
