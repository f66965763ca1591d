import { useState } from "preact/hooks";
import { createNat, deleteNat, listNat, Nat, NatForm, updateNat } from "../../api/ops";
import type { Server } from "../../api/types";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";
import { useServers } from "./hooks/useServers";

function NatEditor({ mapping, servers, onDone }: { mapping: Nat | null; servers: Server[]; onDone: (saved: boolean) => void }) {
  const [form, setForm] = useState<NatForm>(mapping ?? { name: "", enabled: true, server_id: servers[0]?.id ?? 0, host: "127.0.0.1:8080", domain: "" });
  const set = (change: Partial<NatForm>) => setForm((f) => ({ ...f, ...change }));
  const save = useAction(async () => {
    if (mapping) await updateNat(mapping.id, form);
    else await createNat(form);
    onDone(true);
  });
  return (
    <form class="card stack" aria-labelledby="nat-form-title" onSubmit={(e) => (e.preventDefault(), void save.run())}>
      <h2 id="nat-form-title">{mapping ? t("ops.nat_edit", { name: mapping.name }) : t("ops.nat_new")}</h2>
      <p class="muted">{t("ops.nat_warning")}</p>
      <div class="row">
        <Field label={t("ops.name")}>{(id) => <input id={id} required value={form.name} onInput={(e) => set({ name: e.currentTarget.value })} />}</Field>
        <Field label={t("ops.server")}>
          {(id) => (
            <select id={id} value={form.server_id} onChange={(e) => set({ server_id: Number(e.currentTarget.value) })}>
              {servers.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("ops.nat_host")} hint={t("ops.nat_host_hint")}>
          {(id, hint) => <input id={id} required aria-describedby={hint} value={form.host} onInput={(e) => set({ host: e.currentTarget.value })} />}
        </Field>
        <Field label={t("ops.nat_domain")} hint={t("ops.nat_domain_hint")}>
          {(id, hint) => <input id={id} required aria-describedby={hint} value={form.domain} onInput={(e) => set({ domain: e.currentTarget.value })} />}
        </Field>
      </div>
      <label>
        <input type="checkbox" checked={form.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} /> {t("ops.nat_enabled")}
      </label>
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

/** NAT mappings: a domain on Heron carried through a server's agent to a host:port it reaches. */
export function NatTab() {
  const mappings = useFetch((signal) => listNat(signal), []);
  const servers = useServers();
  const [editing, setEditing] = useState<Nat | "new" | null>(null);
  const remove = useAction(async (m: Nat) => {
    await deleteNat([m.id]);
    mappings.reload();
  });
  const names = new Map((servers.data ?? []).map((s) => [s.id, s.name]));
  const list = mappings.data?.value ?? [];
  return (
    <div class="stack">
      <div class="page-head">
        <h2>{t("ops.nat")}</h2>
        <Button kind="primary" disabled={editing !== null || !servers.data?.length} onClick={() => setEditing("new")}>
          {t("ops.nat_new")}
        </Button>
      </div>
      {editing !== null && servers.data && (
        <NatEditor
          mapping={editing === "new" ? null : editing}
          servers={servers.data}
          onDone={(saved) => {
            setEditing(null);
            if (saved) mappings.reload();
          }}
        />
      )}
      <Notice>{mappings.error || servers.error || remove.error}</Notice>
      {!mappings.data ? (
        <Loading label={t("common.loading")} />
      ) : !list.length ? (
        <Empty title={t("ops.nat_empty")}>
          <p>{t("ops.nat_empty_hint")}</p>
          <pre class="code">heron agent --allow nat</pre>
        </Empty>
      ) : (
        <div class="table-wrap card wide">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("ops.name")}</th>
                <th scope="col">{t("ops.nat_domain")}</th>
                <th scope="col">{t("ops.server")}</th>
                <th scope="col">{t("ops.nat_host")}</th>
                <th scope="col">{t("ops.nat_enabled")}</th>
                <th scope="col">
                  <span class="sr-only">{t("common.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((m) => (
                <tr key={m.id}>
                  <td>{m.name}</td>
                  <td>{m.domain}</td>
                  <td>{names.get(m.server_id) ?? `#${m.server_id}`}</td>
                  <td>
                    <code>{m.host}</code>
                  </td>
                  <td>{m.enabled ? t("ops.yes") : t("ops.no")}</td>
                  <td>
<div class="actions">
                    <Button onClick={() => setEditing(m)} aria-label={t("ops.nat_edit", { name: m.name })}>
                      {t("common.edit")}
                    </Button>
                    <Button kind="danger" onClick={() => confirm(t("ops.confirm_delete", { name: m.name })) && void remove.run(m)} aria-label={t("ops.delete_name", { name: m.name })}>
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
