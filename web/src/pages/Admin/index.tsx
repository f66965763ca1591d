import { SubNav } from "../../components/ui/SubNav";
import { t } from "../../i18n";
import { Online } from "./Online";
import { Settings } from "./Settings";
import { StatusPages } from "./StatusPages";
import { Users } from "./Users";
import { Waf } from "./Waf";

export function Admin({ tab }: { tab: string }) {
  const items = [
    { href: "/admin/users", text: t("admin.users") },
    { href: "/admin/settings", text: t("admin.settings") },
    { href: "/admin/status-pages", text: t("admin.status_pages") },
    { href: "/admin/waf", text: t("admin.waf") },
    { href: "/admin/online", text: t("admin.online") },
  ];
  return (
    <>
      <h1>{t("admin.title")}</h1>
      <SubNav label={t("admin.title")} items={items} current={`/admin/${tab}`} />
      {tab === "settings" ? <Settings /> : tab === "waf" ? <Waf /> : tab === "online" ? <Online /> : tab === "status-pages" ? <StatusPages /> : <Users />}
    </>
  );
}
