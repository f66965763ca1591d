// Alerting in one place: what fires now and what fired, the rules, silences, maintenance
// windows, and where messages go.
import { SubNav } from "../../components/ui/SubNav";
import { t } from "../../i18n";
import { Events } from "./Events";
import { Notifications } from "./Notifications";
import { RuleEditor } from "./RuleEditor";
import { Rules } from "./Rules";
import { Silences } from "./Silences";
import { Windows } from "./Windows";
import "./style.css";

export function Alerts({ tab, id }: { tab: string; id?: string }) {
  const items = [
    { href: "/alerts", text: t("alerts.firing") },
    { href: "/alerts/history", text: t("alerts.history") },
    { href: "/alerts/rules", text: t("alerts.rules") },
    { href: "/alerts/silences", text: t("alerts.silences") },
    { href: "/alerts/maintenance", text: t("alerts.maintenance") },
    { href: "/alerts/notifications", text: t("alerts.notifications") },
  ];
  const current = tab === "firing" ? "/alerts" : `/alerts/${tab}`;
  let view;
  if (tab === "rules" && id) view = <RuleEditor id={id === "new" ? null : Number(id)} />;
  else if (tab === "rules") view = <Rules />;
  else if (tab === "history") view = <Events active={false} />;
  else if (tab === "silences") view = <Silences />;
  else if (tab === "maintenance") view = <Windows />;
  else if (tab === "notifications") view = <Notifications />;
  else view = <Events active />;
  return (
    <>
      <h1>{t("alerts.title")}</h1>
      <SubNav label={t("alerts.title")} items={items} current={current} />
      {view}
    </>
  );
}
