"""The pure parts of alerting, table-driven: conditions, cycles, matchers, templates."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from heron.alerts.conditions import Window, cycle_bounds, parse_condition, server_value
from heron.alerts.matchers import parse_matcher
from heron.alerts.methods import mask_url
from heron.alerts.promfile import format_duration, parse_duration, read_rule_file
from heron.alerts.promtemplates import to_jinja
from heron.alerts.rules import sample_context
from heron.alerts.silences import parse_window
from heron.alerts.templates import nezha_placeholders, render
from heron.core.errors import BadRequest, HeronError

HOST = {"MemTotal": 1000, "SwapTotal": 0, "DiskTotal": 4000, "IPv4": "10.0.0.1"}
STATUS = {
    "CPU": 42.0, "MemUsed": 250, "SwapUsed": 0, "DiskUsed": 1000, "NetInSpeed": 100, "NetOutSpeed": 30,
    "NetInTransfer": 5, "NetOutTransfer": 7, "Load1": 1.5, "Load5": 1.0, "Load15": 0.5, "TcpConnCount": 9,
    "UdpConnCount": 2, "ProcessCount": 120, "GPU": [],
    "Temperatures": [{"Name": "a", "Temperature": 0}, {"Name": "b", "Temperature": 61}],
}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("cpu", 42.0), ("memory", 25.0), ("swap", None), ("disk", 25.0), ("net_in_speed", 100),
        ("net_out_speed", 30), ("net_all_speed", 130), ("transfer_all", 12), ("load5", 1.0),
        ("tcp_conn_count", 9), ("process_count", 120), ("temperature_max", 61), ("gpu_max", None),
    ],
)  # fmt: skip
def test_each_condition_type_reads_its_value(kind: str, expected: float | None) -> None:
    assert server_value(kind, HOST, STATUS) == expected


def test_net_all_speed_adds_inbound_and_outbound_unlike_nezha() -> None:
    assert server_value("net_all_speed", HOST, {**STATUS, "NetInSpeed": 1, "NetOutSpeed": 1000}) == 1001


def test_a_condition_fails_after_its_duration_out_of_range_and_tolerates_a_blip() -> None:
    cond = parse_condition({"type": "cpu", "max": 80, "duration": 9}, where="r")
    w = Window()
    assert w.add(0, False, cond.duration, now=0.5) is False
    assert [w.add(t, True, cond.duration, now=t + 0.5) for t in (3, 6, 9)] == [False, False, False]
    assert w.add(9, True, cond.duration, now=12.0) is True, "9 s after the first bad report, between reports"
    assert w.add(12, True, cond.duration, now=12.0) is True
    assert w.add(15, False, cond.duration, now=15.0) is True, "one good sample among bad ones: still failing"
    assert w.add(18, False, cond.duration, now=18.0) is False
    assert w.add(21, True, cond.duration, now=21.0) is False, "the count starts again"


def test_the_same_report_seen_twice_counts_once() -> None:
    w = Window()
    for now in (1.0, 2.0, 3.0):
        w.add(0.5, True, 9, now=now)
    assert len(w.samples) == 1


def test_monthly_cycles_follow_calendar_months_and_hourly_ones_arithmetic() -> None:
    monthly = parse_condition(
        {
            "type": "transfer_out_cycle",
            "max": 1e12,
            "cycle_interval": 1,
            "cycle_unit": "month",
            "cycle_start": "2024-01-31T00:00:00Z",
        },
        where="r",
    )
    start, end = cycle_bounds(monthly, datetime(2024, 3, 5, tzinfo=UTC))
    assert (start, end) == (datetime(2024, 2, 29, tzinfo=UTC), datetime(2024, 3, 31, tzinfo=UTC))
    hourly = parse_condition(
        {"type": "transfer_in_cycle", "max": 5, "cycle_interval": 6, "cycle_start": "2024-01-01T00:00:00Z"}, where="r"
    )
    assert cycle_bounds(hourly, datetime(2024, 1, 1, 13, 30, tzinfo=UTC))[0] == datetime(2024, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "labels", "matches"),
    [
        ({"name": "env", "op": "=", "value": "prod"}, {"env": "prod"}, True),
        ({"name": "env", "op": "!=", "value": "prod"}, {}, True),
        ({"name": "host", "op": "=~", "value": "web.*"}, {"host": "web01"}, True),
        ({"name": "host", "op": "=~", "value": "web"}, {"host": "web01"}, False),
        ({"name": "host", "op": "!~", "value": "db.*"}, {"host": "web01"}, True),
        ({"name": "host", "value": "web.*", "isRegex": True, "isEqual": False}, {"host": "web1"}, False),
        ({"name": "dc", "op": "in", "value": "a b"}, {"dc": "b"}, True),
        ({"name": "dc", "op": "==", "value": "a"}, {"dc": "a"}, True),
    ],
)
def test_matchers_follow_alertmanager_and_nightingale(
    raw: dict[str, object], labels: dict[str, str], matches: bool
) -> None:
    assert parse_matcher(raw, where="m").matches(labels) is matches


def test_templates_run_in_the_sandbox_and_nezha_placeholders_are_escaped_for_json() -> None:
    server = {"id": 3, "name": 'db "primary"', "host": HOST, "status": STATUS}
    marks = nezha_placeholders('[Incident] db "primary"', "2024-01-01T00:00:00Z", server)
    body = render('{"text": "#NEZHA#", "mem": "#SERVER.MEM#", "n": "{{ labels.x }}"}', {"labels": {"x": "1"}},
                  field="b", escape="json", placeholders=marks)  # fmt: skip
    assert orjson.loads(body) == {"text": '[Incident] db "primary"', "mem": "25.00%", "n": "1"}
    with pytest.raises(BadRequest, match="does not render"):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {}, field="b")


def test_urls_are_masked_where_they_hold_keys() -> None:
    masked = mask_url("https://user:pw@hooks.example.com/services/T000/B000/abcdefghijklmnop12345?key=s3cret")
    assert masked == "https://********@hooks.example.com/services/T000/B000/********?key=********"


def test_a_maintenance_window_is_active_from_each_cron_start_for_its_length() -> None:
    w = parse_window({"name": "nightly", "cron": "0 3 * * *", "duration_seconds": 3600, "timezone": "Europe/Berlin"})
    assert w.active(datetime(2024, 6, 1, 1, 30, tzinfo=UTC))  # 03:30 in Berlin (summer time)
    assert not w.active(datetime(2024, 6, 1, 2, 30, tzinfo=UTC))


def test_a_cycle_started_long_ago_is_found_without_walking_every_month() -> None:
    yearly = parse_condition(
        {"type": "transfer_all_cycle", "max": 1e12, "cycle_interval": 1, "cycle_unit": "year",
         "cycle_start": "0001-03-01T00:00:00Z"},
        where="r",
    )  # fmt: skip
    assert cycle_bounds(yearly, datetime(2024, 2, 1, tzinfo=UTC)) == (
        datetime(2023, 3, 1, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("template", "value", "expected"),
    [
        ("{{ $value | humanize }}", 1234567.0, "1.235M"),
        ("{{ humanize $value }}", 0.0012, "1.2m"),
        ("{{ $value | humanize1024 }}", 1048576.0, "1Mi"),
        ("{{ $value | humanizePercentage }}", 0.1234, "12.34%"),
        ("{{ $value | humanizeDuration }}", 3725.0, "1h 2m 5s"),
        ("{{ $value | humanizeDuration }}", 90061.0, "1d 1h 1m 1s"),
        ("{{ $value | humanizeDuration }}", 0.25, "250ms"),
        ('{{ printf "%.2f" $value }}', 3.14159, "3.14"),
        ("{{ $labels.job | toUpper }}", 0.0, "NODE"),
        ('{{ index $labels "job" }}/{{ .Labels.job }}', 0.0, "node/node"),
        ("{{ if gt $value 10.0 }}big{{ else if gt $value 1.0 }}mid{{ else }}small{{ end }}", 5.0, "mid"),
        ("{{- $labels.job -}} {{/* a comment */}}", 0.0, "node"),
        ("100% {% raw %} stays text", 0.0, "100% {% raw %} stays text"),
    ],
)
def test_prometheus_templates_render_as_prometheus_renders_them(template: str, value: float, expected: str) -> None:
    ctx = {**sample_context({"job": "node"}), "value": value}
    assert render(to_jinja(template), ctx, field="t") == expected


@pytest.mark.parametrize(
    ("template", "names"),
    [
        ("{{ labels.job }}", "write $labels"),
        ("{{ range $labels }}x{{ end }}", "'range' is not supported"),
        ('{{ query "up" }}', "the function 'query' is not supported"),
        ("{{ $nope }}", "unknown variable '$nope'"),
        ("{{ if true }}open", "not closed"),
        ("{{ end }}", "'end' without an 'if'"),
        ("a {{ b", "not closed"),
    ],
)
def test_prometheus_templates_heron_cannot_render_are_refused(template: str, names: str) -> None:
    with pytest.raises(HeronError) as caught:
        to_jinja(template, "annotations.summary")
    assert caught.value.status == 400 and caught.value.message.startswith("annotations.summary: ")
    assert names in caught.value.message


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("groups:\n  - name: a\n    interval: 0s\n    rules: []\n", "groups[0].interval: at least 1s"),
        ("groups:\n  - name: a\n    limit: 5\n    rules: []\n", "groups[0].limit: not supported"),
        ("groups:\n  - name: a\n  - name: a\n", "groups[1].name: the group 'a' is repeated"),
        ("groups:\n  - name: a\n    rules:\n      - alert: x\n", "groups[0].rules[0].expr: an alerting rule needs"),
        ("groups:\n  - name: a\n    rules:\n      - alert: x\n        expr: up\n        for: 5 min\n", ".for: '5 min'"),
        (
            "groups:\n  - name: a\n    rules:\n      - alert: x\n        expr: up\n        labels: {a: [1]}\n",
            "labels.a",
        ),
        ("rules: []\n", "groups: a Prometheus rule file"),
    ],
)
def test_a_rule_file_problem_is_named_by_its_place(text: str, names: str) -> None:
    with pytest.raises(BadRequest) as caught:
        read_rule_file(text)
    assert names in caught.value.message


def test_durations_are_read_and_written_in_prometheus_units() -> None:
    assert [parse_duration(t, "for") for t in ("0s", "0", "500ms", "1m30s", "1h", "2d")] == [
        0,
        0,
        0.5,
        90,
        3600,
        172800,
    ]
    assert [format_duration(s) for s in (0, 0.5, 15, 90, 3600, 5400.25)] == [
        "0s",
        "500ms",
        "15s",
        "1m30s",
        "1h",
        "1h30m250ms",
    ]
