// Silences: label matchers that stop messages (not alerts) for a while; expire one to end it.
import { useState } from "preact/hooks";
import { createSilence, deleteSilences, listSilences } from "../../api/alerts";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { Time } from "../../components/ui/Time";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";

const OPS = ["=", "!=", "=~", "!~"];
const LABEL = /^[A-Za-z_][A-Za-z0-9_]*$/;

function NewSilence({ onMade }: { onMade: () => void }) {
  const [name, setName] = useState("server_name");
  const [op, setOp] = useState("=");
  const [value, setValue] = useState("");
  const [hours, setHours] = useState("2");
  const [comment, setComment] = useState("");
  const create = useAction(async () => {
    if (!LABEL.test(name)) throw new Error(`matchers[0].name: expected a label name, got '${name}'`);
    if (!(Number(hours) > 0 && Number(hours) <= 366 * 24)) throw new Error("ends_at: a silence lasts at most a year");
    const now = new Date();
    await createSilence({
      matchers: [{ name, op, value }],
      starts_at: now.toISOString(),
      ends_at: new Date(now.getTime() + Number(hours) * 3_600_000).toISOString(),
      comment,
    });
    setValue("");
    setComment("");
    onMade();
  });
  return (
    <form class="card stack" onSubmit={(e) => (e.preventDefault(), void create.run())}>
      <h2>{t("silences.new")}</h2>
      <p class="muted">{t("silences.intro")}</p>
      <div class="matcher">
        <Field label={t("silences.label")}>{(id) => <input id={id} value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label={t("silences.op")}>
          {(id) => (
            <select id={id} value={op} onChange={(e) => setOp(e.currentTarget.value)}>
              {OPS.map((o) => <option key={o} value={o}>{o}</option>)}
            </select>
          )}
        </Field>
        <Field label={t("silences.value")}>{(id) => <input id={id} value={value} onInput={(e) => setValue(e.currentTarget.value)} />}</Field>
        <Field label={t("silences.hours")}>{(id) => <input id={id} inputMode="decimal" size={6} value={hours} onInput={(e) => setHours(e.currentTarget.value)} />}</Field>
      </div>
      <Field label={t("silences.comment")}>{(id) => <input id={id} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />}</Field>
      <Notice>{create.error}</Notice>
      <Button type="submit" kind="primary" busy={create.running}>{t("silences.create")}</Button>
    </form>
  );
}

export function Silences() {
  const silences = useFetch((signal) => listSilences(signal), []);
  const expire = useAction(async (id: number) => {
    await deleteSilences([id]);
    silences.reload();
  });
  return (
    <div class="stack">
      <NewSilence onMade={silences.reload} />
      <section class="card stack">
        <h2>{t("alerts.silences")}</h2>
        <Notice>{silences.error || expire.error}</Notice>
        {!silences.data ? (
          <Loading label={t("common.loading")} />
        ) : silences.data.length === 0 ? (
          <Empty title={t("silences.empty")}><p>{t("silences.empty_hint")}</p></Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("silences.matchers")}</th>
                  <th scope="col">{t("alerts.state")}</th>
                  <th scope="col">{t("silences.starts")}</th>
                  <th scope="col">{t("silences.ends")}</th>
                  <th scope="col">{t("silences.comment")}</th>
                  <th scope="col"><span class="sr-only">{t("common.actions")}</span></th>
                </tr>
              </thead>
              <tbody>
                {silences.data.map((s) => (
                  <tr key={s.id}>
                    <td><code>{s.matchers.map((m) => `${m.name}${m.op}"${m.value}"`).join(", ")}</code></td>
                    <td>{t(s.state === "active" ? "silences.active" : s.state === "pending" ? "silences.pending" : "silences.expired")}</td>
                    <td><Time value={s.starts_at} /></td>
                    <td><Time value={s.ends_at} /></td>
                    <td>{s.comment}</td>
                    <td>
                      <Button onClick={() => confirm(t("silences.confirm_expire")) && void expire.run(s.id)}>{t("silences.expire")}</Button>
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
