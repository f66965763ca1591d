"""Error bodies, one function per dialect family.

Handlers raise :class:`heron.core.errors.HeronError`; the error handler asks the matched
route's family (its first OpenAPI tag) which body and status its clients expect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from heron.core.errors import HeronError, ParseError

Envelope = Callable[[HeronError], tuple[int, dict[str, Any]]]


def native_error(err: HeronError) -> tuple[int, dict[str, Any]]:
    """Heron's own routes: ``{"success": false, "error": "..."}``."""
    return err.status, {"success": False, "error": err.message}


def cnosdb_error(err: HeronError) -> tuple[int, dict[str, Any]]:
    """CnosDB: ``{"error_code", "error_message"}``; a request it cannot execute is 422."""
    status = 422 if isinstance(err, ParseError) else err.status
    return status, {"error_code": err.code, "error_message": err.message}


def influx1_error(err: HeronError) -> tuple[int, dict[str, Any]]:
    """InfluxDB 1.x: ``{"error": "..."}``."""
    return err.status, {"error": err.message}


_INFLUX2_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    413: "request too large",
    422: "unprocessable entity",
    429: "too many requests",
}


def influx2_error(err: HeronError) -> tuple[int, dict[str, Any]]:
    """InfluxDB 2.x: ``{"code", "message"}`` (and ``line`` for a parse error)."""
    body: dict[str, Any] = {"code": _INFLUX2_CODES.get(err.status, "internal error"), "message": err.message}
    if isinstance(err, ParseError) and err.line:
        body["line"] = err.line
    return err.status, body


def n9e_error(err: HeronError) -> tuple[int, dict[str, Any]]:
    """Nightingale: ``{"dat": null, "err": "..."}``."""
    return err.status, {"dat": None, "err": err.message}


def nezha_v0_error(err: HeronError) -> tuple[int, dict[str, Any]]:
    """Nezha v0: ``{"code", "message", "result"}``; ``code`` repeats the HTTP status (0 means success)."""
    return err.status, {"code": err.status, "message": err.message, "result": None}


def oitc_error(err: HeronError) -> tuple[int, dict[str, Any]]:
    """openITCOCKPIT (CakePHP's JSON errors): ``{"message", "code"}``."""
    return err.status, {"message": err.message, "code": err.status}


_ES_ERROR_TYPES = {
    400: "illegal_argument_exception",
    401: "security_exception",
    403: "security_exception",
    404: "resource_not_found_exception",
    413: "content_too_long_exception",
    429: "es_rejected_execution_exception",
}


def elasticsearch_error(err: HeronError) -> tuple[int, dict[str, Any]]:
    """Elasticsearch: ``{"error": {"root_cause", "type", "reason"}, "status"}``, as shippers log it."""
    kind = "parse_exception" if isinstance(err, ParseError) else _ES_ERROR_TYPES.get(err.status, "exception")
    cause = {"type": kind, "reason": err.message}
    return err.status, {"error": {"root_cause": [cause], **cause}, "status": err.status}


def loki_error(err: HeronError) -> tuple[int, dict[str, Any]]:
    """Loki: ``{"status": "error", "error": "..."}``; Loki's clients log the body as it is."""
    return err.status, {"status": "error", "error": err.message}


_PROMETHEUS_ERROR_TYPES = {400: "bad_data", 404: "not_found", 406: "not_acceptable", 422: "execution", 503: "timeout"}


def prometheus_error(err: HeronError) -> tuple[int, dict[str, Any]]:
    """Prometheus's HTTP API: ``{"status": "error", "errorType", "error"}``."""
    kind = _PROMETHEUS_ERROR_TYPES.get(err.status)
    if kind is None:
        kind = "bad_data" if 400 <= err.status < 500 else "internal"
    return err.status, {"status": "error", "errorType": kind, "error": err.message}


FAMILIES: dict[str, Envelope] = {
    "n9e": n9e_error,
    "heron": native_error,
    "cnosdb": cnosdb_error,
    "influxdb-v1": influx1_error,
    "influxdb-v2": influx2_error,
    "nezha-v0": nezha_v0_error,
    "oitc": oitc_error,
    "elasticsearch": elasticsearch_error,
    "loki": loki_error,
    "prometheus": prometheus_error,
}
