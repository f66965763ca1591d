"""The comparison the compliance test relies on tells different answers apart."""

from __future__ import annotations

from tests.promql.compliance import difference, expand_queries


def _matrix(*series: tuple[dict[str, str], list[tuple[float, str]]]) -> dict[str, object]:
    return {"resultType": "matrix", "result": [{"metric": m, "values": [list(p) for p in v]} for m, v in series]}


def test_equal_answers_within_the_tolerance_agree() -> None:
    a = _matrix(({"a": "1"}, [(1.0, "100"), (2.0, "NaN")]))
    b = _matrix(({"a": "1"}, [(1.0, "100.0000001"), (2.0, "NaN")]))
    assert difference(a, b) is None


def test_a_value_labels_or_points_that_differ_are_named() -> None:
    a = _matrix(({"a": "1"}, [(1.0, "100"), (2.0, "3")]))
    assert "instead of" in str(difference(a, _matrix(({"a": "1"}, [(1.0, "100"), (2.0, "3.1")]))))
    assert "series differ" in str(difference(a, _matrix(({"a": "2"}, [(1.0, "100"), (2.0, "3")]))))
    assert "timestamps" in str(difference(a, _matrix(({"a": "1"}, [(1.0, "100")]))))
    assert "result type" in str(difference(a, {"resultType": "vector", "result": []}))


def test_the_query_set_expands_every_variant() -> None:
    cases = expand_queries()
    queries = {c.query for c in cases}
    assert "rate(demo_cpu_usage_seconds_total[15m])" in queries
    assert "quantile_over_time(-0.5, demo_memory_usage_bytes[1h])" in queries
    placeholders = ("{range}", "{offset}", "{binOp}", "{quantile}", "{simpleAggrOp}", "{dateFunc}")
    assert not [c.query for c in cases if any(p in c.query for p in placeholders)]
    assert len(cases) == 539
    assert sum(c.should_fail for c in cases) == 5
