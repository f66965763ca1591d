"""Cron tasks (Nezha's): a command run with ``sh -c`` on servers, on a schedule or when an alert fires.

A task has a ``scheduler`` (a cron expression whose first field is seconds, as Nezha's
``robfig/cron`` with seconds reads it, e.g. ``*/30 * * * * *``), a ``command``, and which
servers it covers: ``cover`` 0 runs on the listed ``servers`` only, 1 on every server of the
task's owner except the listed ones, 2 on the server whose alert triggered it. The owner's
servers are those they own (an admin's task may use every server).

Each run on each server is stored (:class:`heron.meta.ops_models.CronRun`): output (up to
:data:`MAX_STORED_OUTPUT_BYTES`), exit code and duration; a server whose agent is offline
gets a ``missed`` run and one that does not allow commands a ``refused`` run, so nothing is
dropped silently. Runs are written in batches by :meth:`CronService.flush`.

For the alerts side: :meth:`CronService.run_task` runs a task by id (``trigger="alert"``
with the server that fired); :attr:`CronService.failure_listeners` are called with each
failed, missed or refused run, and with each successful one of a task with
``push_successful`` (Nezha's meaning), which is where the task's notification group is told
(:meth:`heron.alerts.service.AlertService.cron_ran`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import orjson
from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from sqlalchemy import func, insert, select, update

from heron.auth.permissions import Action, Resource, require
from heron.auth.users import Principal, aware
from heron.core.errors import BadRequest, HeronError, NotFound
from heron.meta.alert_models import NotificationGroup
from heron.meta.db import MetaStore
from heron.meta.ops_models import CronRun, CronTask
from heron.ops.audit import SYSTEM, Actor
from heron.ops.channel import Stream
from heron.ops.errors import AgentGone
from heron.ops.service import Operations

log = logging.getLogger(__name__)

SCHEDULED, TRIGGERED = 0, 1
COVER_ONLY, COVER_ALL_EXCEPT, COVER_ALERT = 0, 1, 2
#: Output kept per run in the database (the agent returns up to 1 MiB; the rest is counted).
MAX_STORED_OUTPUT_BYTES = 64 * 1024
MAX_COMMAND_CHARS = 64 * 1024
MAX_SERVERS = 10_000
#: Runs waiting to be written before new ones are written at once by the caller.
FLUSH_BATCH_RUNS = 1000
_NOT_CONNECTED = "the server's agent was not connected"
_NO_EXEC = "the agent does not allow exec (heron agent --allow exec)"
_GONE = "the agent's connection ended during the run"


@dataclass(frozen=True, slots=True)
class CronForm:
    """Nezha's ``CronForm``."""

    name: str
    task_type: int
    scheduler: str
    command: str
    servers: list[int]
    cover: int
    push_successful: bool
    notification_group_id: int


@dataclass(frozen=True, slots=True)
class RunResult:
    cron_id: int
    server_id: int
    server_name: str
    trigger: str
    status: str
    exit_code: int | None
    output: str
    truncated: bool
    error: str
    started_at: datetime
    finished_at: datetime
    duration_ms: float


def next_fire(expression: str, after: datetime) -> datetime:
    """The next time ``expression`` (seconds first) fires after ``after``."""
    result = croniter(expression, after, second_at_beginning=True).get_next(datetime)
    assert isinstance(result, datetime)
    return result


