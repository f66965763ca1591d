import { useState } from "preact/hooks";
import { createServer, listGroups } from "../../api/servers";
import { Button } from "../../components/ui/Button";
import { Copy } from "../../components/ui/Copy";
import { Link } from "../../components/ui/Link";
import { Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";
import { useSession } from "../../state/session";
import { agentCommand, agentServiceCommand, serverAddress } from "../../utils/agent";
import { EMPTY_DRAFT, ServerFields } from "./ServerFields";

export function AddServer() {
  const { session } = useSession();
  const groups = useFetch((signal) => listGroups(signal), []);
  const [draft, setDraft] = useState(EMPTY_DRAFT);
  const [made, setMade] = useState<{ id: number; name: string; secret: string } | null>(null);
  const create = useAction(async () => {
    const server = await createServer({
      name: draft.name,
      note: draft.note,
      public_note: draft.public_note,
      display_index: draft.display_index,
      hide_for_guest: draft.hide_for_guest,
      server_groups: draft.groups,
    });
    setMade(server);
  });
  const address = serverAddress(session.setting?.config.install_host ?? "", location.origin);
  if (made) {
    return (
      <>
        <h1>{t("add.ready", { name: made.name })}</h1>
        <section class="card stack">
          <p>{t("add.run")}</p>
          <Copy value={agentCommand(address, made.secret)} label={t("add.command")} />
          <p>{t("add.service")}</p>
          <Copy value={agentServiceCommand(address, made.secret)} label={t("add.service_command")} />
          <Notice kind="info">{t("add.secret_once")}</Notice>
          <p>
            <Link href={`/servers/${made.id}`}>{t("add.open")}</Link> · <Link href="/servers">{t("server.back")}</Link>
          </p>
        </section>
      </>
    );
  }
  return (
    <>
      <h1>{t("servers.add")}</h1>
      <form class="card stack narrow" onSubmit={(e) => (e.preventDefault(), void create.run())}>
        <p class="muted">{t("add.intro")}</p>
        <ServerFields draft={draft} groups={groups.data ?? []} onChange={setDraft} />
        <Notice>{create.error || groups.error}</Notice>
        <Button type="submit" kind="primary" busy={create.running}>
          {t("add.submit")}
        </Button>
      </form>
    </>
  );
}
