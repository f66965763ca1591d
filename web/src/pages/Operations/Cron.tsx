import { useRef, useState } from "preact/hooks";
import { Cron, deleteCron, listCron, runCron } from "../../api/ops";
import { Button } from "../../components/ui/Button";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { Time } from "../../components/ui/Time";
import { useAction } from "../../hooks/useAction";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";
import { CronForm } from "./CronForm";
import { CronRuns } from "./CronRuns";
import { useServers } from "./hooks/useServers";

/** Cron tasks: list, create and edit, run now, and each task's runs with their output. */
export function CronTab() {
  const tasks = useFetch((signal) => listCron(signal), []);
  const servers = useServers();
  const [editing, setEditing] = useState<Cron | "new" | null>(null);
  const [shown, setShown] = useState<number | null>(null);
  const [round, setRound] = useState(0);
  const seenRun = useRef(0);
  const run = useAction(async (task: Cron) => {
    await runCron(task.id);
    setShown(task.id);
    setRound((n) => n + 1);
    tasks.reload();
  });
  const remove = useAction(async (task: Cron) => {
    await deleteCron([task.id]);
    if (shown === task.id) setShown(null);
    tasks.reload();
  });
  const names = new Map((servers.data ?? []).map((s) => [s.id, s.name]));
  const list = tasks.data?.value ?? [];
  const coverText = (task: Cron) => {
    const listed = task.servers.map((id) => names.get(id) ?? `#${id}`).join(", ") || "—";
    return task.cover === 1 ? t("ops.cover_except_list", { list: listed }) : task.cover === 2 ? t("ops.cover_alert") : listed;
  };
  return (
    <div class="stack">
      <div class="page-head">
        <h2>{t("ops.cron")}</h2>
        <Button kind="primary" onClick={() => setEditing("new")} disabled={editing !== null}>
          {t("ops.cron_new")}
        </Button>
      </div>
      {editing !== null && (
        <CronForm
          task={editing === "new" ? null : editing}
          servers={servers.data ?? []}
          onDone={(id) => {
            setEditing(null);
            if (id !== null) tasks.reload();
          }}
        />
      )}
      <Notice>{tasks.error || run.error || remove.error}</Notice>
      {!tasks.data ? (
        <Loading label={t("common.loading")} />
      ) : !list.length ? (
        <Empty title={t("ops.cron_empty")}>
          <p>{t("ops.cron_empty_hint")}</p>
        </Empty>
      ) : (
        <div class="table-wrap card wide">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("ops.name")}</th>
                <th scope="col">{t("ops.cron_schedule")}</th>
                <th scope="col">{t("ops.cron_command")}</th>
                <th scope="col">{t("ops.cron_servers")}</th>
                <th scope="col">{t("ops.cron_last")}</th>
                <th scope="col">
                  <span class="sr-only">{t("common.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((task) => (
                <tr key={task.id}>
                  <td>{task.name}</td>
                  <td>
                    <code>{task.task_type === 0 ? task.scheduler : t("ops.cron_triggered")}</code>
                  </td>
                  <td>
                    <code class="command">{task.command}</code>
                  </td>
                  <td>{coverText(task)}</td>
                  <td>
                    <Time value={task.last_executed_at} />
                    {task.last_executed_at !== null && task.last_result !== null && <span class={`pill ${task.last_result ? "up" : "down"}`}>{task.last_result ? t("ops.run_ok") : t("ops.run_failed")}</span>}
                  </td>
                  <td>
<div class="actions">
                    <Button kind="primary" busy={run.running} onClick={() => void run.run(task)} aria-label={t("ops.cron_run_name", { name: task.name })}>
                      {t("ops.cron_run")}
                    </Button>
                    <Button aria-expanded={shown === task.id} onClick={() => setShown(shown === task.id ? null : task.id)} aria-label={t("ops.cron_runs_of", { name: task.name })}>
                      {t("ops.cron_runs")}
                    </Button>
                    <Button onClick={() => setEditing(task)} aria-label={t("ops.cron_edit", { name: task.name })}>
                      {t("common.edit")}
                    </Button>
                    <Button kind="danger" onClick={() => confirm(t("ops.cron_confirm_delete", { name: task.name })) && void remove.run(task)} aria-label={t("ops.delete_name", { name: task.name })}>
                      {t("common.delete")}
                    </Button>
                  </div>
</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list
        .filter((task) => task.id === shown)
        .map((task) => (
          <div class="card" key={task.id}>
            <CronRuns
              task={task}
              round={round}
              onNewest={(runId) => {
                // A run finished since the list was read: its "last run" column is stale.
                if (runId !== seenRun.current) tasks.reload();
                seenRun.current = runId;
              }}
            />
          </div>
        ))}
    </div>
  );
}
