import { useState } from "preact/hooks";
import { createApiKey, deleteApiKey, listApiKeys, regenerateApiKey } from "../../api/account";
import type { ApiKeyCreated } from "../../api/types";
import { Button } from "../../components/ui/Button";
import { Copy } from "../../components/ui/Copy";
import { Field } from "../../components/ui/Field";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { Time } from "../../components/ui/Time";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";

/** The new key once, with its QR code (made by the API) for a phone to scan. */
function NewKey({ made }: { made: ApiKeyCreated }) {
  return (
    <div class="secret apikey-new" role="status">
      <p>{t("apikeys.once")}</p>
      <Copy value={made.key} label={t("apikeys.key")} />
      <img class="qr" src={made.qr_code} width={200} height={200} alt={t("apikeys.qr_alt", { description: made.description })} />
      <p class="muted">{t("apikeys.usage")}</p>
    </div>
  );
}

export function ApiKeys() {
  const keys = useFetch((signal) => listApiKeys(signal), []);
  const [description, setDescription] = useState("");
  const [made, setMade] = useState<ApiKeyCreated | null>(null);
  const create = useAction(async () => {
    setMade(await createApiKey(description));
    setDescription("");
    keys.reload();
  });
  const rotate = useAction(async (id: number) => {
    setMade(await regenerateApiKey(id));
    keys.reload();
  });
  const remove = useAction(async (id: number) => {
    await deleteApiKey(id);
    keys.reload();
  });
  return (
    <div class="stack">
      <form class="card stack" onSubmit={(e) => (e.preventDefault(), void create.run())}>
        <h2>{t("apikeys.new")}</h2>
        <p class="muted">{t("apikeys.intro")}</p>
        <Field label={t("apikeys.description")}>
          {(id) => <input id={id} value={description} maxLength={255} required onInput={(e) => setDescription(e.currentTarget.value)} />}
        </Field>
        <Notice>{create.error || rotate.error}</Notice>
        <Button type="submit" kind="primary" busy={create.running}>
          {t("apikeys.create")}
        </Button>
        {made && <NewKey made={made} />}
      </form>
      <section class="card">
        <h2>{t("profile.apikeys")}</h2>
        <Notice>{keys.error || remove.error}</Notice>
        {keys.isLoading && !keys.data ? (
          <Loading label={t("common.loading")} />
        ) : !keys.data?.value.length ? (
          <Empty title={t("apikeys.empty")}>{t("apikeys.empty_hint")}</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("apikeys.description")}</th>
                  <th scope="col">{t("tokens.hint")}</th>
                  <th scope="col">{t("common.owner")}</th>
                  <th scope="col">{t("common.created")}</th>
                  <th scope="col">{t("common.last_used")}</th>
                  <th scope="col"><span class="sr-only">{t("common.actions")}</span></th>
                </tr>
              </thead>
              <tbody>
                {keys.data.value.map((k) => (
                  <tr key={k.id}>
                    <td>{k.description}</td>
                    <td><code>{k.hint}…</code></td>
                    <td>{k.username}</td>
                    <td><Time value={k.created_at} /></td>
                    <td><Time value={k.last_used_at} /></td>
                    <td class="actions">
                      <Button busy={rotate.running} onClick={() => confirm(t("apikeys.confirm_rotate")) && void rotate.run(k.id)}>
                        {t("apikeys.rotate")}
                      </Button>
                      <Button kind="danger" onClick={() => confirm(t("apikeys.confirm_delete")) && void remove.run(k.id)}>
                        {t("common.delete")}
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
