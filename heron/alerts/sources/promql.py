"""PromQL rules: every series of the expression's answer at the evaluation time is one alert.

As in Prometheus, the alert is keyed by the series' labels without ``__name__``; the value
is the sample's. A rule of Nightingale with several queries keys each query's alerts apart
and gives them that query's severity. Two series whose labels are equal once the name is
dropped would be one alert: the first is kept and the rule's status says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from heron.alerts.rules import RuleDef
from heron.alerts.sources import Observation
from heron.promql.values import NAME

#: Most alerts one PromQL rule may hold at once; series beyond are ignored and the status says so.
MAX_ALERTS_PER_RULE = 5000

#: Evaluates an instant query: (tenant, database, expression, Unix seconds) -> [(labels, value)].
RunPromql = Callable[[str, str, str, float], list[tuple[Mapping[str, str], float]]]


class PromqlSource:
    """PromQL rules over the TSDB, through the same engine as ``/api/v1/query``."""

    def __init__(self, run: RunPromql) -> None:
        self._run = run
        #: Per rule, what the last round left out (too many series, duplicate label sets).
        self.notes: dict[int, str] = {}

    def observe(self, rule: RuleDef, now: float) -> list[Observation]:
        spec = rule.promql
        assert spec is not None
        out: list[Observation] = []
        seen: set[str] = set()
        notes: list[str] = []
        for index, query in enumerate(spec.queries):
            severity = spec.severities[index] if index < len(spec.severities) else ""
            for series, value in self._run(spec.tenant, spec.database, query, now):
                labels = {k: v for k, v in series.items() if k != NAME}
                if severity:
                    labels["severity"] = severity
                shown = ",".join(f"{k}={labels[k]}" for k in sorted(labels))
                key = f"promql:{index}:{shown}" if len(spec.queries) > 1 else f"promql:{shown}"
                if key in seen:
                    notes.append("series with equal labels once the metric name is dropped were alerted once")
                    continue
                if len(out) >= MAX_ALERTS_PER_RULE:
                    notes.append("more series than one rule may alert on; the rest were ignored")
                    break
                seen.add(key)
                number = value if math.isfinite(value) else None
                text = ", ".join(f'{k}="{labels[k]}"' for k in sorted(labels))
                out.append(
                    Observation(
                        key=key,
                        labels=labels,
                        breached=True,
                        value=value,
                        values={"value": value} if number is not None else {},
                        message=f"{rule.name} {{{text}}} = {value:g}",
                    )
                )
        if notes:
            self.notes[rule.id] = "; ".join(dict.fromkeys(notes))
        else:
            self.notes.pop(rule.id, None)
        return out
