import { ComponentChildren } from "preact";
import { AgentConfig, agentConfig } from "../../api/ops";
import type { Server } from "../../api/types";
import { Field } from "../../components/ui/Field";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { Link } from "../../components/ui/Link";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";
import { useChosenServer, useServers } from "./hooks/useServers";

type Capability = "terminal" | "files";

interface Props {
  capability: Capability;
  children: (server: Server, config: AgentConfig) => ComponentChildren;
}

/** Picks a server, then shows the tab only when its agent is online and allows `capability`;
 * otherwise says what the server's owner has to do. */
export function ServerGate({ capability, children }: Props) {
  const servers = useServers();
  const [server, choose] = useChosenServer(servers.data);
  const config = useFetch((signal) => (server?.online ? agentConfig(server.id, signal) : Promise.resolve(null)), [server?.id, server?.online]);
  if (servers.error) return <Notice>{servers.error}</Notice>;
  if (!servers.data) return <Loading label={t("common.loading")} />;
  if (!servers.data.length || !server) {
    return (
      <Empty title={t("ops.no_servers")}>
        <p>
          {t("ops.no_servers_hint")} <Link href="/servers/new">{t("ops.add_server")}</Link>
        </p>
      </Empty>
    );
  }
  const allowed = config.data?.allow.includes(capability);
  return (
    <div class="stack">
      <div class="server-pick">
      <Field label={t("ops.server")}>
        {(id) => (
          <select id={id} value={server.id} onChange={(e) => choose(Number(e.currentTarget.value))}>
            {servers.data!.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name} {s.online ? "" : `(${t("ops.offline")})`}
              </option>
            ))}
          </select>
        )}
      </Field>
      </div>
      {!server.online ? (
        <Empty title={t("ops.server_offline", { name: server.name })}>
          <p>{t("ops.server_offline_hint")}</p>
        </Empty>
      ) : config.error ? (
        <Notice>{config.error}</Notice>
      ) : !config.data ? (
        <Loading label={t("common.loading")} />
      ) : !allowed ? (
        <Empty title={t(capability === "terminal" ? "ops.no_terminal" : "ops.no_files", { name: server.name })}>
          <p>{t("ops.allow_hint")}</p>
          <pre class="code">heron agent --allow {capability === "terminal" ? "terminal" : "files --files-root /var/log"}</pre>
        </Empty>
      ) : (
        children(server, config.data)
      )}
    </div>
  );
}
