import { useState } from "preact/hooks";
import { createStatusPage, deleteStatusPages, listStatusPages, updateStatusPage } from "../../api/admin";
import { listServers } from "../../api/servers";
import type { StatusPage } from "../../api/types";
import { Button } from "../../components/ui/Button";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { Time } from "../../components/ui/Time";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";
import { StatusPageForm } from "./StatusPageForm";

const BLANK = { slug: "", title: "", description: "", servers: [] as number[] };

export function StatusPages() {
  const pages = useFetch((signal) => listStatusPages(signal), []);
  const servers = useFetch((signal) => listServers(signal), []);
  const [editing, setEditing] = useState<StatusPage | "new" | null>(null);
  const remove = useAction(async (page: StatusPage) => {
    await deleteStatusPages([page.id]);
    pages.reload();
  });
  const saved = () => {
    setEditing(null);
    pages.reload();
  };
  if (editing) {
    const initial = editing === "new" ? BLANK : { slug: editing.slug, title: editing.title, description: editing.description, servers: editing.servers };
    return (
      <StatusPageForm
        initial={initial}
        servers={servers.data ?? []}
        onCancel={() => setEditing(null)}
        onSave={async (form) => {
          if (editing === "new") await createStatusPage(form);
          else await updateStatusPage(editing.id, form);
          saved();
        }}
      />
    );
  }
  return (
    <section class="card stack">
      <p class="muted">
        {t("pages.intro")} <a href="/status">/status</a>
      </p>
      <div>
        <Button kind="primary" onClick={() => setEditing("new")}>
          {t("pages.new")}
        </Button>
      </div>
      <Notice>{pages.error || servers.error || remove.error}</Notice>
      {!pages.data ? (
        <Loading label={t("common.loading")} />
      ) : !pages.data.length ? (
        <Empty title={t("pages.empty")}>{t("pages.empty_hint")}</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("pages.title")}</th>
                <th scope="col">{t("pages.address")}</th>
                <th scope="col">{t("pages.count")}</th>
                <th scope="col">{t("pages.updated")}</th>
                <th scope="col"><span class="sr-only">{t("common.actions")}</span></th>
              </tr>
            </thead>
            <tbody>
              {pages.data.map((p) => (
                <tr key={p.id}>
                  <td>{p.title}</td>
                  <td><a href={p.url}>{p.url}</a></td>
                  <td>{p.servers.length}</td>
                  <td><Time value={p.updated_at} /></td>
                  <td class="actions">
                    <Button onClick={() => setEditing(p)}>{t("common.edit")}</Button>
                    <Button kind="danger" onClick={() => confirm(t("pages.confirm_delete", { title: p.title })) && void remove.run(p)}>
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
  );
}
