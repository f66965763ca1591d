// Where alerts go: methods (each with a "send test" that shows what the far end answered) and
// the groups rules and monitors send to.
import { useState } from "preact/hooks";
import { createGroup, deleteGroups, deleteMethods, listGroups, listMethods, Method, testMethod, TestAnswer } from "../../api/alerts";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";
import { MethodForm } from "./MethodForm";

function MethodRow({ m, onGone }: { m: Method; onGone: () => void }) {
  const [answer, setAnswer] = useState<TestAnswer | null>(null);
  const send = useAction(async () => setAnswer(await testMethod(m.id)));
  const remove = useAction(async () => {
    await deleteMethods([m.id]);
    onGone();
  });
  return (
    <li class="card stack">
      <div class="page-head">
        <div>
          <strong>{m.name}</strong> <span class="muted small">{m.kind} {m.url}</span>
        </div>
        <div class="actions">
          <Button busy={send.running} onClick={() => void send.run()} aria-label={t("methods.test_of", { name: m.name })}>{t("methods.test")}</Button>
          <Button kind="danger" onClick={() => confirm(t("methods.confirm_delete", { name: m.name })) && void remove.run()}>{t("common.delete")}</Button>
        </div>
      </div>
      <Notice>{send.error || remove.error}</Notice>
      {answer && (
        <div role="status" class="stack">
          <p class={answer.delivered ? "rule-status-ok" : "rule-status-error"}>
            {answer.delivered ? t("methods.delivered") : t("methods.not_delivered")}
            {answer.status_code !== null && ` · HTTP ${answer.status_code}`}
          </p>
          <pre class="answer" aria-label={t("methods.far_end_said", { name: m.name })}>{answer.response || t("methods.no_answer")}</pre>
        </div>
      )}
    </li>
  );
}

function NewGroup({ methods, onMade }: { methods: Method[]; onMade: () => void }) {
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState<number[]>([]);
  const create = useAction(async () => {
    if (!name.trim()) throw new Error("name: a notification group needs a name of 1 to 255 characters");
    await createGroup({ name: name.trim(), notifications: chosen });
    setName("");
    setChosen([]);
    onMade();
  });
  return (
    <form class="stack" onSubmit={(e) => (e.preventDefault(), void create.run())}>
      <Field label={t("groups.name")}>{(id) => <input id={id} value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
      <fieldset>
        <legend>{t("groups.methods")}</legend>
        {methods.length === 0 && <p class="muted">{t("groups.no_methods")}</p>}
        {methods.map((m) => (
          <label key={m.id} class="check">
            <input type="checkbox" checked={chosen.includes(m.id)} onChange={(e) => setChosen(e.currentTarget.checked ? [...chosen, m.id] : chosen.filter((c) => c !== m.id))} />
            {m.name}
          </label>
        ))}
      </fieldset>
      <Notice>{create.error}</Notice>
      <Button type="submit" kind="primary" busy={create.running}>{t("groups.create")}</Button>
    </form>
  );
}

export function Notifications() {
  const methods = useFetch((signal) => listMethods(signal), []);
  const groups = useFetch((signal) => listGroups(signal), []);
  const removeGroup = useAction(async (id: number) => {
    await deleteGroups([id]);
    groups.reload();
  });
  const names = new Map((methods.data ?? []).map((m) => [m.id, m.name]));
  return (
    <div class="stack">
      <MethodForm onMade={methods.reload} />
      <section class="stack">
        <h2>{t("methods.title")}</h2>
        <Notice>{methods.error}</Notice>
        {!methods.data ? (
          <Loading label={t("common.loading")} />
        ) : methods.data.length === 0 ? (
          <div class="card"><Empty title={t("methods.empty")}><p>{t("methods.empty_hint")}</p></Empty></div>
        ) : (
          <ul class="stack" style={{ listStyle: "none", padding: 0, margin: 0 }}>
            {methods.data.map((m) => <MethodRow key={m.id} m={m} onGone={methods.reload} />)}
          </ul>
        )}
      </section>
      <section class="card stack">
        <h2>{t("groups.title")}</h2>
        <p class="muted">{t("groups.intro")}</p>
        <Notice>{groups.error || removeGroup.error}</Notice>
        {(groups.data ?? []).map((g) => (
          <div key={g.group.id} class="row">
            <strong>{g.group.name}</strong>
            <span class="muted">{g.notifications.map((id) => names.get(id) ?? `#${id}`).join(", ") || t("groups.no_members")}</span>
            <Button kind="danger" onClick={() => confirm(t("groups.confirm_delete", { name: g.group.name })) && void removeGroup.run(g.group.id)}>{t("common.delete")}</Button>
          </div>
        ))}
        {groups.data?.length === 0 && <p class="muted">{t("groups.empty")}</p>}
        <NewGroup methods={methods.data ?? []} onMade={groups.reload} />
      </section>
    </div>
  );
}
