import { useState } from "preact/hooks";
import { createDdns, Ddns, DdnsForm as Form, updateDdns } from "../../api/ops";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { t } from "../../i18n";

const BLANK: Form = {
  name: "", provider: "webhook", enable_ipv4: true, enable_ipv6: false, max_retries: 3, domains: [], access_id: "", access_secret: "",
  webhook_url: "", webhook_method: 1, webhook_request_type: 1, webhook_request_body: "", webhook_headers: "", dns_server: "", zone: "",
  tsig_algorithm: "hmac-sha256",
};

/** A DDNS profile: the provider's own fields only (a masked secret sent back keeps the stored one). */
export function DdnsForm({ profile, providers, onDone }: { profile: Ddns | null; providers: string[]; onDone: (saved: boolean) => void }) {
  const [form, setForm] = useState<Form>(profile ? { ...BLANK, ...profile } : BLANK);
  const set = (change: Partial<Form>) => setForm((f) => ({ ...f, ...change }));
  const save = useAction(async () => {
    if (profile) await updateDdns(profile.id, form);
    else await createDdns(form);
    onDone(true);
  });
  const text = (key: keyof Form, label: string, hint?: string, type = "text") => (
    <Field label={label} hint={hint}>
      {(id, h) => <input id={id} type={type} aria-describedby={h} value={String(form[key])} onInput={(e) => set({ [key]: e.currentTarget.value })} />}
    </Field>
  );
  return (
    <form class="card stack" aria-labelledby="ddns-form-title" onSubmit={(e) => (e.preventDefault(), void save.run())}>
      <h2 id="ddns-form-title">{profile ? t("ops.ddns_edit", { name: profile.name }) : t("ops.ddns_new")}</h2>
      <div class="row">
        {text("name", t("ops.name"))}
        <Field label={t("ops.ddns_provider")}>
          {(id) => (
            <select id={id} value={form.provider} onChange={(e) => set({ provider: e.currentTarget.value })}>
              {providers.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("ops.ddns_retries")}>
          {(id) => <input id={id} type="number" min={1} max={10} value={form.max_retries} onInput={(e) => set({ max_retries: Number(e.currentTarget.value) })} />}
        </Field>
      </div>
      <Field label={t("ops.ddns_domains")} hint={t("ops.ddns_domains_hint")}>
        {(id, hint) => (
          <input id={id} aria-describedby={hint} value={form.domains.join(", ")} onInput={(e) => set({ domains: e.currentTarget.value.split(/[\s,]+/).filter(Boolean) })} />
        )}
      </Field>
      <div class="row">
        <label>
          <input type="checkbox" checked={form.enable_ipv4} onChange={(e) => set({ enable_ipv4: e.currentTarget.checked })} /> IPv4 (A)
        </label>
        <label>
          <input type="checkbox" checked={form.enable_ipv6} onChange={(e) => set({ enable_ipv6: e.currentTarget.checked })} /> IPv6 (AAAA)
        </label>
      </div>
      {form.provider === "webhook" && (
        <div class="stack">
          {text("webhook_url", t("ops.ddns_webhook_url"), t("ops.ddns_webhook_hint"), "url")}
          <div class="row">
            <Field label={t("ops.ddns_method")}>
              {(id) => (
                <select id={id} value={form.webhook_method} onChange={(e) => set({ webhook_method: Number(e.currentTarget.value) })}>
                  {["GET", "POST", "PATCH", "DELETE", "PUT"].map((m, i) => (
                    <option key={m} value={i + 1}>
                      {m}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label={t("ops.ddns_body_type")}>
              {(id) => (
                <select id={id} value={form.webhook_request_type} onChange={(e) => set({ webhook_request_type: Number(e.currentTarget.value) })}>
                  <option value={1}>JSON</option>
                  <option value={2}>form</option>
                </select>
              )}
            </Field>
          </div>
          {text("webhook_request_body", t("ops.ddns_body"))}
          {text("webhook_headers", t("ops.ddns_headers"), t("ops.ddns_headers_hint"))}
        </div>
      )}
      {form.provider === "rfc2136" && (
        <div class="row">
          {text("dns_server", t("ops.ddns_dns_server"), "ns1.example.com:53")}
          {text("zone", t("ops.ddns_zone"), t("ops.ddns_zone_hint"))}
          {text("tsig_algorithm", t("ops.ddns_tsig"))}
          {text("access_id", t("ops.ddns_key_name"))}
        </div>
      )}
      {form.provider !== "webhook" && text("access_secret", form.provider === "cloudflare" ? t("ops.ddns_token") : t("ops.ddns_secret"), undefined, "password")}
      <Notice>{save.error}</Notice>
      <div class="row">
        <Button type="submit" kind="primary" busy={save.running}>
          {t("common.save")}
        </Button>
        <Button onClick={() => onDone(false)}>{t("common.cancel")}</Button>
      </div>
    </form>
  );
}
