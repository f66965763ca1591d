// The page for the address, behind the guards: log in when needed, change a generated password first.
import { useEffect } from "preact/hooks";
import { Layout } from "./components/layout/Layout";
import { Loading, Notice } from "./components/ui/Notice";
import { navigate, Route, useRoute } from "./hooks/useRoute";
import { t } from "./i18n";
import { Admin } from "./pages/Admin";
import { Explore } from "./pages/Explore";
import { FirstStart } from "./pages/FirstStart";
import { Login } from "./pages/Login";
import { Operations } from "./pages/Operations";
import { Profile } from "./pages/Profile";
import { AddServer } from "./pages/AddServer";
import { EditServer } from "./pages/EditServer";
import { ServerPage } from "./pages/Server";
import { Servers } from "./pages/Servers";
import { Alerts } from "./pages/Alerts";
import { MonitorPage } from "./pages/Services/Detail";
import { MonitorForm } from "./pages/Services/MonitorForm";
import { Services } from "./pages/Services";
import { SessionProvider, useSession } from "./state/session";

type Need = "none" | "user" | "admin";

function pageOf(route: Route): { need: Need; view: preact.JSX.Element } {
  const [section, id, action] = route.parts;
  switch (section) {
    case "login":
      return { need: "none", view: <Login /> };
    case "welcome":
      return { need: "user", view: <FirstStart /> };
    case "explore":
      return { need: "user", view: <Explore /> };
    case "operations":
      return { need: "user", view: <Operations tab={id ?? "cron"} /> };
    case "profile":
      return { need: "user", view: <Profile tab={id ?? "account"} /> };
    case "admin":
      return { need: "admin", view: <Admin tab={id ?? "users"} /> };
    case "servers":
      if (id === "new") return { need: "user", view: <AddServer /> };
      if (id && action === "edit") return { need: "user", view: <EditServer id={Number(id)} /> };
      if (id) return { need: "none", view: <ServerPage id={Number(id)} /> };
      return { need: "none", view: <Servers /> };
    case "services":
      if (id === "new") return { need: "user", view: <MonitorForm id={null} /> };
      if (id && action === "edit") return { need: "user", view: <MonitorForm id={Number(id)} /> };
      if (id) return { need: "user", view: <MonitorPage id={Number(id)} /> };
      return { need: "user", view: <Services /> };
    case "alerts":
      return { need: "user", view: <Alerts tab={id ?? "firing"} id={action} /> };
    default:
      return { need: "none", view: <Servers /> };
  }
}

function Routed() {
  const { session } = useSession();
  const route = useRoute();
  const { need, view } = pageOf(route);
  const user = session.user;
  const forced = session.setting?.config.force_auth ?? false;
  const mustLogIn = session.ready && !user && (need !== "none" || forced) && route.parts[0] !== "login";
  const mustChange = session.ready && user?.password_change_required && route.parts[0] !== "welcome";
  useEffect(() => {
    if (mustLogIn) navigate(`/login?next=${encodeURIComponent(route.path + location.search)}`, true);
    else if (mustChange) navigate("/welcome", true);
    else if (route.path === "/") navigate("/servers", true);
  }, [mustLogIn, mustChange, route.path]);
  useEffect(() => {
    document.title = `${session.setting?.config.site_name ?? "Heron"}`;
  }, [session.setting]);
  if (!session.ready) return <Loading label={t("common.loading")} />;
  if (session.error) return <Notice>{session.error}</Notice>;
  if (mustLogIn || mustChange) return <Loading label={t("common.loading")} />;
  if (need === "admin" && user?.role !== "admin") {
    return (
      <Layout>
        <h1>{t("admin.title")}</h1>
        <Notice>{t("admin.forbidden")}</Notice>
      </Layout>
    );
  }
  if (route.parts[0] === "login" || route.parts[0] === "welcome") return view;
  return <Layout>{view}</Layout>;
}

export function App() {
  return (
    <SessionProvider>
      <Routed />
    </SessionProvider>
  );
}
