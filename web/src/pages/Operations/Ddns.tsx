import { useState } from "preact/hooks";
import { Ddns, deleteDdns, listDdns, listDdnsProviders } from "../../api/ops";
import { Button } from "../../components/ui/Button";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";
import { DdnsForm } from "./DdnsForm";

/** DDNS profiles; a server uses them from its edit page (enable DDNS, pick profiles). */
export function DdnsTab() {
  const profiles = useFetch((signal) => listDdns(signal), []);
  const providers = useFetch((signal) => listDdnsProviders(signal), []);
  const [editing, setEditing] = useState<Ddns | "new" | null>(null);
  const remove = useAction(async (p: Ddns) => {
    await deleteDdns([p.id]);
    profiles.reload();
  });
  const list = profiles.data?.value ?? [];
  return (
    <div class="stack">
      <div class="page-head">
        <h2>{t("ops.ddns")}</h2>
        <Button kind="primary" disabled={editing !== null} onClick={() => setEditing("new")}>
          {t("ops.ddns_new")}
        </Button>
      </div>
      {editing !== null && (
        <DdnsForm
          profile={editing === "new" ? null : editing}
          providers={providers.data ?? ["webhook"]}
          onDone={(saved) => {
            setEditing(null);
            if (saved) profiles.reload();
          }}
        />
      )}
      <Notice>{profiles.error || providers.error || remove.error}</Notice>
      {!profiles.data ? (
        <Loading label={t("common.loading")} />
      ) : !list.length ? (
        <Empty title={t("ops.ddns_empty")}>
          <p>{t("ops.ddns_empty_hint")}</p>
        </Empty>
      ) : (
        <div class="table-wrap card wide">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("ops.name")}</th>
                <th scope="col">{t("ops.ddns_provider")}</th>
                <th scope="col">{t("ops.ddns_domains")}</th>
                <th scope="col">{t("ops.ddns_records")}</th>
                <th scope="col">
                  <span class="sr-only">{t("common.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((p) => (
                <tr key={p.id}>
                  <td>{p.name}</td>
                  <td>{p.provider}</td>
                  <td>{p.domains.join(", ") || "—"}</td>
                  <td>{[p.enable_ipv4 && "A", p.enable_ipv6 && "AAAA"].filter(Boolean).join(", ") || "—"}</td>
                  <td>
<div class="actions">
                    <Button onClick={() => setEditing(p)} aria-label={t("ops.ddns_edit", { name: p.name })}>
                      {t("common.edit")}
                    </Button>
                    <Button kind="danger" onClick={() => confirm(t("ops.confirm_delete", { name: p.name })) && void remove.run(p)} aria-label={t("ops.delete_name", { name: p.name })}>
                      {t("common.delete")}
                    </Button>
                  </div>
</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
