"""A loader of Prometheus's PromQL test-file format (``promql/promqltest/testdata/*.test``).

The format, as Prometheus's own engine tests use it::

    load 5m                                   # samples every 5m from time 0
      http_requests{job="api"} 0+10x10 _ stale 1 2
    eval instant at 50m sum(http_requests)    # eval_fail, eval_ordered too
      {} 100
    eval range from 0 to 10m step 5m rate(x[5m])
      {job="api"} 1 _ 2
    clear                                     # forget everything loaded

Values: a number (``Inf``, ``NaN``), ``_`` (no sample), ``stale`` (a staleness marker),
``a+bxn`` / ``a-bxn`` (n+1 values from a, step b), ``axn`` (a, n+1 times), ``_xn`` (n gaps).
Heron gets the loaded series by remote write into a fresh database per ``clear``, and each
``eval`` becomes an instant or range query. Lines this loader does not know (native
histograms, expected warnings) make their command count as skipped, never as passed.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import promql_parser as pp

from tests.promql.feed import STALE_NAN, push

_NUMBER = r"[+-]?(?:Inf|inf|NaN|nan|0x[0-9a-fA-F]+|\d*\.?\d+(?:[eE][+-]?\d+)?)"
_EXPAND = re.compile(rf"^(?P<a>{_NUMBER}|_)(?:(?P<op>[+-])(?P<b>{_NUMBER}))?x(?P<n>\d+)$")
_EVAL = re.compile(
    r"^eval(?P<kind>_fail|_ordered|_warn|_info)?\s+"
    r"(?:instant\s+at\s+(?P<at>\S+)|range\s+from\s+(?P<start>\S+)\s+to\s+(?P<end>\S+)\s+step\s+(?P<step>\S+))"
    r"\s+(?P<expr>.+)$"
)
#: What ``promqltest`` counts as equal (``almost.Equal`` with its default epsilon).
EPSILON = 1e-6


def duration_ms(text: str) -> int:
    if re.fullmatch(r"0+[a-z]*", text):
        return 0
    negative = text.startswith("-")
    ms = round(pp.parse_duration(text.lstrip("-")).total_seconds() * 1000)
    return -ms if negative else ms


def _number(text: str) -> float:
    low = text.lower().lstrip("+")
    if low.startswith("0x") or low.startswith("-0x"):
        return float(int(text, 16))
    return float(text)


def expand_values(text: str) -> list[float | None]:
    """The values of a series line: None for ``_``, the stale NaN for ``stale``."""
    out: list[float | None] = []
    for token in text.split():
        if token == "_":
            out.append(None)
            continue
        if token == "stale":
            out.append(STALE_NAN)
            continue
        m = _EXPAND.match(token)
        if m is None:
            out.append(_number(token))
            continue
        count = int(m.group("n"))
        if m.group("a") == "_":
            out.extend([None] * count)
            continue
        start = _number(m.group("a"))
        step = _number(m.group("b")) if m.group("b") else 0.0
        if m.group("op") == "-":
            step = -step
        out.extend(start + i * step for i in range(count + 1))
    return out


def parse_labels(text: str) -> dict[str, str]:
    """``name{a="b"}`` or ``{a="b"}`` as a label set (``{}`` is the empty one)."""
    text = text.strip()
    if text in ("{}", ""):
        return {}
    expr = pp.parse(text)
    if not isinstance(expr, pp.VectorSelector):
        raise ValueError(f"not a series: {text}")
    labels = {m.name: m.value for m in expr.matchers.matchers}
    if expr.name:
        labels["__name__"] = expr.name
    return labels


def split_series(line: str) -> tuple[str, str]:
    """A series line's label part and its values."""
    line = line.strip()
    if "}" in line:
        end = line.rindex("}") + 1
        return line[:end], line[end:]
    parts = line.split(None, 1)
    return parts[0], parts[1] if len(parts) > 1 else ""


@dataclass
class Eval:
    line: int
    expr: str
    kind: str  # "", "_fail", "_ordered", "_warn", "_info"
    at_ms: int | None = None
    start_ms: int = 0
    end_ms: int = 0
    step_ms: int = 0
    expected: list[str] = field(default_factory=list)
    unsupported: str = ""


@dataclass
class Load:
    series: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = field(default_factory=dict)
    unsupported: str = ""


Command = Load | Eval | None  # None is "clear"


def parse_file(text: str) -> list[Command]:
    """The file's commands in order: loads, evals, and ``None`` for each ``clear``."""
    commands: list[Command] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        body: list[str] = []
        while i < len(lines) and lines[i].strip() and (lines[i][:1].isspace() or lines[i].startswith("#")):
            if not lines[i].strip().startswith("#"):
                body.append(lines[i].strip())
            i += 1
        if line == "clear":
            commands.append(None)
            continue
        if line.startswith("load"):
            word, _, interval = line.partition(" ")
            load = Load()
            commands.append(load)
            if word != "load" or "{{" in " ".join(body):
                load.unsupported = f"line {i}: {word} (native histograms)"
                continue
            try:
                step = duration_ms(interval.strip())
                for entry in body:
                    labels, values = split_series(entry)
                    key = tuple(sorted(parse_labels(labels).items()))
                    samples = load.series.setdefault(key, [])
                    for k, value in enumerate(expand_values(values)):
                        if value is not None:
                            samples.append((k * step, value))
            except ValueError as exc:
                load.unsupported = f"line {i}: {exc}"
            continue
        m = _EVAL.match(line)
        if m is None:
            commands.append(Eval(i, line, "", unsupported=f"unknown command: {line.split()[0]}"))
            continue
        ev = Eval(i, m.group("expr"), m.group("kind") or "")
        if m.group("at") is not None:
            ev.at_ms = duration_ms(m.group("at"))
        else:
            ev.start_ms, ev.end_ms, ev.step_ms = (duration_ms(m.group(k)) for k in ("start", "end", "step"))
        for entry in body:
            if entry.startswith("expect "):
                # Prometheus 3's form: "expect fail ...", "expect ordered", "expect warn ...".
                word = entry.split()[1].split(":")[0]
                if word == "fail":
                    ev.kind = "_fail"
                elif word == "ordered":
                    ev.kind = "_ordered"
                elif word == "string":
                    ev.expected.append(entry.split(None, 2)[2])
                elif word in ("warn", "info") and ev.kind == "":
                    ev.kind = "_" + word
                continue
            if entry.startswith(("expected_fail_message", "expected_fail_regexp")):
                continue
            if "{{" in entry:
                ev.unsupported = "native histogram result"
            ev.expected.append(entry)
        commands.append(ev)
    return commands


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    return abs(a - b) / (abs(a) + abs(b)) < EPSILON


