import { useState } from "preact/hooks";
import { updateProfile } from "../../api/account";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { navigate } from "../../hooks/useRoute";
import { t } from "../../i18n";
import { useSession } from "../../state/session";
import { takeTypedPassword } from "../Login";
import "../Login/style.css";

/** First start: the admin's password was printed on a terminal once; it is replaced before anything else. */
export function FirstStart() {
  const { session, dispatch } = useSession();
  const [typed] = useState(takeTypedPassword);
  const [original, setOriginal] = useState(typed);
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const save = useAction(async () => {
    if (next !== again) throw new Error(t("welcome.mismatch"));
    const user = await updateProfile({ original_password: original, new_password: next });
    dispatch({ type: "user", user });
    navigate("/servers", true);
  });
  const required = session.user?.password_change_required;
  return (
    <main id="main" class="login">
      <form
        class="card login-card"
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <h1>{t("welcome.title")}</h1>
        <p>{required ? t("welcome.intro") : t("welcome.optional")}</p>
        <input type="hidden" name="username" autoComplete="username" value={session.user?.username ?? ""} />
        {!typed && (
          <Field label={t("welcome.current")}>
            {(id) => (
              <input id={id} type="password" autoComplete="current-password" required value={original} onInput={(e) => setOriginal(e.currentTarget.value)} />
            )}
          </Field>
        )}
        <Field label={t("welcome.new")} hint={t("welcome.rule")}>
          {(id, hint) => (
            <input
              id={id}
              type="password"
              autoComplete="new-password"
              minLength={8}
              required
              aria-describedby={hint}
              value={next}
              onInput={(e) => setNext(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field label={t("welcome.again")}>
          {(id) => (
            <input id={id} type="password" autoComplete="new-password" minLength={8} required value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
          )}
        </Field>
        <Notice>{save.error}</Notice>
        <Button type="submit" kind="primary" busy={save.running}>
          {t("welcome.submit")}
        </Button>
      </form>
    </main>
  );
}
