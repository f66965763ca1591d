import { SubNav } from "../../components/ui/SubNav";
import { Notice } from "../../components/ui/Notice";
import { t } from "../../i18n";
import { useSession } from "../../state/session";
import { AuditTab } from "./Audit";
import { CronTab } from "./Cron";
import { DdnsTab } from "./Ddns";
import { FilesTab } from "./Files";
import { NatTab } from "./Nat";
import { TerminalTab } from "./Terminal";
import "./style.css";

/** Doing things on servers: cron tasks, a terminal, files, DDNS, NAT, and (admins) the audit log. */
export function Operations({ tab }: { tab: string }) {
  const { session } = useSession();
  const isAdmin = session.user?.role === "admin";
  const items = [
    { href: "/operations/cron", text: t("ops.cron") },
    { href: "/operations/terminal", text: t("ops.terminal") },
    { href: "/operations/files", text: t("ops.files") },
    { href: "/operations/ddns", text: t("ops.ddns") },
    { href: "/operations/nat", text: t("ops.nat") },
    ...(isAdmin ? [{ href: "/operations/audit", text: t("ops.audit") }] : []),
  ];
  const view =
    tab === "terminal" ? <TerminalTab /> :
    tab === "files" ? <FilesTab /> :
    tab === "ddns" ? <DdnsTab /> :
    tab === "nat" ? <NatTab /> :
    tab === "audit" ? (isAdmin ? <AuditTab /> : <Notice>{t("admin.forbidden")}</Notice>) :
    <CronTab />;
  return (
    <>
      <h1>{t("ops.title")}</h1>
      <SubNav label={t("ops.title")} items={items} current={`/operations/${tab}`} />
      {view}
    </>
  );
}
