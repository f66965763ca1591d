import { useEffect, useState } from "preact/hooks";
import { Cron, listCronRuns } from "../../api/ops";
import { Empty, Notice } from "../../components/ui/Notice";
import { Pager } from "../../components/ui/Pager";
import { Time } from "../../components/ui/Time";
import { useFetch } from "../../hooks/useFetch";
import { t } from "../../i18n";

const LIMIT = 10;
/** Runs finish on the agents after "run now" answered; the list looks again this often while shown. */
const POLL_MS = 2000;

const TONE: Record<string, string> = { ok: "up", failed: "down", timeout: "down", error: "down", refused: "warn", missed: "warn" };

/** A task's runs, newest first: per server its status, exit code and output. */
export function CronRuns({ task, round, onNewest }: { task: Cron; round: number; onNewest: (runId: number) => void }) {
  const [offset, setOffset] = useState(0);
  const [tick, setTick] = useState(0);
  const runs = useFetch((signal) => listCronRuns(task.id, offset, LIMIT, signal), [task.id, offset, round, tick]);
  useEffect(() => {
    const timer = window.setInterval(() => setTick((n) => n + 1), POLL_MS);
    return () => window.clearInterval(timer);
  }, []);
  const list = runs.data?.value ?? [];
  const newest = list[0]?.id;
  useEffect(() => {
    if (newest !== undefined) onNewest(newest);
  }, [newest]);
  return (
    <section class="stack runs" aria-labelledby={`runs-${task.id}`} aria-busy={runs.isLoading}>
      <h3 id={`runs-${task.id}`}>{t("ops.cron_runs_of", { name: task.name })}</h3>
      <Notice>{runs.error}</Notice>
      {runs.data && !list.length && <Empty title={t("ops.cron_no_runs")}>{t("ops.cron_no_runs_hint")}</Empty>}
      {list.map((r) => (
        <article key={r.id} class="run" aria-label={t("ops.cron_run_on", { name: r.server_name || String(r.server_id) })}>
          <div class="row run-head">
            <strong>{r.server_name || `#${r.server_id}`}</strong>
            <span class={`pill ${TONE[r.status] ?? ""}`}>{t(`ops.run_${r.status}` as "ops.run_ok") ?? r.status}</span>
            <span>
              {t("ops.exit_code")}: <code>{r.exit_code ?? "—"}</code>
            </span>
            <span class="muted">
              <Time value={r.started_at} /> · {r.trigger} · {r.duration_ms === null ? "—" : `${Math.round(r.duration_ms)} ms`}
            </span>
          </div>
          {r.error && <p class="notice notice-error">{r.error}</p>}
          {r.output ? (
            <pre class="output" tabIndex={0} aria-label={t("ops.output")}>
              {r.output}
              {r.truncated ? `\n${t("ops.output_truncated")}` : ""}
            </pre>
          ) : (
            <p class="muted small">{t("ops.no_output")}</p>
          )}
        </article>
      ))}
      {runs.data && <Pager offset={offset} limit={LIMIT} total={runs.data.pagination.total} onOffset={setOffset} />}
    </section>
  );
}
