import { useState } from "preact/hooks";
import { createUser, deleteUser, listUsers, updateUser } from "../../api/admin";
import type { User } from "../../api/types";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Loading, Notice } from "../../components/ui/Notice";
import { Time } from "../../components/ui/Time";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";
import { useSession } from "../../state/session";

function NewUser({ onMade }: { onMade: () => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<"admin" | "member">("member");
  const create = useAction(async () => {
    await createUser({ username, password, role });
    setUsername("");
    setPassword("");
    onMade();
  });
  return (
    <form class="card stack" onSubmit={(e) => (e.preventDefault(), void create.run())}>
      <h2>{t("users.new")}</h2>
      <div class="row">
        <Field label={t("login.username")}>{(id) => <input id={id} required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />}</Field>
        <Field label={t("login.password")} hint={t("welcome.rule")}>
          {(id, hint) => <input id={id} type="password" autoComplete="new-password" minLength={8} required aria-describedby={hint} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />}
        </Field>
        <Field label={t("users.role")}>
          {(id) => (
            <select id={id} value={role} onChange={(e) => setRole(e.currentTarget.value as "admin" | "member")}>
              <option value="member">{t("role.member")}</option>
              <option value="admin">{t("role.admin")}</option>
            </select>
          )}
        </Field>
      </div>
      <Notice>{create.error}</Notice>
      <Button type="submit" kind="primary" busy={create.running}>
        {t("users.create")}
      </Button>
    </form>
  );
}

export function Users() {
  const { session } = useSession();
  const users = useFetch((signal) => listUsers(signal), []);
  const change = useAction(async (u: User, form: Parameters<typeof updateUser>[1]) => {
    await updateUser(u.id, form);
    users.reload();
  });
  const remove = useAction(async (u: User) => {
    await deleteUser(u.id);
    users.reload();
  });
  return (
    <div class="stack">
      <NewUser onMade={users.reload} />
      <section class="card">
        <h2>{t("admin.users")}</h2>
        <Notice>{users.error || change.error || remove.error}</Notice>
        {!users.data ? (
          <Loading label={t("common.loading")} />
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("login.username")}</th>
                  <th scope="col">{t("profile.nickname")}</th>
                  <th scope="col">{t("users.role")}</th>
                  <th scope="col">{t("common.created")}</th>
                  <th scope="col">{t("users.last_active")}</th>
                  <th scope="col"><span class="sr-only">{t("common.actions")}</span></th>
                </tr>
              </thead>
              <tbody>
                {users.data.value.map((u) => (
                  <tr key={u.id}>
                    <td>{u.username}</td>
                    <td>{u.nickname}</td>
                    <td>
                      <label class="sr-only" for={`role-${u.id}`}>{t("users.role_of", { name: u.username })}</label>
                      <select id={`role-${u.id}`} value={u.role} onChange={(e) => void change.run(u, { role: e.currentTarget.value as "admin" | "member" })}>
                        <option value="member">{t("role.member")}</option>
                        <option value="admin">{t("role.admin")}</option>
                      </select>
                    </td>
                    <td><Time value={u.created_at} /></td>
                    <td><Time value={u.last_active} /></td>
                    <td class="actions">
                      <Button
                        onClick={() => {
                          const password = prompt(t("users.new_password", { name: u.username }));
                          if (password) void change.run(u, { password });
                        }}
                      >
                        {t("users.reset")}
                      </Button>
                      {u.id !== session.user?.id && (
                        <Button kind="danger" onClick={() => confirm(t("users.confirm_delete", { name: u.username })) && void remove.run(u)}>
                          {t("common.delete")}
                        </Button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
