"""Rule sources: each turns a rule into observations, one per alert it could raise.

A source is one small module (``servers.py``, ``sql.py``) with one class and one method,
:meth:`Source.observe`. An observation names its alert by a key (the labels that identify
it), says whether the rule's condition holds for it now, and carries the values and context
templates use. The evaluator
(:mod:`heron.alerts.evaluator`) does the rest: pending, ``for``, firing, resolving, flapping,
events and the outbox. A new kind of rule (service monitors, PromQL) is a new source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from heron.alerts.rules import RuleDef

if TYPE_CHECKING:
    from heron.alerts.sources.servers import ServerSnapshot


@dataclass(frozen=True, slots=True)
class Observation:
    key: str
    labels: Mapping[str, str]
    breached: bool
    value: float | None = None
    values: Mapping[str, float] = field(default_factory=dict)
    server_id: int | None = None
    server: ServerSnapshot | None = None
    row: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""


class Source(Protocol):
    """Observations of one rule now: one per alert it could raise, or fewer (see ``ServerSource``)."""

    def observe(self, rule: RuleDef, now: float) -> list[Observation]: ...