def check_form(form: CronForm) -> None:
    """Refuse what cannot run, naming the field: a bad schedule, an empty command, a wrong cover."""
    if not form.name.strip():
        raise BadRequest("name: a task needs a name")
    if form.task_type not in (SCHEDULED, TRIGGERED):
        raise BadRequest(f"task_type: expected 0 (scheduled) or 1 (triggered by an alert rule), got {form.task_type}")
    if form.cover not in (COVER_ONLY, COVER_ALL_EXCEPT, COVER_ALERT):
        raise BadRequest(
            f"cover: expected 0 (listed servers), 1 (all but the listed) or 2 (the alerting one), got {form.cover}"
        )
    if form.task_type == SCHEDULED and form.cover == COVER_ALERT:
        raise BadRequest("cover: a scheduled task cannot be run by the server of an alert (cover 2 needs task_type 1)")
    if not form.command.strip():
        raise BadRequest("command: a task needs a command")
    if len(form.command) > MAX_COMMAND_CHARS:
        raise BadRequest(f"command: at most {MAX_COMMAND_CHARS} characters, got {len(form.command)}")
    if form.task_type == SCHEDULED:
        expression = form.scheduler.strip()
        fields = expression.split()
        if not expression.startswith("@") and len(fields) != 6:
            raise BadRequest(
                f"scheduler: expected 6 fields (second minute hour day month weekday), got {len(fields)} "
                f"in {form.scheduler!r}"
            )
        try:
            next_fire(expression, datetime.now(UTC))
        except (CroniterBadCronError, CroniterBadDateError, ValueError, KeyError) as exc:
            raise BadRequest(f"scheduler: {form.scheduler!r} is not a valid cron expression ({exc})") from None


def _task_out(t: CronTask) -> dict[str, Any]:
    return {
        "id": t.id,
        "user_id": t.owner_id,
        "name": t.name,
        "task_type": t.task_type,
        "scheduler": t.scheduler,
        "command": t.command,
        "servers": orjson.loads(t.servers or "[]"),
        "cover": t.cover,
        "push_successful": t.push_successful,
        "notification_group_id": t.notification_group_id,
        "last_executed_at": aware(t.last_executed_at).isoformat() if t.last_executed_at else None,
        "last_result": t.last_result,
        "created_at": aware(t.created_at).isoformat(),
        "updated_at": aware(t.updated_at).isoformat(),
    }


def _run_out(r: CronRun) -> dict[str, Any]:
    return {
        "id": r.id,
        "cron_id": r.cron_id,
        "server_id": r.server_id,
        "server_name": r.server_name,
        "trigger": r.trigger,
        "status": r.status,
        "exit_code": r.exit_code,
        "output": r.output,
        "truncated": r.truncated,
        "error": r.error,
        "started_at": aware(r.started_at).isoformat(),
        "finished_at": aware(r.finished_at).isoformat() if r.finished_at else None,
        "duration_ms": r.duration_ms,
    }


