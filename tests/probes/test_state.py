"""States with retries and degraded results; the board's events, subscriptions and rows; push deadlines."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pyarrow as pa

from heron.probes.board import StateBoard
from heron.probes.monitors import MonitorInfo
from heron.probes.service import ProbeService
from heron.probes.spec import ProbeResult, next_due, phase
from heron.probes.state import Rules, State, StateChange, VantageState, advance, judge

T0 = 1_800_000_000.0
ROLLUP_SECONDS = 300


def up(at: float, delay: float = 5.0, **details: object) -> ProbeResult:
    return ProbeResult(up=True, at=at, delay_ms=delay, details=dict(details))


def down(at: float, reason: str = "connection refused") -> ProbeResult:
    return ProbeResult(up=False, at=at, reason=reason)


def monitor(**changes: object) -> MonitorInfo:
    now = datetime.fromtimestamp(T0, UTC)
    base = MonitorInfo(
        id=7, name="web", kind="http", target="http://127.0.0.1/", interval_seconds=30, timeout_seconds=5.0,
        retries=2, min_latency_ms=0.0, max_latency_ms=0.0, latency_notify=False, notify=False,
        notification_group_id=0, cover=0, skip_servers={}, heron_vantage="always", display_index=0,
        hidden_for_guest=False, enabled=True, options={"cert_expiry_days": 14}, push_token=None, owner_id=1,
        created_at=now, updated_at=now,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_down_only_after_the_retries_and_up_again_at_once() -> None:
    state, rules = VantageState(), Rules(retries=2)
    assert advance(state, up(T0), rules) == (State.PENDING, "")
    assert advance(state, down(T0 + 30), rules) is None
    assert advance(state, down(T0 + 60), rules) is None
    assert state.state is State.UP and state.failures == 2
    assert advance(state, down(T0 + 90), rules) == (State.UP, "connection refused")
    assert (state.state, state.since) == (State.DOWN, T0 + 90)
    assert advance(state, up(T0 + 120), rules) == (State.DOWN, "")
    assert state.failures == 0


def test_latency_and_certificate_expiry_make_it_degraded() -> None:
    rules = Rules(max_latency_ms=100.0, cert_expiry_days=14)
    assert judge(up(T0, 150.0), rules) == (State.DEGRADED, "latency 150.0 ms above 100 ms")
    assert judge(up(T0, 50.0, cert_days_left=3.5), rules) == (State.DEGRADED, "TLS certificate expires in 3.5 days")
    assert judge(up(T0, 50.0, cert_days_left=30.0), rules) == (State.UP, "")
    assert judge(down(T0), rules) == (State.DOWN, "connection refused")


def test_the_board_records_changes_tells_subscribers_and_writes_rows() -> None:
    board = StateBoard()
    seen: list[StateChange] = []
    unsubscribe = board.subscribe(seen.append)
    m = monitor(retries=0)
    board.record(m, 0, "node", up(T0))
    board.record(m, 3, "web-1", up(T0 + 1, 7.0, status_code=200))
    board.record(m, 3, "web-1", down(T0 + 31))
    unsubscribe()
    board.record(m, 3, "web-1", up(T0 + 61))
    assert [(c.server_id, c.previous, c.state, c.reason) for c in seen] == [
        (0, State.PENDING, State.UP, ""),
        (3, State.PENDING, State.UP, ""),
        (3, State.UP, State.DOWN, "connection refused"),
    ]
    assert board.state_of(7, 3) is not None and board.state_of(7, 3).state is State.UP  # type: ignore[union-attr]
    assert [s.server_id for s in board.current(7)] == [0, 3]
    batches = {b.table: b for b in board.drain(now=T0 + 62)}
    results = batches["service_results"]
    assert len(results) == 4
    assert results.fields["up"].to_pylist() == [1, 1, 0, 1]
    assert results.fields["status_code"].to_pylist() == [None, 200, None, None]
    assert results.tags["server_id"].to_pylist() == ["0", "3", "3", "3"]
    events = batches["service_events"]
    assert events.fields["state"].to_pylist() == ["up", "up", "down", "up"]
    assert "service_rollup_5m" not in batches  # the 5-minute bucket is still open
    assert board.drain(now=T0 + 62) == []


def test_rollups_close_after_their_bucket_and_the_slack_and_keep_exact_counts() -> None:
    board = StateBoard()
    m = monitor(retries=0)
    start = (T0 // ROLLUP_SECONDS) * ROLLUP_SECONDS
    for i in range(10):
        board.record(m, 0, "node", up(start + i * 30, 4.0) if i != 5 else down(start + i * 30))
    assert all(b.table != "service_rollup_5m" for b in board.drain(now=start + ROLLUP_SECONDS + 10))
    rollup = {b.table: b for b in board.drain(now=start + ROLLUP_SECONDS + 61)}["service_rollup_5m"]
    assert (rollup.fields["ups"].to_pylist(), rollup.fields["downs"].to_pylist()) == ([9], [1])
    assert rollup.fields["delay_sum"].to_pylist() == [36.0] and rollup.fields["delay_count"].to_pylist() == [9]
    assert board.rolled_up_until % 1800 == 0 and board.rolled_up_until <= start + ROLLUP_SECONDS
    board.record(m, 0, "node", up(start + 290, 2.0))  # late: a second row for the same bucket
    late = {b.table: b for b in board.drain(now=start + ROLLUP_SECONDS + 62)}["service_rollup_5m"]
    assert late.time.to_pylist() == [int(start) * 1_000_000_000] and late.fields["ups"].to_pylist() == [1]
    assert late.time.type == pa.int64()


def test_daily_totals_give_thirty_buckets_oldest_first() -> None:
    board = StateBoard()
    m = monitor(retries=0)
    today = int(T0 // 86_400)
    board.load_daily([(7, today - 29, 10, 2, 50.0, 10), (7, today - 40, 1, 1, 1.0, 1)])
    board.record(m, 0, "node", up(T0, 6.0))
    delay, ups, downs = board.daily_series(7, today)
    assert len(delay) == len(ups) == len(downs) == 30
    assert (ups[0], downs[0], delay[0]) == (10, 2, 5.0)
    assert (ups[-1], downs[-1], delay[-1]) == (1, 0, 6.0)


def test_phases_spread_monitors_and_stay_on_their_grid() -> None:
    offsets = {round(phase(i, 30)) for i in range(1, 301)}
    assert len(offsets) >= 25  # 300 monitors over 30 one-second slots
    due = next_due(5, 30, T0)
    assert T0 < due <= T0 + 30 and (due - phase(5, 30)) % 30 == 0


def test_a_push_monitor_is_down_when_no_call_came_within_period_and_grace() -> None:
    service = ProbeService.__new__(ProbeService)
    service.started_at = T0
    service._last_push, service._push_started = {}, {}  # type: ignore[attr-defined]
    push = monitor(
        kind="push",
        target="",
        interval_seconds=60,
        options={"grace_seconds": 30},
        created_at=datetime.fromtimestamp(T0, UTC),
    )
    assert service.push_overdue(push, T0 + 89) is None
    late = service.push_overdue(push, T0 + 91)
    assert late is not None and late.reason == "no push for 91 s (expected every 60 s + 30 s grace)"
    service._push_started[7] = T0 + 80  # type: ignore[attr-defined]
    started = service.push_overdue(push, T0 + 100)
    assert started is not None and started.reason == "started 20 s ago, no success signal since"
