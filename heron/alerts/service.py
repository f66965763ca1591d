"""Alerting as one service: the stores, the evaluator and its sources, the outbox, the forwarder.

The API layer builds it with what it needs from the layers beside it (the live servers, SQL
over the TSDB, PromQL) as plain callables, and runs its loops as background tasks:

* server rules every ``eval_interval_seconds``, over one snapshot of the live state, and
  service rules in the same loop, over the monitors' states (once :meth:`AlertService.attach_probes`
  joined the monitors);
* SQL rules and PromQL rules, each at its own ``interval_seconds``;
* the outbox, every ``delivery_poll_seconds``;
* forwarding to Alertmanager, on every change and every ``alertmanager_resend_seconds``;
* notices (:mod:`heron.alerts.notices`): a monitor's own ``notify`` and cron task results,
  written one at a time in the order they happened.

A rule's ``fail_trigger_tasks`` / ``recover_trigger_tasks`` run through the runner given to
:meth:`AlertService.attach_trigger` (the cron service) once the round that fired or resolved
the alert is committed.

Rules, groups, methods, silences and windows are cached and read again when their table
changed (:meth:`heron.meta.db.MetaStore.version`), so an edit takes effect on the next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from heron.alerts.evaluator import Evaluator, Routing, RuleStatus
from heron.alerts.forward import Forwarder
from heron.alerts.groups import GroupStore
from heron.alerts.methods import MethodStore
from heron.alerts.notices import Notices
from heron.alerts.notifiers import Senders
from heron.alerts.outbox import Outbox
from heron.alerts.rules import RuleDef, RuleStore, SqlChecker
from heron.alerts.silences import SilenceStore
from heron.alerts.sources import Observation
from heron.alerts.sources.promql import PromqlSource, RunPromql
from heron.alerts.sources.servers import ServerSnapshot, ServerSource, TransferSince
from heron.alerts.sources.services import ServiceSource
from heron.alerts.sources.sql import RunSql, SqlSource
from heron.meta.db import MetaStore
from heron.meta.models import User

log = logging.getLogger(__name__)

_RULE_TABLES = ("alert_rules",)
_ROUTING_TABLES = (
    "notifications",
    "notification_groups",
    "notification_group_members",
    "silences",
    "maintenance_windows",
    "users",
    "server_group_servers",
    "server_groups",
)
#: Fraction of its interval by which each SQL rule's first run is offset (the golden ratio's, so
#: consecutive ids land far apart).
SPREAD_FACTOR = 0.6180339887
#: How often the routing is read again even when nothing changed (silences start and end by the clock).
ROUTING_MAX_AGE_SECONDS = 30.0

#: How often the open incidents of monitors' own ``notify`` are checked against the monitors.
SWEEP_SECONDS = 5.0
#: Tries of writing one notice (a monitor's transition, a cron run) before it is given up, logged.
NOTICE_ATTEMPTS = 5
#: Runs one cron task for a rule's alert: (task id, server id of the alert, rule, "firing" | "resolved").
TaskRunner = Callable[[int, "int | None", RuleDef, str], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class AlertSettings:
    eval_interval_seconds: float = 1.0
    delivery_poll_seconds: float = 0.5
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0
    delivery_max_age_seconds: float = 86_400.0
    flap_changes: int = 6
    flap_window_seconds: float = 600.0
    alertmanager_urls: tuple[str, ...] = ()
    alertmanager_resend_seconds: float = 60.0
    external_url: str = ""


class AlertService:
    def __init__(
        self,
        meta: MetaStore,
        settings: AlertSettings,
        *,
        servers: Callable[[], Iterable[ServerSnapshot]],
        groups_of_servers: Callable[[], Mapping[int, Iterable[int]]],
        run_sql: RunSql,
        check_sql: SqlChecker,
        transfer_since: TransferSince,
        run_promql: RunPromql,
    ) -> None:
        self.meta = meta
        self.settings = settings
        self.check_sql = check_sql
        self.rules = RuleStore(meta)
        self.methods = MethodStore(meta)
        self.groups = GroupStore(meta)
        self.silences = SilenceStore(meta)
        self.changed = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self.evaluator = Evaluator(
            meta,
            flap_changes=settings.flap_changes,
            flap_window_seconds=settings.flap_window_seconds,
            on_change=self._on_change,
            on_transition=self._transition,
        )
        self._groups_of_servers = groups_of_servers
        self.server_source = ServerSource(servers, may_watch=self._may_watch, transfer_since=transfer_since)
        self.sql_source = SqlSource(run_sql)
        self.promql_source = PromqlSource(run_promql)
        self.service_source: ServiceSource | None = None
        self.notices = Notices(meta, self.routing, self._on_change)
        self._notice_queue: asyncio.Queue[Callable[[], object]] | None = None
        self._run_task: TaskRunner | None = None
        self._monitors: Callable[[], Mapping[int, Any]] | None = None
        self._swept_at = 0.0
        #: Per monitor and vantage point, where its latency was last seen: "above", "below" or "" (in range).
        self._latency_seen: dict[tuple[int, int], str] = {}
        self._run_promql = run_promql
        self._query = run_sql
        self.senders = Senders()
        self.outbox = Outbox(
            meta,
            self.senders,
            self.routing,
            retry_base_seconds=settings.retry_base_seconds,
            retry_max_seconds=settings.retry_max_seconds,
            max_age_seconds=settings.delivery_max_age_seconds,
        )
        self.forwarder = Forwarder(
            meta,
            list(settings.alertmanager_urls),
            resend_seconds=settings.alertmanager_resend_seconds,
            external_url=settings.external_url,
        )
        self._refresh_lock = threading.Lock()
        self._rules: list[RuleDef] = []
        self._rule_versions: tuple[int, ...] = (-1,)
        self._routing: Routing | None = None
        self._routing_versions: tuple[int, ...] = (-1,)
        self._routing_at = 0.0
        self._sql_due: dict[int, float] = {}
        self._promql_due: dict[int, float] = {}
        #: CPU time of the server-rule rounds (the evaluating thread's own time).
        self.eval_cpu_seconds = 0.0
        #: Wall time of the query rounds (SQL and PromQL): DuckDB runs a query on its own worker threads too, so
        #: the calling thread's CPU would undercount it; wall time is what a round occupies.
        self.sql_wall_seconds = 0.0
        self.rounds = 0

    def _on_change(self) -> None:
        """Events changed: the forwarder sends, and the outbox looks at once instead of at its next poll."""
        self.changed.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)

    # -- caches ----------------------------------------------------------------------------

    def current_rules(self) -> list[RuleDef]:
        with self._refresh_lock:
            versions = tuple(self.meta.version(t) for t in _RULE_TABLES)
            if versions != self._rule_versions:
                fresh = self.rules.all()
                old = {r.id: r for r in self._rules}
                changed = {r.id for r in fresh if old.get(r.id) != r} | (set(old) - {r.id for r in fresh})
                self.server_source.forget(changed)
                if self.service_source is not None:
                    self.service_source.forget(changed)
                self._rules, self._rule_versions = fresh, versions
                for rule in fresh:
                    if rule.id in changed:
                        self.evaluator.status.pop(rule.id, None)
                        self._sql_due.pop(rule.id, None)
                        self._promql_due.pop(rule.id, None)
                alive = {r.id for r in fresh if r.enabled}
                self.evaluator.forget_rules(alive, self.routing(), time.time())
            return self._rules

    def routing(self) -> Routing:
        versions = tuple(self.meta.version(t) for t in _ROUTING_TABLES)
        now = time.time()
        cached = self._routing
        if (
            cached is not None
            and versions == self._routing_versions
            and now - self._routing_at < ROUTING_MAX_AGE_SECONDS
        ):
            return cached
        with self.meta.session() as s:
            admins = frozenset(s.scalars(select(User.id).where(User.role == "admin")))
        routing = Routing(
            groups=self.groups.all(),
            methods=self.methods.all(),
            silences=self.silences.all_silences(),
            windows=self.silences.all_windows(),
            groups_of_servers=self._groups_of_servers(),
            admins=admins,
        )
        self._routing, self._routing_versions, self._routing_at = routing, versions, now
        return routing

    def _may_watch(self, rule: RuleDef, srv: ServerSnapshot) -> bool:
        routing = self._routing
        if routing is not None and rule.owner_id in routing.admins:
            return True
        return srv.owner_id is not None and srv.owner_id == rule.owner_id

    def may_watch(self, rule: RuleDef, srv: ServerSnapshot) -> bool:
        """Whether ``rule`` watches ``srv``: an admin's rules every server, a member's their own
        (as of the last :meth:`routing`)."""
        return self._may_watch(rule, srv)

    def _may_watch_monitor(self, rule: RuleDef, monitor: Any) -> bool:
        routing = self._routing
        if routing is not None and rule.owner_id in routing.admins:
            return True
        return monitor.owner_id is not None and monitor.owner_id == rule.owner_id

    # -- the services beside alerting --------------------------------------------------------

    def attach_probes(self, probes: Any) -> None:
        """Join the service monitors: service rules read their states, and their own ``notify``
        (Nezha's path) hears every state change."""
        self.service_source = ServiceSource(
            probes.monitors.all, probes.board.current, may_watch=self._may_watch_monitor
        )
        self._monitors = probes.monitors.all

        def changed(change: Any) -> None:
            monitor_id = change.monitor_id

            def job() -> object:
                monitor = probes.monitors.get(monitor_id)
                if monitor is None:
                    return ""
                return self.notices.monitor(monitor, probes.board.current(monitor_id), time.time())

            self._enqueue(job)

        probes.board.subscribe(changed)
        probes.board.subscribe_results(self._monitor_result)

    def _monitor_result(self, monitor: Any, server_id: int, vantage: str, result: Any) -> None:
        """Nezha's ``latency_notify``: a job only when a monitor's latency leaves or re-enters its range."""
        if not monitor.latency_notify or not monitor.notification_group_id:
            return
        if not result.up or result.delay_ms is None:
            return
        delay = float(result.delay_ms)
        high, low = monitor.max_latency_ms, monitor.min_latency_ms
        out = "above" if high > 0 and delay > high else ("below" if low > 0 and delay < low else "")
        if self._latency_seen.get((monitor.id, server_id)) == out:
            return
        self._latency_seen[(monitor.id, server_id)] = out
        self._enqueue(lambda: self.notices.latency(monitor, server_id, vantage, out, delay, time.time()))

    def attach_trigger(self, runner: TaskRunner) -> None:
        """Where a rule's trigger tasks run (the cron service)."""
        self._run_task = runner

    def cron_ran(self, task: dict[str, Any], run: Any) -> None:
        """A cron run to notify its task's group of (a failure, or a success with ``push_successful``)."""
        self._enqueue(lambda: self.notices.cron_run(task, run))

    def _enqueue(self, job: Callable[[], object]) -> None:
        loop, queue = self._loop, self._notice_queue
        if loop is None or queue is None:
            log.warning("a notice came before the alert service started; not sent")
            return
        loop.call_soon_threadsafe(queue.put_nowait, job)

    def _transition(self, rule: RuleDef, state: str, server_id: int | None) -> None:
        """Start the rule's trigger tasks for an alert that fired or resolved (its round is committed)."""
        tasks = rule.fail_trigger_tasks if state == "firing" else rule.recover_trigger_tasks
        runner, loop = self._run_task, self._loop
        if not tasks or runner is None or loop is None:
            return
        for task_id in tasks:
            future = asyncio.run_coroutine_threadsafe(_awaited(runner(task_id, server_id, rule, state)), loop)
            future.add_done_callback(_log_failure(rule.id, task_id))

    def status_of(self, rule: RuleDef) -> RuleStatus:
        if not rule.enabled:
            return RuleStatus(state="disabled")
        return self.evaluator.status.get(rule.id) or RuleStatus(state="pending_first_evaluation")

    def invalidate(self) -> None:
        """Make the next round read routing again (a silence was added through the API)."""
        self._routing_at = 0.0

    def preview(self, rule: RuleDef, now: float) -> tuple[int, list[Observation]]:
        """Evaluate ``rule`` once without saving it or touching any alert: (how many servers or
        rows it looked at, the observations that would fire now). For the rule editor."""
        if rule.kind == "server":
            self.routing()  # the admins, who may watch every server
            return self.server_source.preview(rule, now)
        if rule.kind == "service":
            if self.service_source is None:
                return 0, []
            self.routing()
            return self.service_source.preview(rule, now)
        if rule.kind == "promql":
            observations = PromqlSource(self._run_promql).observe(rule, now)
        else:
            observations = SqlSource(self._query).observe(rule, now)
        return len(observations), observations

    # -- rounds ----------------------------------------------------------------------------

    def evaluate_servers(self, now: float) -> int:
        """One round of every enabled server rule over one snapshot of the servers."""
        rules = [r for r in self.current_rules() if r.enabled and r.kind == "server"]
        if not rules:
            return 0
        started = time.thread_time()
        routing = self.routing()
        self.server_source.begin(now)
        for rule in rules:
            try:
                observations = self.server_source.observe(rule, now)
                self.evaluator.evaluate(rule, observations, routing, now)
                status = self.evaluator.status.get(rule.id)
                if status is not None and status.state == "error" and not status.message.startswith("labels."):
                    status.state, status.message = "ok", ""
            except Exception as exc:
                log.exception("server rule failed", extra={"rule_id": rule.id})
                self.evaluator.status[rule.id] = RuleStatus(state="error", message=f"{type(exc).__name__}: {exc}")
        self.eval_cpu_seconds += time.thread_time() - started
        self.rounds += 1
        return len(rules)

    def sweep_monitor_incidents(self, now: float) -> int:
        """Every :data:`SWEEP_SECONDS`: close the open incidents of monitors gone or no longer notifying."""
        if self._monitors is None or now - self._swept_at < SWEEP_SECONDS:
            return 0
        self._swept_at = now
        return self.notices.sweep(self._monitors(), now)

    def evaluate_services(self, now: float) -> int:
        """One round of every enabled service rule over the monitors' states."""
        source = self.service_source
        rules = [r for r in self.current_rules() if r.enabled and r.kind == "service"]
        if not rules or source is None:
            return 0
        routing = self.routing()
        for rule in rules:
            try:
                self.evaluator.evaluate(rule, source.observe(rule, now), routing, now)
                status = self.evaluator.status.get(rule.id)
                if status is not None and status.state == "error" and not status.message.startswith("labels."):
                    status.state, status.message = "ok", ""
            except Exception as exc:
                log.exception("service rule failed", extra={"rule_id": rule.id})
                self.evaluator.status[rule.id] = RuleStatus(state="error", message=f"{type(exc).__name__}: {exc}")
        return len(rules)

    def evaluate_sql(self, now: float) -> int:
        """Every SQL rule whose interval has passed."""
        done = 0
        for rule in [r for r in self.current_rules() if r.enabled and r.kind == "sql"]:
            assert rule.sql is not None
            interval = rule.sql.interval_seconds
            due = self._sql_due.get(rule.id)
            if due is None:
                # Spread rules over their interval (as Prometheus offsets its groups), so a
                # hundred rules saved together do not all run in the same second.
                due = self._sql_due[rule.id] = now + (rule.id * SPREAD_FACTOR % 1.0) * interval
            if now < due:
                continue
            self._sql_due[rule.id] = due + interval if due + interval > now else now + interval
            started = time.perf_counter()
            try:
                observations = self.sql_source.observe(rule, now)
                self.evaluator.evaluate(rule, observations, self.routing(), now)
                status = self.evaluator.status.setdefault(rule.id, RuleStatus())
                status.state = "ok"
                status.message = (
                    "more rows than one rule may alert on; the rest were ignored"
                    if rule.id in self.sql_source.truncated
                    else ""
                )
            except Exception as exc:  # noqa: BLE001 - any failure of one rule is its status, not the loop's end
                message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                self.evaluator.status[rule.id] = RuleStatus(state="error", message=message, last_eval_at=now)
                log.warning("sql rule failed", extra={"rule_id": rule.id, "error": message[:200]})
            self.sql_wall_seconds += time.perf_counter() - started
            done += 1
        return done

    def evaluate_promql(self, now: float) -> int:
        """Every PromQL rule whose interval has passed (spread over their intervals as SQL rules are)."""
        done = 0
        for rule in [r for r in self.current_rules() if r.enabled and r.kind == "promql" and r.promql is not None]:
            assert rule.promql is not None
            interval = rule.promql.interval_seconds
            due = self._promql_due.get(rule.id)
            if due is None:
                due = self._promql_due[rule.id] = now + (rule.id * SPREAD_FACTOR % 1.0) * interval
            if now < due:
                continue
            self._promql_due[rule.id] = due + interval if due + interval > now else now + interval
            started = time.perf_counter()
            try:
                if not rule.promql.queries:
                    raise ValueError("the rule has no PromQL expression")
                observations = self.promql_source.observe(rule, now)
                self.evaluator.evaluate(rule, observations, self.routing(), now)
                status = self.evaluator.status.setdefault(rule.id, RuleStatus())
                status.state, status.message = "ok", self.promql_source.notes.get(rule.id, "")
            except Exception as exc:  # noqa: BLE001 - any failure of one rule is its status, not the loop's end
                message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                self.evaluator.status[rule.id] = RuleStatus(state="error", message=message, last_eval_at=now)
                log.warning("promql rule failed", extra={"rule_id": rule.id, "error": message[:200]})
            self.sql_wall_seconds += time.perf_counter() - started
            done += 1
        return done

    async def run_promql(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                await asyncio.to_thread(self.evaluate_promql, time.time())
            except Exception:
                log.exception("evaluating promql rules failed; will retry")

    async def run_servers(self) -> None:
        interval = self.settings.eval_interval_seconds
        while True:
            await asyncio.sleep(interval - (time.time() % interval))
            try:
                await asyncio.to_thread(self.evaluate_servers, time.time())
            except Exception:
                log.exception("evaluating server rules failed; will retry")
            try:
                await asyncio.to_thread(self.evaluate_services, time.time())
                await asyncio.to_thread(self.sweep_monitor_incidents, time.time())
            except Exception:
                log.exception("evaluating service rules failed; will retry")

    async def run_sql(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                await asyncio.to_thread(self.evaluate_sql, time.time())
            except Exception:
                log.exception("evaluating sql rules failed; will retry")

    async def run_outbox(self) -> None:
        while True:
            try:
                tried = await self.outbox.run_once()
            except Exception:
                log.exception("the delivery worker failed; will retry")
                tried = 0
            if not tried and self._wake is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.delivery_poll_seconds)
                self._wake.clear()

    async def run_notices(self) -> None:
        """Write notices one at a time, in order (a monitor's down before its recovery).

        A write that fails (the metadata database busy or away) is tried again a few times: a
        notice commits its event and outbox rows together or not at all, so trying again is safe.
        """
        assert self._notice_queue is not None
        while True:
            job = await self._notice_queue.get()
            for attempt in range(NOTICE_ATTEMPTS):
                try:
                    await asyncio.to_thread(job)
                    break
                except Exception:
                    if attempt + 1 == NOTICE_ATTEMPTS:
                        log.exception("writing a notification failed; it is not sent")
                    else:
                        log.warning("writing a notification failed; will retry", exc_info=True)
                        await asyncio.sleep(2.0**attempt)

    async def run_forwarder(self) -> None:
        if not self.forwarder.enabled:
            return
        last = 0.0
        while True:
            await asyncio.sleep(0.25)
            now = time.time()
            if not self.changed.is_set() and now - last < self.settings.alertmanager_resend_seconds:
                continue
            self.changed.clear()
            last = now
            try:
                alerts = await asyncio.to_thread(self.forwarder.collect)
                await self.forwarder.push(alerts)
            except Exception:
                log.exception("forwarding to alertmanager failed; will retry")

    def stats(self) -> dict[str, Any]:
        """Counters for operators and the benchmark: evaluation work, alerts held, deliveries."""
        return {
            "rounds": self.rounds,
            "eval_cpu_seconds": round(self.eval_cpu_seconds, 4),
            "sql_wall_seconds": round(self.sql_wall_seconds, 4),
            "active_alerts": len(self.evaluator.states),
            "messages_sent": self.outbox.sent,
            "messages_failed": self.outbox.failed,
            "alertmanager": dict(self.forwarder.last_error),
        }

    def start(self) -> list[asyncio.Task[None]]:
        self.evaluator.load()
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        self._notice_queue = asyncio.Queue()
        return [
            asyncio.create_task(self.run_notices()),
            asyncio.create_task(self.run_servers()),
            asyncio.create_task(self.run_sql()),
            asyncio.create_task(self.run_promql()),
            asyncio.create_task(self.run_outbox()),
            asyncio.create_task(self.run_forwarder()),
        ]

    async def close(self) -> None:
        await self.senders.close()
        await self.forwarder.close()


async def _awaited(pending: Awaitable[Any]) -> Any:
    return await pending


def _log_failure(rule_id: int, task_id: int) -> Callable[[Future[Any]], None]:
    def done(future: Future[Any]) -> None:
        exc = future.exception()
        if exc is not None:
            log.warning(
                "a trigger task did not run",
                extra={"rule_id": rule_id, "cron_id": task_id, "error": getattr(exc, "message", None) or repr(exc)},
            )

    return done
