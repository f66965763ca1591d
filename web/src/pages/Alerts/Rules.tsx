// The alert rules with their status: whether each ran, failed (and why), and how many alerts it holds.
import { deleteRules, listRules } from "../../api/alerts";
import { Button } from "../../components/ui/Button";
import { Link } from "../../components/ui/Link";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { Time } from "../../components/ui/Time";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { Key, t } from "../../i18n";
import { useEvery } from "../Services/hooks";
import { RULE_KINDS } from "./ruleform";

const STATUS_TEXT: Record<string, Key> = {
  ok: "alerts.status_ok",
  error: "alerts.status_error",
  waiting: "alerts.status_waiting",
  disabled: "alerts.status_disabled",
  pending_first_evaluation: "alerts.status_first",
};

export function Rules() {
  const rules = useFetch((signal) => listRules(signal), []);
  useEvery(5_000, rules.reload);
  const remove = useAction(async (id: number) => {
    await deleteRules([id]);
    rules.reload();
  });
  return (
    <section class="card stack">
      <div class="page-head">
        <h2>{t("alerts.rules")}</h2>
        <Link href="/alerts/rules/new" class="btn btn-primary">{t("alerts.new_rule")}</Link>
      </div>
      <Notice>{rules.error || remove.error}</Notice>
      {!rules.data ? (
        <Loading label={t("common.loading")} />
      ) : rules.data.length === 0 ? (
        <Empty title={t("alerts.no_rules")}>
          <p>{t("alerts.no_rules_hint")}</p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("alerts.rule")}</th>
                <th scope="col">{t("alerts.rule_kind")}</th>
                <th scope="col">{t("alerts.status")}</th>
                <th scope="col">{t("alerts.last_eval")}</th>
                <th scope="col">{t("alerts.active")}</th>
                <th scope="col"><span class="sr-only">{t("common.actions")}</span></th>
              </tr>
            </thead>
            <tbody>
              {rules.data.map((r) => (
                <tr key={r.id}>
                  <td><Link href={`/alerts/rules/${r.id}`}>{r.name}</Link></td>
                  <td>{(RULE_KINDS as readonly string[]).includes(r.kind) ? t(`alerts.kind_${r.kind}` as Key) : r.kind}</td>
                  <td class={`rule-status-${r.status.state}`}>
                    {STATUS_TEXT[r.status.state] ? t(STATUS_TEXT[r.status.state]) : r.status.state}
                    {r.status.message && <span class="muted small"> {r.status.message}</span>}
                  </td>
                  <td><Time value={r.status.last_eval_at} /></td>
                  <td>{r.status.active}</td>
                  <td class="actions">
                    <Link href={`/alerts/rules/${r.id}`} class="btn">{t("common.edit")}</Link>
                    <Button kind="danger" onClick={() => confirm(t("alerts.confirm_delete_rule", { name: r.name })) && void remove.run(r.id)}>
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
