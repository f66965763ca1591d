"""Daily uptime bars, incidents and the status page's language: pure functions, table-driven."""

from __future__ import annotations

import pytest

from heron.api.web.status_text import language_of
from heron.statuspage.uptime import DAY_MS, MINUTE_MS, daily_bars, incidents, overall_percent

NOW = 100 * DAY_MS + 12 * 60 * MINUTE_MS  # noon of day 100


def test_a_day_of_reports_is_100_and_days_before_the_first_report_have_no_value() -> None:
    day = 99 * DAY_MS
    bars = daily_bars([(1, day, 1440, day), (1, 100 * DAY_MS, 720, 100 * DAY_MS)], [1], now_ms=NOW, days=3)
    assert [b.percent for b in bars[1]] == [None, 100.0, 100.0]
    assert overall_percent(bars[1]) == 100.0


def test_missing_minutes_lower_the_day_and_a_server_without_history_has_none() -> None:
    day = 99 * DAY_MS
    bars = daily_bars([(1, day, 720, day)], [1, 2], now_ms=NOW, days=2)
    assert bars[1][0].percent == 50.0
    assert bars[1][1].percent == 0.0  # reported before, silent all of today so far
    assert [b.percent for b in bars[2]] == [None, None]
    assert overall_percent(bars[2]) is None


def test_the_first_day_counts_from_the_first_report() -> None:
    first = 100 * DAY_MS + 11 * 60 * MINUTE_MS  # an hour before now
    bars = daily_bars([(1, 100 * DAY_MS, 60, first)], [1], now_ms=NOW, days=1)
    assert bars[1][0].percent == 100.0


def test_incidents_pair_offline_with_the_next_online_and_start_at_the_last_report() -> None:
    events = [
        (1, 1_000, "online", 0),
        (1, 5_000, "offline", 2_000),
        (2, 6_000, "offline", 5_500),
        (1, 9_000, "online", 0),
    ]
    found = incidents(events)
    assert [(i.server_id, i.started_ms, i.ended_ms) for i in found] == [(2, 5_500, None), (1, 2_000, 9_000)]


@pytest.mark.parametrize(
    ("site", "accept", "expected"),
    [
        ("en", "", "en"),
        ("zh-CN", "", "zh-CN"),
        ("en", "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh-CN", "en-US,en;q=0.9", "en"),
        ("en", "fr;q=1,zh-TW;q=0.5", "zh-CN"),
        ("de", "fr", "en"),
        ("en", "en;q=bad,zh;q=0.4", "zh-CN"),
    ],
)
def test_the_browser_language_wins_then_the_site_setting(site: str, accept: str, expected: str) -> None:
    assert language_of(site, accept) == expected
