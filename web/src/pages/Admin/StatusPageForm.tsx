import { useState } from "preact/hooks";
import { StatusPageForm as Form } from "../../api/admin";
import type { Server } from "../../api/types";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { t } from "../../i18n";

interface Props {
  initial: Form;
  servers: Server[];
  onSave: (form: Form) => Promise<unknown>;
  onCancel: () => void;
}

/** The edit mode of a status page: its address, words, and the servers it lists. */
export function StatusPageForm({ initial, servers, onSave, onCancel }: Props) {
  const [form, setForm] = useState(initial);
  const [filter, setFilter] = useState("");
  const save = useAction(() => onSave(form));
  const shown = servers.filter((s) => s.name.toLowerCase().includes(filter.toLowerCase()));
  return (
    <form class="card stack" onSubmit={(e) => (e.preventDefault(), void save.run())}>
      <div class="row">
        <Field label={t("pages.slug")} hint={t("pages.slug_hint")}>
          {(id, hint) => <input id={id} required pattern="[a-z0-9](?:[a-z0-9-]*[a-z0-9])?" maxLength={64} aria-describedby={hint} value={form.slug} onInput={(e) => setForm({ ...form, slug: e.currentTarget.value })} />}
        </Field>
        <Field label={t("pages.title")}>
          {(id) => <input id={id} required maxLength={255} value={form.title} onInput={(e) => setForm({ ...form, title: e.currentTarget.value })} />}
        </Field>
      </div>
      <Field label={t("pages.description")}>
        {(id) => <textarea id={id} rows={2} maxLength={4096} value={form.description} onInput={(e) => setForm({ ...form, description: e.currentTarget.value })} />}
      </Field>
      <fieldset>
        <legend>{t("pages.servers", { count: form.servers.length })}</legend>
        <label class="sr-only" for="page-server-filter">
          {t("servers.search")}
        </label>
        <input id="page-server-filter" type="search" placeholder={t("servers.search")} value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        <div class="pick-list">
          {shown.map((s) => (
            <label class="check" key={s.id}>
              <input
                type="checkbox"
                checked={form.servers.includes(s.id)}
                onChange={(e) =>
                  setForm({ ...form, servers: e.currentTarget.checked ? [...form.servers, s.id] : form.servers.filter((x) => x !== s.id) })
                }
              />
              {s.name}
              {s.hide_for_guest && <span class="muted small"> ({t("pages.hidden")})</span>}
            </label>
          ))}
        </div>
      </fieldset>
      <Notice>{save.error}</Notice>
      <div class="row">
        <Button type="submit" kind="primary" busy={save.running}>
          {t("common.save")}
        </Button>
        <Button onClick={onCancel}>{t("common.cancel")}</Button>
      </div>
    </form>
  );
}