def _expected_vector(lines: list[str]) -> list[tuple[tuple[tuple[str, str], ...], list[float | None]]]:
    out = []
    for entry in lines:
        labels, values = split_series(entry)
        out.append((tuple(sorted(parse_labels(labels).items())), expand_values(values)))
    return out


def check(ev: Eval, status: int, doc: dict[str, Any]) -> str | None:
    """Why Heron's answer differs from what the file expects, or None."""
    failed = doc.get("status") != "success"
    if ev.kind == "_fail":
        return None if failed else "expected an error"
    if failed:
        return f"error {status}: {doc.get('error')}"
    data = doc["data"]
    if data["resultType"] == "scalar":
        want = [_number(x) for x in " ".join(ev.expected).split()]
        got = float(data["result"][1])
        return None if len(want) == 1 and _same(want[0], got) else f"scalar {got}, expected {want}"
    if data["resultType"] == "string":
        want_text = " ".join(ev.expected).strip()
        quoted = want_text[:1] in ('"', "'", "`") and want_text[-1:] == want_text[:1]
        return None if quoted and data["result"][1] == want_text[1:-1] else f"string {data['result'][1]!r}"
    expected = _expected_vector(ev.expected)
    if data["resultType"] == "vector":
        got_rows = [(tuple(sorted(r["metric"].items())), float(r["value"][1])) for r in data["result"]]
        want_rows = [(labels, values[0]) for labels, values in expected]
        if ev.kind == "_ordered" and [lab for lab, _ in got_rows] != [lab for lab, _ in want_rows]:
            return f"order {[dict(lab) for lab, _ in got_rows]}"
        got_map, want_map = dict(got_rows), dict(want_rows)
        if set(got_map) != set(want_map):
            return f"series {sorted(got_map)} expected {sorted(want_map)}"
        for labels, value in want_map.items():
            if value is None or not _same(value, got_map[labels]):
                return f"{dict(labels)}: {got_map[labels]} expected {value}"
        return None
    if data["resultType"] == "matrix":
        got_series = {
            tuple(sorted(r["metric"].items())): {round(float(t) * 1000): float(v) for t, v in r["values"]}
            for r in data["result"]
        }
        want_series = {}
        for labels, values in expected:
            points = {}
            for k, value in enumerate(values):
                if value is not None:
                    points[ev.start_ms + k * ev.step_ms] = value
            want_series[labels] = points
        if set(got_series) != set(want_series):
            return f"series {sorted(got_series)} expected {sorted(want_series)}"
        for labels, points in want_series.items():
            have = got_series[labels]
            if set(have) != set(points) or any(not _same(points[t], have[t]) for t in points):
                return f"{dict(labels)}: {have} expected {points}"
        return None
    return f"unexpected result type {data['resultType']}"


@dataclass
class Outcome:
    passed: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: int = 0


def _evaluate(client: httpx.Client, ev: Eval, database: str) -> str | None:
    if ev.at_ms is not None:
        r = client.post("/api/v1/query", data={"query": ev.expr, "time": ev.at_ms / 1000, "db": database})
    else:
        params = {"query": ev.expr, "start": ev.start_ms / 1000, "end": ev.end_ms / 1000, "step": ev.step_ms / 1000}
        r = client.post("/api/v1/query_range", data={**params, "db": database})
    try:
        return check(ev, r.status_code, r.json())
    except (ValueError, KeyError) as exc:
        return f"could not compare: {exc}"


def run_file(client: httpx.Client, url: str, auth: tuple[str, str], text: str, name: str) -> Outcome:
    """Run one file's commands in order against Heron: a fresh database after each ``clear``.

    An eval after a load that this loader cannot feed (native histograms) is skipped, as is
    an eval it cannot check; every other eval passes or fails.
    """
    outcome = Outcome()
    databases: list[str] = []
    database = ""
    broken = False
    try:
        for command in parse_file(text):
            if command is None:
                database, broken = "", False
                continue
            if not database:
                database = "pt_" + secrets.token_hex(4)
                r = client.post("/api/v1/sql", content=f"CREATE DATABASE {database}")
                assert r.status_code == 200, r.text
                databases.append(database)
            if isinstance(command, Load):
                if command.unsupported:
                    broken = True
                    continue
                series = [(dict(k), v) for k, v in command.series.items()]
                push(f"{url}/api/v1/prom/write?db={database}", series, auth=auth)
                continue
            if broken or command.unsupported or command.kind in ("_warn", "_info"):
                outcome.skipped += 1
                continue
            problem = _evaluate(client, command, database)
            if problem is None:
                outcome.passed += 1
            else:
                outcome.failed.append(f"{name}:{command.line} {command.expr}: {problem}")
    finally:
        for db in databases:
            client.post("/api/v1/sql", content=f"DROP DATABASE IF EXISTS {db}")
    return outcome
