"""Prometheus rule files (``groups:`` YAML): reading alerting rules in, writing PromQL rules out.

Reading gives one rule body per alerting rule, in the shape ``POST /api/v1/alert-rule``
takes (``kind: promql``), so an imported rule is checked exactly as one saved by hand: a
PromQL expression that does not parse, a template Heron cannot render, a bad duration, each
is a 400 naming where it is in the file (``groups[0].rules[2].expr: …``). Recording rules
are refused, naming the first, unless the caller asks to skip them: Heron evaluates alerts,
it does not write new series.

Writing gives what ``promtool check rules`` accepts: one group per imported group (rules
made in Heron go to the group ``heron``), alert names made valid metric names, durations in
Prometheus's units, the rule's severity as the ``severity`` label, templates as written.
Disabled rules are left out (a Prometheus rule has no off switch).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import promql_parser as pp
import yaml  # type: ignore[import-untyped]

from heron.alerts.rules import DEFAULT_INTERVAL_SECONDS, SEVERITIES, RuleDef
from heron.core.errors import BadRequest

#: Largest rule file accepted, and most alerting rules in one.
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_RULES = 5000
#: Group of the exported rules that were made in Heron rather than imported.
DEFAULT_GROUP = "heron"
_GROUP_KEYS = {"name", "interval", "rules"}
_RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
_ZERO = re.compile(r"^0+(ms|s|m|h|d|w|y)?$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


@dataclass(frozen=True, slots=True)
class Imported:
    """The rule bodies of a file, and the recording rules left out (by name)."""

    rules: list[dict[str, Any]]
    skipped: list[str]


def parse_duration(raw: Any, where: str) -> float:
    """A Prometheus duration (``5m``, ``1h30m``, ``500ms``) in seconds; a 400 naming ``where``."""
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequest(f"{where}: expected a duration such as 5m, got {raw!r}")
    if _ZERO.match(raw.strip()):
        return 0.0  # Prometheus writes "for: 0s"; the PromQL parser refuses a zero duration
    try:
        return pp.parse_duration(raw.strip()).total_seconds()
    except (ValueError, OverflowError):
        raise BadRequest(f"{where}: {raw!r} is not a duration (such as 30s, 5m, 1h)") from None


def format_duration(seconds: float) -> str:
    """Seconds as Prometheus writes a duration: 90 -> 1m30s, 0.5 -> 500ms, 0 -> 0s."""
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    out = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def _strings(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequest(f"{where}: expected a map of names to strings")
    out = {}
    for key, value in raw.items():
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            raise BadRequest(f"{where}.{key}: expected a string, got {value!r}")
        out[str(key)] = str(value)
    return out


def read_rule_file(text: str | bytes, *, skip_recording: bool = False) -> Imported:
    """The alerting rules of a Prometheus rule file as rule bodies; a 400 naming the place of a problem."""
    if len(text) > MAX_FILE_BYTES:
        raise BadRequest(f"file: larger than {MAX_FILE_BYTES} bytes")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise BadRequest(f"file: not YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise BadRequest("groups: a Prometheus rule file is a map with a list 'groups'")
    unknown = set(doc) - {"groups"}
    if unknown:
        raise BadRequest(f"{sorted(unknown)[0]}: not a field of a rule file")
    rules: list[dict[str, Any]] = []
    skipped: list[str] = []
    names: set[str] = set()
    for gi, group in enumerate(doc["groups"]):
        where = f"groups[{gi}]"
        if not isinstance(group, dict):
            raise BadRequest(f"{where}: expected a map with name and rules")
        extra = set(group) - _GROUP_KEYS
        if extra:
            raise BadRequest(f"{where}.{sorted(extra)[0]}: not supported by Heron's import (name, interval, rules)")
        name = group.get("name")
        if not isinstance(name, str) or not name.strip():
            raise BadRequest(f"{where}.name: a group needs a name")
        if name in names:
            raise BadRequest(f"{where}.name: the group {name!r} is repeated")
        names.add(name)
        interval = (
            parse_duration(group["interval"], f"{where}.interval") if "interval" in group else DEFAULT_INTERVAL_SECONDS
        )
        if interval < 1:
            raise BadRequest(f"{where}.interval: at least 1s, got {group['interval']!r}")
        items = group.get("rules") or []
        if not isinstance(items, list):
            raise BadRequest(f"{where}.rules: expected a list of rules")
        for ri, item in enumerate(items):
            at = f"{where}.rules[{ri}]"
            if not isinstance(item, dict):
                raise BadRequest(f"{at}: expected a map")
            if "record" in item:
                if skip_recording:
                    skipped.append(str(item["record"]))
                    continue
                raise BadRequest(
                    f"{at}.record: recording rules are not supported ({item['record']!r}); Heron imports"
                    " alerting rules (import with --skip-recording to leave recording rules out)"
                )
            extra = set(item) - _RULE_KEYS
            if extra:
                raise BadRequest(f"{at}.{sorted(extra)[0]}: not a field of an alerting rule")
            alert = item.get("alert")
            if not isinstance(alert, str) or not alert.strip():
                raise BadRequest(f"{at}.alert: an alerting rule needs a name")
            if not isinstance(item.get("expr"), str | int | float) or isinstance(item.get("expr"), bool):
                raise BadRequest(f"{at}.expr: an alerting rule needs an expression")
            labels = _strings(item.get("labels"), f"{at}.labels")
            body: dict[str, Any] = {
                "kind": "promql",
                "name": alert,
                "expr": str(item["expr"]),
                "group": name,
                "interval_seconds": interval,
                "for_seconds": parse_duration(item["for"], f"{at}.for") if "for" in item else 0,
                "keep_firing_for_seconds": (
                    parse_duration(item["keep_firing_for"], f"{at}.keep_firing_for") if "keep_firing_for" in item else 0
                ),
                "labels": labels,
                "annotations": _strings(item.get("annotations"), f"{at}.annotations"),
                "heron_where": at,
            }
            if labels.get("severity") in SEVERITIES:
                body["severity"] = labels["severity"]
            rules.append(body)
            if len(rules) > MAX_RULES:
                raise BadRequest(f"{at}: a file may hold at most {MAX_RULES} alerting rules")
    return Imported(rules, skipped)


def _alert_name(name: str) -> str:
    if _METRIC_NAME.match(name):
        return name
    cleaned = re.sub(r"[^a-zA-Z0-9_:]", "_", name)
    return cleaned if _METRIC_NAME.match(cleaned) else "_" + cleaned


def write_rule_file(rules: Iterable[RuleDef]) -> str:
    """Heron's enabled PromQL rules as a Prometheus rule file."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for rule in rules:
        spec = rule.promql
        if rule.kind != "promql" or spec is None or not rule.enabled or not spec.queries:
            continue
        source: Mapping[str, Any] = rule.spec
        labels = dict(source.get("labels") or {})
        labels.setdefault("severity", rule.severity)
        item: dict[str, Any] = {"alert": _alert_name(rule.name), "expr": spec.queries[0]}
        if rule.for_seconds:
            item["for"] = format_duration(rule.for_seconds)
        if rule.keep_firing_for_seconds:
            item["keep_firing_for"] = format_duration(rule.keep_firing_for_seconds)
        item["labels"] = labels
        annotations = dict(source.get("annotations") or {})
        if annotations:
            item["annotations"] = annotations
        groups.setdefault((spec.group or DEFAULT_GROUP, spec.interval_seconds), []).append(item)
    out: list[dict[str, Any]] = []
    used: set[str] = set()
    for (name, interval), items in groups.items():
        shown = name if name not in used else f"{name} ({format_duration(interval)})"
        used.add(shown)
        out.append({"name": shown, "interval": format_duration(interval), "rules": items})
    text: str = yaml.safe_dump({"groups": out}, sort_keys=False, allow_unicode=True, width=1_000_000)
    return text
