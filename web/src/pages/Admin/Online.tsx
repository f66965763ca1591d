import { blockAddresses, listOnline } from "../../api/admin";
import { Button } from "../../components/ui/Button";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { Time } from "../../components/ui/Time";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";

export function Online() {
  const sessions = useFetch((signal) => listOnline(signal), []);
  const block = useAction(async (ip: string) => {
    await blockAddresses([ip]);
    sessions.reload();
  });
  return (
    <section class="card">
      <p class="muted">{t("online.intro")}</p>
      <Notice>{sessions.error || block.error}</Notice>
      {!sessions.data ? (
        <Loading label={t("common.loading")} />
      ) : !sessions.data.value.length ? (
        <Empty title={t("online.empty")} />
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("login.username")}</th>
                <th scope="col">{t("waf.ip")}</th>
                <th scope="col">{t("online.agent")}</th>
                <th scope="col">{t("online.since")}</th>
                <th scope="col">{t("users.last_active")}</th>
                <th scope="col"><span class="sr-only">{t("common.actions")}</span></th>
              </tr>
            </thead>
            <tbody>
              {sessions.data.value.map((s) => (
                <tr key={s.session_id}>
                  <td>{s.username}</td>
                  <td><code>{s.ip}</code></td>
                  <td class="clip" title={s.user_agent}>{s.user_agent}</td>
                  <td><Time value={s.connected_at} /></td>
                  <td><Time value={s.last_active} /></td>
                  <td>
                    <Button kind="danger" busy={block.running} onClick={() => confirm(t("online.confirm_block", { ip: s.ip })) && void block.run(s.ip)}>
                      {t("online.block")}
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
