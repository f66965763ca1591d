// Recurring maintenance windows: a cron expression for each start and a length; alerts on the
// chosen servers (all when none is chosen) send nothing meanwhile.
import { useState } from "preact/hooks";
import { createWindow, deleteWindows, listWindows } from "../../api/alerts";
import { listServers } from "../../api/servers";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";

const CRON = /^\S+(\s+\S+){4}$/;

function NewWindow({ onMade }: { onMade: () => void }) {
  const [name, setName] = useState("");
  const [cron, setCron] = useState("0 3 * * 0");
  const [minutes, setMinutes] = useState("60");
  const [zone, setZone] = useState(() => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  const [chosen, setChosen] = useState<number[]>([]);
  const servers = useFetch((signal) => listServers(signal), []);
  const create = useAction(async () => {
    if (!name.trim()) throw new Error("name: a maintenance window needs a name of 1 to 255 characters");
    if (!CRON.test(cron.trim())) throw new Error(`cron: expected five cron fields (minute hour day month weekday), got '${cron}'`);
    const seconds = Number(minutes) * 60;
    if (!(seconds > 0 && seconds <= 31 * 86_400)) throw new Error(`duration_seconds: expected seconds from 1 to ${31 * 86_400}, got ${seconds}`);
    await createWindow({ name: name.trim(), cron: cron.trim(), duration_seconds: seconds, timezone: zone, server_ids: chosen });
    setName("");
    onMade();
  });
  return (
    <form class="card stack" onSubmit={(e) => (e.preventDefault(), void create.run())}>
      <h2>{t("windows.new")}</h2>
      <p class="muted">{t("windows.intro")}</p>
      <div class="row">
        <Field label={t("windows.name")}>{(id) => <input id={id} value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label={t("windows.cron")} hint={t("windows.cron_hint")}>
          {(id, hint) => <input id={id} aria-describedby={hint} value={cron} onInput={(e) => setCron(e.currentTarget.value)} />}
        </Field>
        <Field label={t("windows.minutes")}>{(id) => <input id={id} inputMode="numeric" size={6} value={minutes} onInput={(e) => setMinutes(e.currentTarget.value)} />}</Field>
        <Field label={t("windows.zone")}>{(id) => <input id={id} value={zone} onInput={(e) => setZone(e.currentTarget.value)} />}</Field>
      </div>
      <fieldset>
        <legend>{t("windows.servers")}</legend>
        <div class="pick-list">
          {(servers.data ?? []).map((s) => (
            <label key={s.id} class="check">
              <input type="checkbox" checked={chosen.includes(s.id)} onChange={(e) => setChosen(e.currentTarget.checked ? [...chosen, s.id] : chosen.filter((c) => c !== s.id))} />
              {s.name}
            </label>
          ))}
        </div>
      </fieldset>
      <Notice>{create.error}</Notice>
      <Button type="submit" kind="primary" busy={create.running}>{t("windows.create")}</Button>
    </form>
  );
}

export function Windows() {
  const windows = useFetch((signal) => listWindows(signal), []);
  const remove = useAction(async (id: number) => {
    await deleteWindows([id]);
    windows.reload();
  });
  return (
    <div class="stack">
      <NewWindow onMade={windows.reload} />
      <section class="card stack">
        <h2>{t("alerts.maintenance")}</h2>
        <Notice>{windows.error || remove.error}</Notice>
        {!windows.data ? (
          <Loading label={t("common.loading")} />
        ) : windows.data.length === 0 ? (
          <Empty title={t("windows.empty")}><p>{t("windows.empty_hint")}</p></Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("windows.name")}</th>
                  <th scope="col">{t("windows.cron")}</th>
                  <th scope="col">{t("windows.minutes")}</th>
                  <th scope="col">{t("windows.zone")}</th>
                  <th scope="col">{t("windows.scope")}</th>
                  <th scope="col">{t("alerts.state")}</th>
                  <th scope="col"><span class="sr-only">{t("common.actions")}</span></th>
                </tr>
              </thead>
              <tbody>
                {windows.data.map((w) => (
                  <tr key={w.id}>
                    <td>{w.name}</td>
                    <td><code>{w.cron}</code></td>
                    <td>{Math.round(w.duration_seconds / 60)}</td>
                    <td>{w.timezone}</td>
                    <td>{w.server_ids.length ? t("windows.n_servers", { n: w.server_ids.length }) : t("windows.all_servers")}</td>
                    <td>{w.active ? t("windows.in_progress") : t("windows.waiting")}</td>
                    <td>
                      <Button kind="danger" onClick={() => confirm(t("windows.confirm_delete", { name: w.name })) && void remove.run(w.id)}>{t("common.delete")}</Button>
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
