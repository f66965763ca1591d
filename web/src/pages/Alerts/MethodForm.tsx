// A new notification method: a webhook, an email account, or apprise URLs. The server checks it
// (a test message, or a connection to the SMTP server) unless asked not to.
import { useState } from "preact/hooks";
import { createMethod } from "../../api/alerts";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { t } from "../../i18n";

type Kind = "webhook" | "email" | "apprise";

function bodyOf(kind: Kind, f: Record<string, string>): Record<string, unknown> {
  if (kind === "webhook") {
    if (!/^https?:\/\//i.test(f.url.trim())) throw new Error(`url: expected an http:// or https:// URL, got '${f.url.trim()}'`);
    return { url: f.url.trim() };
  }
  if (kind === "apprise") {
    const urls = f.apprise.split("\n").map((u) => u.trim()).filter(Boolean);
    if (!urls.length) throw new Error("apprise_urls: at least one apprise URL");
    return { apprise_urls: urls };
  }
  if (!f.host.trim()) throw new Error("smtp_host: an email method needs the SMTP server's host name");
  const to = f.to.split(",").map((a) => a.trim()).filter(Boolean);
  if (!to.length) throw new Error("to: at least one address");
  return {
    smtp_host: f.host.trim(),
    smtp_port: Number(f.port) || 0,
    smtp_security: f.security,
    smtp_username: f.user,
    smtp_password: f.password,
    from: f.from.trim(),
    to,
  };
}

export function MethodForm({ onMade }: { onMade: () => void }) {
  const [kind, setKind] = useState<Kind>("webhook");
  const [name, setName] = useState("");
  const [skip, setSkip] = useState(false);
  const [f, setF] = useState<Record<string, string>>({ url: "", apprise: "", host: "", port: "", security: "starttls", user: "", password: "", from: "", to: "" });
  const create = useAction(async () => {
    if (!name.trim()) throw new Error("name: a notification method needs a name");
    await createMethod({ name: name.trim(), kind, skip_check: skip, ...bodyOf(kind, f) });
    setName("");
    onMade();
  });
  const input = (k: string, type = "text") => (id: string) => (
    <input id={id} type={type} value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} />
  );
  return (
    <form class="card stack" onSubmit={(e) => (e.preventDefault(), void create.run())}>
      <h2>{t("methods.new")}</h2>
      <div class="row">
        <Field label={t("methods.name")}>{(id) => <input id={id} value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label={t("methods.kind")}>
          {(id) => (
            <select id={id} value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind)}>
              <option value="webhook">{t("methods.webhook")}</option>
              <option value="email">{t("methods.email")}</option>
              <option value="apprise">{t("methods.apprise")}</option>
            </select>
          )}
        </Field>
      </div>
      {kind === "webhook" && <Field label={t("methods.url")} hint={t("methods.url_hint")}>{input("url", "url")}</Field>}
      {kind === "apprise" && (
        <Field label={t("methods.apprise_urls")} hint={t("methods.apprise_hint")}>
          {(id) => <textarea id={id} rows={3} value={f.apprise} onInput={(e) => setF({ ...f, apprise: e.currentTarget.value })} />}
        </Field>
      )}
      {kind === "email" && (
        <div class="row">
          <Field label={t("methods.smtp_host")}>{input("host")}</Field>
          <Field label={t("methods.smtp_port")}>{input("port")}</Field>
          <Field label={t("methods.smtp_security")}>
            {(id) => (
              <select id={id} value={f.security} onChange={(e) => setF({ ...f, security: e.currentTarget.value })}>
                <option value="starttls">STARTTLS</option>
                <option value="tls">TLS</option>
                <option value="none">{t("methods.no_tls")}</option>
              </select>
            )}
          </Field>
          <Field label={t("methods.smtp_user")}>{input("user")}</Field>
          <Field label={t("methods.smtp_password")}>{input("password", "password")}</Field>
          <Field label={t("methods.from")}>{input("from", "email")}</Field>
          <Field label={t("methods.to")}>{input("to")}</Field>
        </div>
      )}
      <label class="check"><input type="checkbox" checked={skip} onChange={(e) => setSkip(e.currentTarget.checked)} /> {t("methods.skip_check")}</label>
      <Notice>{create.error}</Notice>
      <Button type="submit" kind="primary" busy={create.running}>{t("methods.create")}</Button>
    </form>
  );
}
