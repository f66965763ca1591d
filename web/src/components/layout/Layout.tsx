import { ComponentChildren } from "preact";
import { logout } from "../../api/account";
import { navigate, useRoute } from "../../hooks/useRoute";
import { LANGUAGES, Language, setLanguage, t } from "../../i18n";
import { NAV } from "../../routes";
import { useSession } from "../../state/session";
import { applyTheme, storedTheme, ThemeChoice } from "../../utils/theme";
import { Link } from "../ui/Link";

function Preferences() {
  const { session, dispatch } = useSession();
  return (
    <div class="prefs">
      <label class="sr-only" for="pref-theme">
        {t("prefs.theme")}
      </label>
      <select id="pref-theme" value={storedTheme()} onChange={(e) => applyTheme(e.currentTarget.value as ThemeChoice)}>
        <option value="system">{t("prefs.system")}</option>
        <option value="light">{t("prefs.light")}</option>
        <option value="dark">{t("prefs.dark")}</option>
      </select>
      <label class="sr-only" for="pref-language">
        {t("prefs.language")}
      </label>
      <select
        id="pref-language"
        value={session.language}
        onChange={(e) => {
          const language = e.currentTarget.value as Language;
          setLanguage(language, true);
          dispatch({ type: "language", language });
        }}
      >
        {LANGUAGES.map((l) => (
          <option key={l.code} value={l.code} lang={l.code}>
            {l.name}
          </option>
        ))}
      </select>
    </div>
  );
}

export function Layout({ children }: { children: ComponentChildren }) {
  const { session, dispatch } = useSession();
  const route = useRoute();
  const user = session.user;
  const signOut = async () => {
    try {
      await logout();
    } finally {
      dispatch({ type: "user", user: null });
      navigate("/login");
    }
  };
  const items = NAV.filter((n) => (!n.adminOnly || user?.role === "admin") && (!n.signedIn || user));
  return (
    <div class="shell">
      <a class="skip" href="#main">
        {t("nav.skip")}
      </a>
      <header class="top">
        <Link href="/servers" class="brand">
          {session.setting?.config.site_name ?? "Heron"}
        </Link>
        <nav aria-label={t("nav.main")}>
          {items.map((n) => (
            <Link key={n.href} href={n.href} aria-current={route.path.startsWith(n.href) ? "page" : undefined}>
              {t(n.label)}
            </Link>
          ))}
          <a href="/status">{t("nav.status")}</a>
        </nav>
        <Preferences />
        <div class="account">
          {user ? (
            <>
              <Link href="/profile" aria-current={route.path.startsWith("/profile") ? "page" : undefined}>
                {user.nickname || user.username}
              </Link>
              <button type="button" class="btn btn-plain" onClick={signOut}>
                {t("nav.logout")}
              </button>
            </>
          ) : (
            <Link href={`/login?next=${encodeURIComponent(route.path)}`}>{t("nav.login")}</Link>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
