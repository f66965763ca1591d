"""Label matchers, as Alertmanager's silences and Nightingale's mutes write them.

A matcher is ``name op value`` with ``op`` one of ``=``, ``!=``, ``=~``, ``!~`` (regular
expressions are anchored, as in Prometheus: ``=~"web.*"`` matches the whole value).
Nightingale's ``==``, ``in`` and ``not in`` are accepted too. A label the alert does not
have has the empty value, so ``team!="ops"`` matches an alert without ``team``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from heron.core.errors import BadRequest

OPERATORS = ("=", "!=", "=~", "!~", "in", "not in")
#: Nightingale's spelling of each operator.
N9E_OPERATORS = {"==": "=", "!=": "!=", "=~": "=~", "!~": "!~", "in": "in", "not in": "not in"}
#: Longest pattern accepted (a regular expression is compiled once per silence).
MAX_PATTERN_CHARS = 1024


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.name, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        if self.op in ("in", "not in"):
            inside = got in self.value.split()
            return inside if self.op == "in" else not inside
        found = _compiled(self.value).fullmatch(got) is not None
        return found if self.op == "=~" else not found

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op, "value": self.value}


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    found = _CACHE.get(pattern)
    if found is None:
        found = re.compile(pattern)
        if len(_CACHE) > 4096:
            _CACHE.clear()
        _CACHE[pattern] = found
    return found


def parse_matcher(raw: Any, *, where: str) -> Matcher:
    """One matcher from ``{"name", "op", "value"}`` (Heron) or Alertmanager's
    ``{"name", "value", "isRegex", "isEqual"}``; a bad one is a 400 naming ``where``."""
    if not isinstance(raw, dict):
        raise BadRequest(f"{where}: expected an object with name, op and value, got {type(raw).__name__}")
    name = raw.get("name")
    value = raw.get("value", "")
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{where}.name: expected a label name, got {name!r}")
    if not isinstance(value, str):
        raise BadRequest(f"{where}.value: expected a string, got {type(value).__name__}")
    op = raw.get("op")
    if op is None:
        regex = bool(raw.get("isRegex", False))
        equal = bool(raw.get("isEqual", True))
        op = ("=~" if equal else "!~") if regex else ("=" if equal else "!=")
    op = N9E_OPERATORS.get(op, op) if isinstance(op, str) else op
    if op not in OPERATORS:
        raise BadRequest(f"{where}.op: expected one of {', '.join(OPERATORS)}, got {op!r}")
    if len(value) > MAX_PATTERN_CHARS:
        raise BadRequest(f"{where}.value: at most {MAX_PATTERN_CHARS} characters")
    if op in ("=~", "!~"):
        try:
            _compiled(value)
        except re.error as exc:
            raise BadRequest(f"{where}.value: invalid regular expression {value!r}: {exc}") from None
    return Matcher(name, op, value)


def parse_matchers(raw: Any, *, where: str = "matchers") -> list[Matcher]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest(f"{where}: expected a non-empty list of matchers")
    return [parse_matcher(item, where=f"{where}[{i}]") for i, item in enumerate(raw)]


def all_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
