import { useEffect, useState } from "preact/hooks";
import { createGroup, deleteServers, listGroups, listServers, replaceSecret, updateServer } from "../../api/servers";
import { Button } from "../../components/ui/Button";
import { Copy } from "../../components/ui/Copy";
import { Field } from "../../components/ui/Field";
import { Link } from "../../components/ui/Link";
import { Loading, Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { navigate } from "../../hooks/useRoute";
import { t } from "../../i18n";
import { useSession } from "../../state/session";
import { agentCommand, serverAddress } from "../../utils/agent";
import { ServerDraft, ServerFields } from "../AddServer/ServerFields";

export function EditServer({ id }: { id: number }) {
  const { session } = useSession();
  const servers = useFetch((signal) => listServers(signal), [id]);
  const groups = useFetch((signal) => listGroups(signal), []);
  const server = servers.data?.find((s) => s.id === id) ?? null;
  const [draft, setDraft] = useState<ServerDraft | null>(null);
  const [groupName, setGroupName] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (server && groups.data && !draft) {
      const member = groups.data.filter((g) => g.servers.includes(id)).map((g) => g.group.id);
      setDraft({ name: server.name, public_note: server.public_note, note: server.note, display_index: server.display_index, hide_for_guest: server.hide_for_guest, groups: member });
    }
  }, [server, groups.data]);
  const save = useAction(async () => {
    if (!draft) return;
    setSaved(false);
    await updateServer(id, { name: draft.name, note: draft.note, public_note: draft.public_note, display_index: draft.display_index, hide_for_guest: draft.hide_for_guest, server_groups: draft.groups });
    setSaved(true);
  });
  const addGroup = useAction(async () => {
    const groupId = await createGroup(groupName, [id]);
    setGroupName("");
    if (draft) setDraft({ ...draft, groups: [...draft.groups, groupId] });
    groups.reload();
  });
  const rotate = useAction(async () => setSecret((await replaceSecret(id)).secret));
  const remove = useAction(async () => {
    await deleteServers([id]);
    navigate("/servers");
  });
  if (servers.error || groups.error) return <Notice>{servers.error || groups.error}</Notice>;
  if (!server || !draft) return servers.isLoading || groups.isLoading ? <Loading label={t("common.loading")} /> : <Notice>{t("server.not_found")}</Notice>;
  return (
    <>
      <h1>{t("edit.title", { name: server.name })}</h1>
      <div class="grid-2">
        <form class="card stack" onSubmit={(e) => (e.preventDefault(), void save.run())}>
          <ServerFields draft={draft} groups={groups.data ?? []} onChange={setDraft} />
          <Notice>{save.error}</Notice>
          {saved && <Notice kind="ok">{t("common.saved")}</Notice>}
          <div class="row">
            <Button type="submit" kind="primary" busy={save.running}>
              {t("common.save")}
            </Button>
            <Link href={`/servers/${id}`}>{t("edit.back")}</Link>
          </div>
        </form>
        <div class="stack">
          <form class="card stack" onSubmit={(e) => (e.preventDefault(), void addGroup.run())}>
            <h2>{t("edit.new_group")}</h2>
            <Field label={t("edit.group_name")}>
              {(fid) => <input id={fid} value={groupName} required maxLength={255} onInput={(e) => setGroupName(e.currentTarget.value)} />}
            </Field>
            <Notice>{addGroup.error}</Notice>
            <Button type="submit" busy={addGroup.running}>
              {t("edit.create_group")}
            </Button>
          </form>
          <section class="card stack">
            <h2>{t("edit.secret")}</h2>
            <p class="muted">{t("edit.secret_hint")}</p>
            <Button busy={rotate.running} onClick={() => confirm(t("edit.confirm_secret")) && void rotate.run()}>
              {t("edit.new_secret")}
            </Button>
            <Notice>{rotate.error}</Notice>
            {secret && <Copy value={agentCommand(serverAddress(session.setting?.config.install_host ?? "", location.origin), secret)} label={t("add.command")} />}
          </section>
          <section class="card stack danger-zone">
            <h2>{t("edit.delete")}</h2>
            <p class="muted">{t("edit.delete_hint")}</p>
            <Notice>{remove.error}</Notice>
            <Button kind="danger" busy={remove.running} onClick={() => confirm(t("edit.confirm_delete", { name: server.name })) && void remove.run()}>
              {t("edit.delete")}
            </Button>
          </section>
        </div>
      </div>
    </>
  );
}
