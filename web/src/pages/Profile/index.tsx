import { SubNav } from "../../components/ui/SubNav";
import { t } from "../../i18n";
import { Account } from "./Account";
import { ApiKeys } from "./ApiKeys";
import { Tokens } from "./Tokens";

export function Profile({ tab }: { tab: string }) {
  const items = [
    { href: "/profile", text: t("profile.account") },
    { href: "/profile/tokens", text: t("profile.tokens") },
    { href: "/profile/apikeys", text: t("profile.apikeys") },
  ];
  return (
    <>
      <h1>{t("profile.title")}</h1>
      <SubNav label={t("profile.title")} items={items} current={tab === "account" ? "/profile" : `/profile/${tab}`} />
      {tab === "tokens" ? <Tokens /> : tab === "apikeys" ? <ApiKeys /> : <Account />}
    </>
  );
}
