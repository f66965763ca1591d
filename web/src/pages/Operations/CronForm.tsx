import { useState } from "preact/hooks";
import { listGroups } from "../../api/alerts";
import { createCron, Cron, CronForm as Form, updateCron } from "../../api/ops";
import type { Server } from "../../api/types";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";
import { cronProblem } from "../../utils/cron";

const BLANK: Form = { name: "", task_type: 0, scheduler: "0 0 3 * * *", command: "", servers: [], cover: 0, push_successful: false, notification_group_id: 0 };

interface Props {
  task: Cron | null;
  servers: Server[];
  onDone: (id: number | null) => void;
}

/** Create or change a task; the schedule is checked while typing (seconds first, like Nezha). */
export function CronForm({ task, servers, onDone }: Props) {
  const [form, setForm] = useState<Form>(task ? { ...BLANK, ...task } : BLANK);
  const set = (change: Partial<Form>) => setForm((f) => ({ ...f, ...change }));
  const groups = useFetch((signal) => listGroups(signal), []);
  const problem = form.task_type === 0 ? cronProblem(form.scheduler) : null;
  const save = useAction(async () => {
    const body = { ...form, cover: form.task_type === 0 && form.cover === 2 ? 0 : form.cover };
    if (task) {
      await updateCron(task.id, body);
      onDone(task.id);
    } else onDone(await createCron(body));
  });
  const toggle = (id: number, on: boolean) => set({ servers: on ? [...form.servers, id] : form.servers.filter((s) => s !== id) });
  return (
    <form class="card stack" aria-labelledby="cron-form-title" onSubmit={(e) => (e.preventDefault(), void save.run())}>
      <h2 id="cron-form-title">{task ? t("ops.cron_edit", { name: task.name }) : t("ops.cron_new")}</h2>
      <div class="row">
        <Field label={t("ops.name")}>{(id) => <input id={id} required value={form.name} onInput={(e) => set({ name: e.currentTarget.value })} />}</Field>
        <Field label={t("ops.cron_type")}>
          {(id) => (
            <select id={id} value={form.task_type} onChange={(e) => set({ task_type: Number(e.currentTarget.value) })}>
              <option value={0}>{t("ops.cron_scheduled")}</option>
              <option value={1}>{t("ops.cron_triggered")}</option>
            </select>
          )}
        </Field>
        {form.task_type === 0 && (
          <Field label={t("ops.cron_schedule")} hint={problem ? `${problem.field}: ${problem.message}` : t("ops.cron_schedule_hint")}>
            {(id, hint) => (
              <input id={id} class="mono" value={form.scheduler} aria-invalid={problem !== null} aria-describedby={hint} onInput={(e) => set({ scheduler: e.currentTarget.value })} />
            )}
          </Field>
        )}
      </div>
      <Field label={t("ops.cron_command")} hint={t("ops.cron_command_hint")}>
        {(id, hint) => <textarea id={id} class="mono" rows={3} required spellcheck={false} aria-describedby={hint} value={form.command} onInput={(e) => set({ command: e.currentTarget.value })} />}
      </Field>
      <fieldset>
        <legend>{t("ops.cron_servers")}</legend>
        <Field label={t("ops.cron_cover")}>
          {(id) => (
            <select id={id} value={form.cover} onChange={(e) => set({ cover: Number(e.currentTarget.value) })}>
              <option value={0}>{t("ops.cover_only")}</option>
              <option value={1}>{t("ops.cover_except")}</option>
              {form.task_type === 1 && <option value={2}>{t("ops.cover_alert")}</option>}
            </select>
          )}
        </Field>
        <div class="checks">
          {servers.map((s) => (
            <label key={s.id}>
              <input type="checkbox" checked={form.servers.includes(s.id)} onChange={(e) => toggle(s.id, e.currentTarget.checked)} /> {s.name}
            </label>
          ))}
          {!servers.length && <p class="muted">{t("ops.no_servers_hint")}</p>}
        </div>
      </fieldset>
      <Field label={t("ops.cron_group")} hint={t("ops.cron_group_hint")}>
        {(id, hint) => (
          <select id={id} aria-describedby={hint} value={form.notification_group_id} onChange={(e) => set({ notification_group_id: Number(e.currentTarget.value) })}>
            <option value={0}>{t("ops.cron_no_group")}</option>
            {(groups.data ?? []).map((g) => <option key={g.group.id} value={g.group.id}>{g.group.name}</option>)}
          </select>
        )}
      </Field>
      <label>
        <input type="checkbox" checked={form.push_successful} onChange={(e) => set({ push_successful: e.currentTarget.checked })} /> {t("ops.cron_push_successful")}
      </label>
      <Notice>{save.error || groups.error}</Notice>
      <div class="row">
        <Button type="submit" kind="primary" busy={save.running} disabled={problem !== null}>
          {t("common.save")}
        </Button>
        <Button onClick={() => onDone(null)}>{t("common.cancel")}</Button>
      </div>
    </form>
  );
}
