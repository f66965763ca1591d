import { useState } from "preact/hooks";
import { getProfile, login } from "../../api/account";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { navigate, useRoute } from "../../hooks/useRoute";
import { t } from "../../i18n";
import { useSession } from "../../state/session";
import "./style.css";

/** The password just typed, kept in memory for the first-start page so it is not asked twice. */
let justTyped = "";

export function takeTypedPassword(): string {
  const value = justTyped;
  justTyped = "";
  return value;
}

/** Where to go after logging in: a page of this site only (never another origin). */
function nextPage(raw: string | null): string {
  return raw && raw.startsWith("/") && !raw.startsWith("//") ? raw : "/servers";
}

export function Login() {
  const { session, dispatch } = useSession();
  const route = useRoute();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const submit = useAction(async () => {
    await login(username, password);
    const user = await getProfile();
    if (user.password_change_required) justTyped = password;
    dispatch({ type: "user", user });
    navigate(user.password_change_required ? "/welcome" : nextPage(route.params.get("next")), true);
  });
  return (
    <main id="main" class="login">
      <form
        class="card login-card"
        onSubmit={(e) => {
          e.preventDefault();
          void submit.run();
        }}
      >
        <h1>{session.setting?.config.site_name ?? "Heron"}</h1>
        <p class="muted">{t("login.intro")}</p>
        <Field label={t("login.username")}>
          {(id) => (
            <input id={id} name="username" autoComplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
          )}
        </Field>
        <Field label={t("login.password")}>
          {(id) => (
            <input
              id={id}
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          )}
        </Field>
        <Notice>{submit.error}</Notice>
        <Button type="submit" kind="primary" busy={submit.running}>
          {t("login.submit")}
        </Button>
        {!session.setting?.config.force_auth && (
          <p class="muted">
            <a href="/status">{t("login.status")}</a>
          </p>
        )}
      </form>
    </main>
  );
}
