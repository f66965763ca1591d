import { useState } from "preact/hooks";
import { createToken, deleteToken, listTokens } from "../../api/account";
import { Button } from "../../components/ui/Button";
import { Copy } from "../../components/ui/Copy";
import { Field } from "../../components/ui/Field";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { Time } from "../../components/ui/Time";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";

export function Tokens() {
  const tokens = useFetch((signal) => listTokens(signal), []);
  const [note, setNote] = useState("");
  const [days, setDays] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const create = useAction(async () => {
    const expires = days ? new Date(Date.now() + Number(days) * 86400000).toISOString() : null;
    const made = await createToken(note, expires);
    setSecret(made.token);
    setNote("");
    tokens.reload();
  });
  const remove = useAction(async (id: number) => {
    await deleteToken(id);
    tokens.reload();
  });
  return (
    <div class="stack">
      <form class="card stack" onSubmit={(e) => (e.preventDefault(), void create.run())}>
        <h2>{t("tokens.new")}</h2>
        <p class="muted">{t("tokens.intro")}</p>
        <div class="row">
          <Field label={t("tokens.note")}>
            {(id) => <input id={id} value={note} maxLength={255} required onInput={(e) => setNote(e.currentTarget.value)} />}
          </Field>
          <Field label={t("tokens.expires_days")}>
            {(id) => <input id={id} type="number" min={1} value={days} onInput={(e) => setDays(e.currentTarget.value)} />}
          </Field>
        </div>
        <Notice>{create.error}</Notice>
        <Button type="submit" kind="primary" busy={create.running}>
          {t("tokens.create")}
        </Button>
        {secret && (
          <div class="secret" role="status">
            <p>{t("tokens.once")}</p>
            <Copy value={secret} label={t("tokens.secret")} />
          </div>
        )}
      </form>
      <section class="card">
        <h2>{t("profile.tokens")}</h2>
        <Notice>{tokens.error || remove.error}</Notice>
        {tokens.isLoading && !tokens.data ? (
          <Loading label={t("common.loading")} />
        ) : !tokens.data?.value.length ? (
          <Empty title={t("tokens.empty")}>{t("tokens.empty_hint")}</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("tokens.note")}</th>
                  <th scope="col">{t("tokens.hint")}</th>
                  <th scope="col">{t("common.owner")}</th>
                  <th scope="col">{t("common.created")}</th>
                  <th scope="col">{t("tokens.expires")}</th>
                  <th scope="col">{t("common.last_used")}</th>
                  <th scope="col"><span class="sr-only">{t("common.actions")}</span></th>
                </tr>
              </thead>
              <tbody>
                {tokens.data.value.map((tk) => (
                  <tr key={tk.id}>
                    <td>{tk.note}</td>
                    <td><code>{tk.hint}…</code></td>
                    <td>{tk.username}</td>
                    <td><Time value={tk.created_at} /></td>
                    <td><Time value={tk.expires_at} /></td>
                    <td><Time value={tk.last_used_at} /></td>
                    <td>
                      <Button kind="danger" onClick={() => confirm(t("tokens.confirm_revoke")) && void remove.run(tk.id)}>
                        {t("tokens.revoke")}
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
