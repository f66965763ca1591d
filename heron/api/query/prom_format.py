"""Prometheus's HTTP API on the wire: its parameters in, its JSON out.

Parameters come as the query string or, for POST, a form body (whose values win, as
Prometheus's ``r.FormValue`` has it). Times are Unix seconds (with a fraction) or RFC 3339;
durations are seconds or a PromQL duration (``1m30s``). Results are Prometheus's shapes:
``[<seconds>, "<value>"]`` pairs, values written as Go's ``FormatFloat(v, 'f', -1, 64)``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import promql_parser as pp
from starlette.requests import Request

from heron.api.ingest.body import read_body
from heron.promql.aggregate import format_value
from heron.promql.errors import BadData
from heron.promql.values import Labels, Matrix, Scalar, String, Value, Vector

#: Largest form body accepted (a query and its parameters).
MAX_FORM_BYTES = 1024 * 1024
#: Prometheus's ``minTime``/``maxTime``, which clients send for "no bound" (``time.Unix``, ms).
MIN_TIME_MS = -9223372036854775808 // 1_000_000 // 1000 * 1000
MAX_TIME_MS = 9223372036854775807 // 1_000_000 // 1000 * 1000


class Params:
    """A request's parameters, every value of each name kept in order."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in pairs:
            self._values.setdefault(key, []).append(value)

    def get(self, name: str) -> str | None:
        values = self._values.get(name)
        return values[-1] if values else None

    def all(self, name: str) -> list[str]:
        return list(self._values.get(name, []))


async def read_params(request: Request) -> Params:
    """The query string, then the form body of a POST (form values last, so they win)."""
    pairs = list(request.query_params.multi_items())
    if request.method in ("POST", "PUT"):
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media == "application/x-www-form-urlencoded":
            body = await read_body(request, max_bytes=MAX_FORM_BYTES)
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadData(f"the form body is not valid UTF-8 (byte {exc.start})") from None
            pairs += parse_qsl(text, keep_blank_values=True)
    return Params(pairs)


def parse_time_ms(text: str, name: str) -> int:
    """A time parameter: Unix seconds (``1700000000.123``) or RFC 3339, as milliseconds."""
    raw = text.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise BadData(f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp')
        return max(MIN_TIME_MS, min(MAX_TIME_MS, round(seconds * 1000)))
    if raw in ("0001-01-01T00:00:00Z", "-292273086-05-16T16:47:06Z"):
        return MIN_TIME_MS
    if raw == "292277025-08-18T07:12:54.999999999Z":
        return MAX_TIME_MS
    try:
        stamp = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadData(f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp') from None
    if stamp.tzinfo is None:
        raise BadData(f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp (no time zone)')
    return round(stamp.timestamp() * 1000)


def parse_duration_ms(text: str, name: str) -> int:
    """A duration parameter: seconds (``15``, ``0.5``) or a PromQL duration (``1m30s``)."""
    raw = text.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or abs(seconds) > 9.2e15:
            raise BadData(f'invalid parameter "{name}": cannot parse "{text}" to a valid duration')
        return round(seconds * 1000)
    try:
        delta = pp.parse_duration(raw)
    except (ValueError, OverflowError):
        raise BadData(f'invalid parameter "{name}": cannot parse "{text}" to a valid duration') from None
    return round(delta.total_seconds() * 1000)


def stamp(ms: int) -> int | float:
    """Seconds as Prometheus writes them: a whole number when there are no milliseconds."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _metric(labels: Labels) -> dict[str, str]:
    return dict(labels)


def _rows(vec: Vector) -> list[int]:
    """Row order for an instant answer: by value for sort()/topk, else by labels."""
    rows = list(range(len(vec)))
    if vec.order:
        sign = -1.0 if vec.order == "desc" else 1.0
        first = vec.values[:, 0].tolist()
        # NaN last, in either direction, as Prometheus's sort and topk put it.
        return sorted(rows, key=lambda i: (math.isnan(first[i]), sign * first[i] if not math.isnan(first[i]) else 0.0))
    return sorted(rows, key=lambda i: vec.labels[i])


def render_instant(value: Value, at_ms: int) -> dict[str, Any]:
    """``data`` of an instant query."""
    t = stamp(at_ms)
    if isinstance(value, Scalar):
        return {"resultType": "scalar", "result": [t, format_value(float(value.values[0]))]}
    if isinstance(value, String):
        return {"resultType": "string", "result": [t, value.value]}
    if isinstance(value, Vector):
        present = value.present[:, 0]
        result = [
            {"metric": _metric(value.labels[i]), "value": [t, format_value(float(value.values[i, 0]))]}
            for i in _rows(value)
            if present[i]
        ]
        return {"resultType": "vector", "result": result}
    return {"resultType": "matrix", "result": _matrix_windows(value)}


def _matrix_windows(m: Matrix) -> list[dict[str, Any]]:
    out = []
    for i in sorted(range(len(m.labels)), key=lambda i: m.labels[i]):
        start, end = int(m.starts[i, 0]), int(m.ends[i, 0])
        if end <= start:
            continue
        times = m.times[start:end].tolist()
        values = m.values[start:end].tolist()
        out.append(
            {
                "metric": _metric(m.labels[i]),
                "values": [[stamp(t), format_value(v)] for t, v in zip(times, values, strict=True)],
            }
        )
    return out


def render_range(value: Value, steps_ms: np.ndarray[Any, np.dtype[np.int64]]) -> dict[str, Any]:
    """``data`` of a range query: always a matrix."""
    stamps = [stamp(int(t)) for t in steps_ms.tolist()]
    if isinstance(value, Scalar):
        pairs = [[s, format_value(v)] for s, v in zip(stamps, value.values.tolist(), strict=True)]
        return {"resultType": "matrix", "result": [{"metric": {}, "values": pairs}]}
    if not isinstance(value, Vector):
        kind = "range vector" if isinstance(value, Matrix) else "string"
        raise BadData(f'invalid expression type "{kind}" for range query, must be Scalar or instant Vector')
    result = []
    for i in sorted(range(len(value)), key=lambda i: value.labels[i]):
        cols = np.flatnonzero(value.present[i])
        if not len(cols):
            continue
        row = value.values[i, cols].tolist()
        result.append(
            {
                "metric": _metric(value.labels[i]),
                "values": [[stamps[c], format_value(v)] for c, v in zip(cols.tolist(), row, strict=True)],
            }
        )
    return {"resultType": "matrix", "result": result}
