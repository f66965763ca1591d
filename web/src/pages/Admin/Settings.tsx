import { useState } from "preact/hooks";
import { updateSetting } from "../../api/admin";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { LANGUAGES, t } from "../../i18n";
import { useSession } from "../../state/session";

export function Settings() {
  const { session, dispatch } = useSession();
  const config = session.setting!.config;
  const [form, setForm] = useState({
    site_name: config.site_name,
    language: config.language,
    install_host: config.install_host,
    custom_code: config.custom_code,
    force_auth: config.force_auth,
  });
  const [saved, setSaved] = useState(false);
  const save = useAction(async () => {
    setSaved(false);
    dispatch({ type: "setting", setting: await updateSetting(form) });
    setSaved(true);
  });
  return (
    <form class="card stack narrow" onSubmit={(e) => (e.preventDefault(), void save.run())}>
      <Field label={t("settings.site_name")}>
        {(id) => <input id={id} required maxLength={128} value={form.site_name} onInput={(e) => setForm({ ...form, site_name: e.currentTarget.value })} />}
      </Field>
      <Field label={t("settings.language")} hint={t("settings.language_hint")}>
        {(id, hint) => (
          <select id={id} aria-describedby={hint} value={form.language} onChange={(e) => setForm({ ...form, language: e.currentTarget.value })}>
            {LANGUAGES.map((l) => (
              <option key={l.code} value={l.code}>
                {l.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={t("settings.install_host")} hint={t("settings.install_host_hint")}>
        {(id, hint) => <input id={id} aria-describedby={hint} placeholder="monitor.example.com:8902" value={form.install_host} onInput={(e) => setForm({ ...form, install_host: e.currentTarget.value })} />}
      </Field>
      <label class="check">
        <input type="checkbox" checked={form.force_auth} onChange={(e) => setForm({ ...form, force_auth: e.currentTarget.checked })} />
        {t("settings.force_auth")}
      </label>
      <Field label={t("settings.custom_code")} hint={t("settings.custom_code_hint")}>
        {(id, hint) => <textarea id={id} rows={4} aria-describedby={hint} value={form.custom_code} onInput={(e) => setForm({ ...form, custom_code: e.currentTarget.value })} />}
      </Field>
      <Notice>{save.error}</Notice>
      {saved && <Notice kind="ok">{t("common.saved")}</Notice>}
      <Button type="submit" kind="primary" busy={save.running}>
        {t("common.save")}
      </Button>
      {session.setting?.version && <p class="muted small">Heron {session.setting.version}</p>}
    </form>
  );
}
