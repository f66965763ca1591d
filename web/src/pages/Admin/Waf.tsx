import { liftBans, listWaf } from "../../api/admin";
import { Button } from "../../components/ui/Button";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { Time } from "../../components/ui/Time";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { Key, t } from "../../i18n";

const REASONS: Record<number, Key> = { 1: "waf.reason_login", 2: "waf.reason_token", 3: "waf.reason_agent", 4: "waf.reason_manual" };

export function Waf() {
  const entries = useFetch((signal) => listWaf(signal), []);
  const lift = useAction(async (ip: string) => {
    await liftBans([ip]);
    entries.reload();
  });
  return (
    <section class="card">
      <p class="muted">{t("waf.intro")}</p>
      <Notice>{entries.error || lift.error}</Notice>
      {!entries.data ? (
        <Loading label={t("common.loading")} />
      ) : !entries.data.value.length ? (
        <Empty title={t("waf.empty")} />
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("waf.ip")}</th>
                <th scope="col">{t("waf.reason")}</th>
                <th scope="col">{t("waf.count")}</th>
                <th scope="col">{t("waf.last")}</th>
                <th scope="col">{t("waf.until")}</th>
                <th scope="col"><span class="sr-only">{t("common.actions")}</span></th>
              </tr>
            </thead>
            <tbody>
              {entries.data.value.map((e) => (
                <tr key={e.ip}>
                  <td><code>{e.ip}</code></td>
                  <td>{t(REASONS[e.block_reason] ?? "waf.reason_login")}</td>
                  <td>{e.count}</td>
                  <td><Time value={new Date(e.block_timestamp * 1000).toISOString()} /></td>
                  <td>{e.blocked_until ? <Time value={e.blocked_until} /> : t("waf.not_banned")}</td>
                  <td>
                    <Button busy={lift.running} onClick={() => void lift.run(e.ip)}>
                      {t("waf.lift")}
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
