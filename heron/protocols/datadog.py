"""Datadog metric series in JSON: the v1 intake (Nightingale's route) and the v2 intake.

v1, ``POST /api/v1/series`` (https://docs.datadoghq.com/api/latest/metrics/#submit-metrics,
v1; ccfos/nightingale, pushgw/router/router_datadog.go)::

    {"series": [{"metric": "system.load.1", "points": [[1636629071, 0.7], ...],
                 "tags": ["env:prod", "role:db"], "host": "web01", "type": "gauge",
                 "interval": 20, "device": "sda"}]}

v2, ``POST /api/v2/series`` in its JSON form (the agent's default is protobuf)::

    {"series": [{"metric": "system.load.1", "type": 3,
                 "points": [{"timestamp": 1636629071, "value": 0.7}, ...],
                 "resources": [{"type": "host", "name": "web01"}],
                 "tags": ["env:prod"], "unit": "", "interval": 20}]}

Timestamps are Unix seconds. Each point becomes a row of the table named by ``metric``, with
the field ``value``. As in Nightingale, a tag is ``"key:value"`` split at the first colon
(tags without a colon are ignored), and the host (``host``, or a ``host:`` tag, or v2's
``host`` resource) becomes the ``ident`` tag, which registers the host, unless the tags carry
an ``ident``: then the host stays the tag ``host``. ``type``, ``interval``, ``unit`` and
``source_type_name`` are accepted and ignored, as Nightingale ignores them.

Heron deviates as for OpenTSDB JSON (:mod:`heron.protocols.opentsdb`): names are kept as sent
(Nightingale rewrites ``.`` to ``_``), tag names ``time`` and ``value`` are rejected, values
must be finite numbers, timestamps must be positive and keep their fraction. A repeated tag
key keeps its last value, an empty tag value is absent, and v1's ``device`` (like v2's
``device`` resource) becomes the tag ``device``, as Datadog shows it. A series with any
invalid point is rejected whole. An empty v1 ``series`` is an error (Nightingale answers 400).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from heron.core.errors import ParseError
from heron.protocols.opentsdb import (
    DEFAULT_MAX_ERRORS,
    MetricRows,
    MetricsResult,
    float_to_units,
    json_kind,
    load_json,
    short_repr,
)

__all__ = ["parse_datadog_v1", "parse_datadog_v2", "parse_tag_list"]

_MAX_SECONDS = (2**63 - 1) // 1_000_000_000


def parse_datadog_v1(body: bytes, *, max_errors: int = DEFAULT_MAX_ERRORS) -> MetricsResult:
    """``{"series": [...]}`` with points as ``[timestamp, value]`` pairs."""
    return _parse(body, version=1, max_errors=max_errors)


def parse_datadog_v2(body: bytes, *, max_errors: int = DEFAULT_MAX_ERRORS) -> MetricsResult:
    """``{"series": [...]}`` with points as ``{"timestamp", "value"}`` objects and resources."""
    return _parse(body, version=2, max_errors=max_errors)


def parse_tag_list(tags: list[str], host: str) -> dict[str, str]:
    """Nightingale's reading of Datadog tags: ``ident`` from the host unless a tag names one."""
    out: dict[str, str] = {}
    tag_host = ""
    for tag in tags:
        key, sep, value = tag.partition(":")
        if not sep:
            continue
        if key == "host":
            tag_host = value
        elif value:
            out[key] = value
        else:
            out.pop(key, None)
    host = host or tag_host
    if host:
        out["host" if "ident" in out else "ident"] = host
    return out


def _parse(body: bytes, *, version: int, max_errors: int) -> MetricsResult:
    doc = load_json(body)
    if type(doc) is not dict:
        raise ParseError('expected a JSON object {"series": [...]}', got=json_kind(doc))
    series = doc.get("series")
    if type(series) is not list:
        raise ParseError('"series" must be an array of series', got=json_kind(series))
    if not series and version == 1:
        raise ParseError("series empty", expected="at least one series")
    rows = MetricRows(max_errors=max_errors)
    for line, item in enumerate(series, start=1):
        if type(item) is not dict:
            rows.reject(line, "expected a series object", got=json_kind(item))
            continue
        problem = _add_series(rows, line, item, version)
        if problem is not None:
            rows.reject(line, problem.reason, problem.expected, problem.got)
    return rows.result(len(series))


class _Problem(NamedTuple):
    reason: str
    expected: str = ""
    got: str = ""


def _add_series(rows: MetricRows, line: int, item: dict[str, Any], version: int) -> _Problem | None:
    """Add every point of one series, or say why the series is rejected (nothing added)."""
    metric = item.get("metric")
    if type(metric) is not str or not metric:
        if metric in (None, ""):
            return _Problem("metric is blank")
        return _Problem("metric must be a string", got=json_kind(metric))
    raw_tags = item.get("tags")
    if raw_tags is None:
        raw_tags = []
    if type(raw_tags) is not list or any(type(t) is not str for t in raw_tags):
        return _Problem('tags must be an array of "key:value" strings', got=short_repr(raw_tags))
    host, device = _host_and_device(item, version)
    if isinstance(host, _Problem):
        return host
    tags = parse_tag_list(raw_tags, host)
    if device:
        tags["device"] = device
    problem = rows.check_names(metric, tags)
    if problem is not None:
        return _Problem(problem)
    points = item.get("points")
    if type(points) is not list:
        return _Problem("points must be an array", got=json_kind(points))
    samples: list[tuple[int, float]] = []
    for number, point in enumerate(points, start=1):
        sample = _point(point, version)
        if isinstance(sample, str):
            shape = "[timestamp, value]" if version == 1 else '{"timestamp": ..., "value": ...}'
            return _Problem(f"point {number}: {sample}", shape, short_repr(point))
        samples.append(sample)
    for time_ns, value in samples:
        rows.add(line, metric, tags, time_ns, value)
    return None


def _host_and_device(item: dict[str, Any], version: int) -> tuple[str | _Problem, str]:
    """The series' host and device names (v1 fields, v2 resources), or why they are invalid."""
    if version == 1:
        host, device = item.get("host") or "", item.get("device") or ""
        if type(host) is not str or type(device) is not str:
            return _Problem("host and device must be strings"), ""
        return host, device
    resources = item.get("resources") or []
    if type(resources) is not list:
        return _Problem("resources must be an array", got=json_kind(resources)), ""
    found = {"host": "", "device": ""}
    for resource in resources:
        if type(resource) is not dict or type(resource.get("name", "")) is not str:
            return _Problem('resources must be {"type", "name"} objects', got=short_repr(resource)), ""
        kind = resource.get("type")
        if kind in found:
            found[kind] = resource.get("name") or ""
    return found["host"], found["device"]


def _point(point: object, version: int) -> tuple[int, float] | str:
    if version == 1:
        if type(point) is not list or len(point) != 2:
            return "expected a [timestamp, value] pair"
        stamp, value = point
    else:
        if type(point) is not dict:
            return "expected a point object"
        stamp, value = point.get("timestamp"), point.get("value")
    if type(stamp) not in (int, float) or not 0 < stamp <= _MAX_SECONDS:
        return "timestamp must be positive Unix seconds"
    if type(value) not in (int, float):
        return "value is not a number"
    try:
        number = float(value)
    except OverflowError:
        return "value out of range"
    if number - number != 0:  # NaN or infinity
        return "value out of range"
    time_ns = stamp * 1_000_000_000 if type(stamp) is int else float_to_units(stamp, 1_000_000_000)
    return int(time_ns), number
