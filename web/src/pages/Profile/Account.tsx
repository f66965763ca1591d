import { useState } from "preact/hooks";
import { updateProfile } from "../../api/account";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Notice } from "../../components/ui/Notice";
import { Time } from "../../components/ui/Time";
import { useAction } from "../../hooks/useAction";
import { t } from "../../i18n";
import { useSession } from "../../state/session";

export function Account() {
  const { session, dispatch } = useSession();
  const user = session.user!;
  const [nickname, setNickname] = useState(user.nickname);
  const [email, setEmail] = useState(user.email);
  const [original, setOriginal] = useState("");
  const [next, setNext] = useState("");
  const [saved, setSaved] = useState("");
  const saveProfile = useAction(async () => {
    dispatch({ type: "user", user: await updateProfile({ nickname, email }) });
    setSaved(t("common.saved"));
  });
  const savePassword = useAction(async () => {
    dispatch({ type: "user", user: await updateProfile({ original_password: original, new_password: next }) });
    setOriginal("");
    setNext("");
    setSaved(t("profile.password_changed"));
  });
  return (
    <div class="grid-2">
      <form class="card stack" onSubmit={(e) => (e.preventDefault(), void saveProfile.run())}>
        <h2>{t("profile.account")}</h2>
        <p class="muted">
          {user.username} · {user.role === "admin" ? t("role.admin") : t("role.member")} · {t("profile.since")} <Time value={user.created_at} />
        </p>
        <Field label={t("profile.nickname")}>
          {(id) => <input id={id} value={nickname} maxLength={128} onInput={(e) => setNickname(e.currentTarget.value)} />}
        </Field>
        <Field label={t("profile.email")}>
          {(id) => <input id={id} type="email" value={email} maxLength={255} onInput={(e) => setEmail(e.currentTarget.value)} />}
        </Field>
        <Notice>{saveProfile.error}</Notice>
        <Button type="submit" kind="primary" busy={saveProfile.running}>
          {t("common.save")}
        </Button>
      </form>
      <form class="card stack" onSubmit={(e) => (e.preventDefault(), void savePassword.run())}>
        <h2>{t("profile.password")}</h2>
        <input type="hidden" name="username" autoComplete="username" value={user.username} />
        <Field label={t("welcome.current")}>
          {(id) => <input id={id} type="password" autoComplete="current-password" required value={original} onInput={(e) => setOriginal(e.currentTarget.value)} />}
        </Field>
        <Field label={t("welcome.new")} hint={t("welcome.rule")}>
          {(id, hint) => (
            <input id={id} type="password" autoComplete="new-password" minLength={8} required aria-describedby={hint} value={next} onInput={(e) => setNext(e.currentTarget.value)} />
          )}
        </Field>
        <Notice>{savePassword.error}</Notice>
        <Button type="submit" busy={savePassword.running}>
          {t("profile.change_password")}
        </Button>
      </form>
      <Notice kind="ok">{saved}</Notice>
    </div>
  );
}