@dataclass
class CronService:
    meta: MetaStore
    ops: Operations
    #: Longest a command may run on a server before the agent kills it.
    command_timeout_seconds: float = 3600.0
    #: Called with every failed, missed or refused run, and every successful one of a task with
    #: ``push_successful`` (the alerts side delivers them to the task's group).
    failure_listeners: list[Callable[[dict[str, Any], RunResult], None]] = field(default_factory=list)
    _pending: list[RunResult] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: asyncio.Event | None = None
    _firing: set[asyncio.Task[None]] = field(default_factory=set)

    # -- the store ----------------------------------------------------------------------------

    def create(self, principal: Principal, form: CronForm) -> int:
        check_form(form)
        self._check_servers(principal, form.servers)
        with self.meta.session() as s:
            _check_group(s, principal, form.notification_group_id)
            task = CronTask(owner_id=principal.user_id, **_columns(form))
            s.add(task)
            s.flush()
            task_id = task.id
        self.changed()
        return task_id

    def update(self, principal: Principal, task_id: int, form: CronForm) -> None:
        check_form(form)
        with self.meta.session() as s:
            task = self._owned(s, principal, task_id, Action.UPDATE)
            self._check_servers(principal, form.servers)
            _check_group(s, principal, form.notification_group_id)
            for key, value in _columns(form).items():
                setattr(task, key, value)
        self.changed()

    def delete(self, principal: Principal, ids: list[int]) -> list[int]:
        with self.meta.session() as s:
            tasks = [self._owned(s, principal, i, Action.DELETE) for i in dict.fromkeys(ids)]
            for task in tasks:
                s.delete(task)
        self.changed()
        return [t.id for t in tasks]

    def get(self, principal: Principal, task_id: int) -> dict[str, Any]:
        with self.meta.session() as s:
            return _task_out(self._owned(s, principal, task_id, Action.READ))

    def listing(self, principal: Principal, *, offset: int, limit: int) -> list[dict[str, Any]]:
        with self.meta.session() as s:
            q = select(CronTask).order_by(CronTask.id).offset(offset).limit(limit)
            if not principal.is_admin:
                q = q.where(CronTask.owner_id == principal.user_id)
            return [_task_out(t) for t in s.scalars(q)]

    def count(self, principal: Principal) -> int:
        with self.meta.session() as s:
            q = select(func.count()).select_from(CronTask)
            if not principal.is_admin:
                q = q.where(CronTask.owner_id == principal.user_id)
            return int(s.scalar(q) or 0)

    def runs(self, principal: Principal, task_id: int, *, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Runs of a task, newest first, and their number."""
        self.flush()
        with self.meta.session() as s:
            self._owned(s, principal, task_id, Action.READ)
            q = select(CronRun).where(CronRun.cron_id == task_id)
            rows = s.scalars(q.order_by(CronRun.id.desc()).offset(offset).limit(limit))
            total = s.scalar(select(func.count()).select_from(CronRun).where(CronRun.cron_id == task_id))
            return [_run_out(r) for r in rows], int(total or 0)

    @staticmethod
    def _owned(s: Any, principal: Principal, task_id: int, action: Action) -> CronTask:
        task = s.get(CronTask, task_id)
        if task is None:
            raise NotFound(f"cron task {task_id} does not exist")
        require(principal, action, Resource("server", owner_id=task.owner_id))
        assert isinstance(task, CronTask)
        return task

    def _check_servers(self, principal: Principal, ids: list[int]) -> None:
        for server_id in ids:
            self.ops.server_for(principal, server_id, field="servers")

    # -- running ------------------------------------------------------------------------------

    def changed(self) -> None:
        """Tasks changed: the scheduler re-reads them."""
        if self._changed is not None:
            self._changed.set()

    def _load(self, task_id: int) -> tuple[dict[str, Any], bool] | None:
        with self.meta.session() as s:
            task = s.get(CronTask, task_id)
            if task is None:
                return None
            owner_admin = task.owner_id is not None and _is_admin(s, task.owner_id)
            return _task_out(task), owner_admin

    def _targets(self, task: dict[str, Any], owner_admin: bool, trigger_server: int | None) -> list[Any]:
        listed = set(task["servers"])
        if task["cover"] == COVER_ALERT:
            if trigger_server is None:
                return []
            candidates = [i for i in [self.ops.hosts.by_id(trigger_server)] if i is not None]
        else:
            candidates = self.ops.hosts.list()
        mine = [i for i in candidates if owner_admin or (i.owner_id is not None and i.owner_id == task["user_id"])]
        if task["cover"] == COVER_ONLY:
            return [i for i in mine if i.id in listed]
        if task["cover"] == COVER_ALL_EXCEPT:
            return [i for i in mine if i.id not in listed]
        return mine

    async def run_task(
        self, task_id: int, *, trigger: str, server_id: int | None = None, actor: Actor = SYSTEM
    ) -> list[RunResult]:
        """Run task ``task_id`` now on its servers and wait for every result (stored by :meth:`flush`).

        ``trigger`` is ``schedule``, ``manual`` or ``alert``; for ``alert``, ``server_id`` is the
        server whose alert fired (the one a ``cover`` 2 task runs on).

        One coroutine sends the command to every server in turn (no task per server: on 2,000
        servers, tasks and their timers were most of the dispatch time), and each answer is
        settled by a callback the moment it arrives, so a run's ``finished_at`` is its own.
        """
        loaded = await asyncio.to_thread(self._load, task_id)
        if loaded is None:
            raise NotFound(f"cron task {task_id} does not exist")
        task, owner_admin = loaded
        if trigger == "alert" and task["task_type"] != TRIGGERED:
            # Changed to a scheduled task after a rule named it: alerts run triggered tasks only.
            raise BadRequest(f"cron task {task_id} is no longer a triggered task (task_type 1); not run")
        targets = self._targets(task, owner_admin, server_id)
        args = {"command": task["command"], "timeout": self.command_timeout_seconds}
        runs: list[RunResult] = []
        waiting: list[tuple[Stream, Any, datetime, float]] = []
        for info in targets:
            started, clock = datetime.now(UTC), time.monotonic()
            link = self.ops.hub.get(info.id)
            if link is None:
                runs.append(self._settle(task, info, trigger, actor, started, clock, "missed", error=_NOT_CONNECTED))
                continue
            if not link.allows("exec"):
                runs.append(self._settle(task, info, trigger, actor, started, clock, "refused", error=_NO_EXEC))
                continue
            try:
                stream = await link.open("exec", args, wait=False)
            except AgentGone:
                runs.append(self._settle(task, info, trigger, actor, started, clock, "missed", error=_GONE))
                continue
            stream.ended.add_done_callback(partial(self._answered, task, info, trigger, actor, started, clock, runs))
            waiting.append((stream, info, started, clock))
        if waiting:
            _done, late = await asyncio.wait([w[0].ended for w in waiting], timeout=self.command_timeout_seconds + 30)
            for stream, _info, _started, _clock in waiting:
                if stream.ended in late:
                    with contextlib.suppress(HeronError):
                        await stream.cancel()  # settles it as an error through its callback
            await asyncio.sleep(0)  # let those callbacks run
        await self._after(task, runs)
        return runs

    def _answered(
        self,
        task: dict[str, Any],
        info: Any,
        trigger: str,
        actor: Actor,
        started: datetime,
        clock: float,
        runs: list[RunResult],
        ended: asyncio.Future[dict[str, Any]],
    ) -> None:
        """Settle one server's run as its answer (or failure) arrives."""
        exc = ended.exception()
        if isinstance(exc, AgentGone):
            runs.append(self._settle(task, info, trigger, actor, started, clock, "missed", error=_GONE))
            return
        if isinstance(exc, HeronError):  # the agent's refusal, a cancellation, a failure: recorded, not lost
            status = "refused" if exc.status == 403 else "error"
            runs.append(self._settle(task, info, trigger, actor, started, clock, status, error=exc.message))
            return
        result = ended.result()
        code = result.get("exit_code") if isinstance(result.get("exit_code"), int) else None
        encoded = str(result.get("output", "")).encode("utf-8")
        output = encoded[:MAX_STORED_OUTPUT_BYTES].decode("utf-8", errors="ignore")
        truncated = bool(result.get("truncated")) or len(encoded) > MAX_STORED_OUTPUT_BYTES
        status, error = "ok", ""
        if result.get("timed_out"):
            status, error = "timeout", f"the command ran longer than {self.command_timeout_seconds:g} s"
        elif code != 0:
            status = "failed"
        run = self._settle(
            task,
            info,
            trigger,
            actor,
            started,
            clock,
            status,
            code=code,
            output=output,
            truncated=truncated,
            error=error,
        )
        runs.append(run)

    def _settle(
        self,
        task: dict[str, Any],
        info: Any,
        trigger: str,
        actor: Actor,
        started: datetime,
        clock: float,
        status: str,
        *,
        code: int | None = None,
        output: str = "",
        truncated: bool = False,
        error: str = "",
    ) -> RunResult:
        """The run as stored, queued for :meth:`flush` and audited."""
        run = RunResult(
            cron_id=task["id"],
            server_id=info.id,
            server_name=info.name,
            trigger=trigger,
            status=status,
            exit_code=code,
            output=output,
            truncated=truncated,
            error=error,
            started_at=started,
            finished_at=datetime.now(UTC),
            duration_ms=round((time.monotonic() - clock) * 1000, 3),
        )
        self.ops.audit.record(
            actor,
            "cron.run",
            server_id=info.id,
            target=f"cron {task['id']}: {task['command'][:200]}",
            outcome=status,
            trigger=trigger,
            exit_code=code,
            duration_ms=run.duration_ms,
            error=error,
        )
        with self._lock:
            self._pending.append(run)
        return run

    async def _after(self, task: dict[str, Any], runs: list[RunResult]) -> None:
        """Write a large batch at once, and tell the failure listeners."""
        with self._lock:
            full = len(self._pending) >= FLUSH_BATCH_RUNS
        if full:
            await asyncio.to_thread(self.flush)
        for run in runs:
            if run.status == "ok" and not task["push_successful"]:
                continue
            for listener in self.failure_listeners:
                try:
                    listener(task, run)
                except Exception:
                    log.exception("a cron failure listener failed", extra={"cron_id": task["id"]})

    def flush(self) -> int:
        """Write waiting runs and each task's last result, in one transaction."""
        with self._lock:
            runs, self._pending = self._pending, []
        if not runs:
            return 0
        rows = [dataclasses.asdict(r) for r in runs]
        last: dict[int, RunResult] = {}
        for r in runs:
            if r.cron_id not in last or r.finished_at >= last[r.cron_id].finished_at:
                last[r.cron_id] = r
        with self.meta.session() as s:
            existing = set(s.scalars(select(CronTask.id).where(CronTask.id.in_(list(last)))))
            rows = [row for row in rows if row["cron_id"] in existing]
            if rows:
                s.execute(insert(CronRun), rows)
            for cron_id, r in last.items():
                if cron_id in existing:
                    ok = all(x.status == "ok" for x in runs if x.cron_id == cron_id)
                    s.execute(
                        update(CronTask)
                        .where(CronTask.id == cron_id)
                        .values(last_executed_at=r.started_at, last_result=ok, updated_at=CronTask.updated_at)
                    )
        return len(rows)

    async def schedule_forever(self) -> None:
        """Fire scheduled tasks at their times; re-reads the tasks whenever they change."""
        self._changed = asyncio.Event()
        while True:
            self._changed.clear()
            tasks = await asyncio.to_thread(self._scheduled)
            now = datetime.now().astimezone()
            due: dict[int, datetime] = {}
            for task_id, expression in tasks:
                try:
                    due[task_id] = next_fire(expression, now)
                except (CroniterBadCronError, CroniterBadDateError, ValueError, KeyError):
                    log.warning("a cron task has an invalid schedule; skipped", extra={"cron_id": task_id})
            while due:
                task_id, when = min(due.items(), key=lambda kv: kv[1])
                delay = (when - datetime.now().astimezone()).total_seconds()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), delay)
                    if self._changed.is_set():
                        break
                    continue
                fired = asyncio.create_task(self._fire(task_id))
                self._firing.add(fired)
                fired.add_done_callback(self._firing.discard)
                expression = dict(tasks)[task_id]
                due[task_id] = next_fire(expression, when)
            else:
                await self._changed.wait()

    async def _fire(self, task_id: int) -> None:
        try:
            await self.run_task(task_id, trigger="schedule")
        except NotFound:
            pass
        except Exception:
            log.exception("a scheduled cron run failed", extra={"cron_id": task_id})

    def _scheduled(self) -> list[tuple[int, str]]:
        with self.meta.session() as s:
            q = select(CronTask.id, CronTask.scheduler).where(CronTask.task_type == SCHEDULED)
            return [(int(i), str(e)) for i, e in s.execute(q)]


def _columns(form: CronForm) -> dict[str, Any]:
    return {
        "name": form.name.strip(),
        "task_type": form.task_type,
        "scheduler": form.scheduler.strip(),
        "command": form.command,
        "servers": orjson.dumps(sorted(set(form.servers))).decode(),
        "cover": form.cover,
        "push_successful": form.push_successful,
        "notification_group_id": form.notification_group_id,
    }


def _check_group(s: Any, principal: Principal, group_id: int) -> None:
    """A task's ``notification_group_id`` (told of failed runs) names a group the caller may use."""
    if not group_id:
        return
    group = s.get(NotificationGroup, group_id)
    if group is None:
        raise NotFound(f"notification_group_id: no notification group with id {group_id}")
    require(principal, Action.READ, Resource("notification_group", owner_id=group.owner_id))


def _is_admin(s: Any, user_id: int) -> bool:
    from heron.meta.models import User

    user = s.get(User, user_id)
    return user is not None and user.role == "admin"
