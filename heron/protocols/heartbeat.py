"""categraf's heartbeat to Nightingale, ``POST /v1/n9e/heartbeat``: what a host says about itself.

The body is Nightingale's ``HostMeta`` (ccfos/nightingale, models/host_meta.go), usually gzipped::

    {"agent_version": "v0.3.80", "os": "linux", "arch": "amd64", "hostname": "web01",
     "cpu_num": 8, "cpu_util": 12.5, "mem_util": 41.2, "unixtime": 1700000000123,
     "host_ip": "10.0.0.5", "global_labels": {"region": "eu"}, "extend_info": {...}}

``hostname`` is required. ``unixtime`` is the agent's clock in milliseconds; the host's clock
offset is the server's time minus it (Nightingale's ``offset``), positive when the agent lags.
``remote_addr``, ``engine_name`` and ``extend_info`` are accepted and ignored.

Like Go's ``json.Unmarshal``, a field of the wrong type rejects the heartbeat; unlike it, an
integer field given as a float with no fraction (``8.0``) is accepted. A missing or zero
``unixtime`` leaves the offset at 0 (Nightingale would compute an offset of the whole epoch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from heron.core.errors import ParseError
from heron.protocols.opentsdb import json_kind, load_json

__all__ = ["Heartbeat", "parse_heartbeat"]

_TEXT_FIELDS = ("hostname", "os", "arch", "agent_version", "host_ip")


@dataclass(frozen=True, slots=True)
class Heartbeat:
    hostname: str
    os: str = ""
    arch: str = ""
    agent_version: str = ""
    host_ip: str = ""
    cpu_num: int = 0
    cpu_util: float = 0.0
    mem_util: float = 0.0
    unixtime_ms: int = 0
    clock_offset_ms: int = 0
    global_labels: dict[str, str] = field(default_factory=dict)


def parse_heartbeat(body: bytes, *, now_ms: int) -> Heartbeat:
    """The heartbeat in ``body``; ``now_ms`` is the server's clock, for the offset."""
    doc = load_json(body)
    if type(doc) is not dict:
        raise ParseError("expected a JSON object of host meta", got=json_kind(doc))
    text = {name: _text(doc, name) for name in _TEXT_FIELDS}
    hostname = text["hostname"].strip()
    if not hostname:
        raise ParseError("hostname is required")
    unixtime = _integer(doc, "unixtime")
    return Heartbeat(
        hostname=hostname,
        os=text["os"],
        arch=text["arch"],
        agent_version=text["agent_version"],
        host_ip=text["host_ip"].strip(),
        cpu_num=_integer(doc, "cpu_num"),
        cpu_util=_number(doc, "cpu_util"),
        mem_util=_number(doc, "mem_util"),
        unixtime_ms=unixtime,
        clock_offset_ms=now_ms - unixtime if unixtime > 0 else 0,
        global_labels=_labels(doc),
    )


def _text(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if value is None:
        return ""
    if type(value) is not str:
        raise ParseError(f"'{name}' must be a string", got=json_kind(value))
    return value


def _number(doc: dict[str, Any], name: str) -> float:
    value = doc.get(name)
    if value is None:
        return 0.0
    if type(value) not in (int, float):
        raise ParseError(f"'{name}' must be a number", got=json_kind(value))
    try:
        return float(value)
    except OverflowError:
        raise ParseError(f"'{name}' is out of range") from None


def _integer(doc: dict[str, Any], name: str) -> int:
    value = doc.get(name)
    if value is None:
        return 0
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int or not -(2**63) <= value < 2**63:
        raise ParseError(f"'{name}' must be a 64-bit integer", got=json_kind(value))
    return int(value)


def _labels(doc: dict[str, Any]) -> dict[str, str]:
    labels = doc.get("global_labels")
    if labels is None:
        return {}
    if type(labels) is not dict or any(type(v) is not str for v in labels.values()):
        raise ParseError("'global_labels' must be an object of strings", got=json_kind(labels))
    return dict(labels)
