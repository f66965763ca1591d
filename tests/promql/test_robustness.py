"""No query text, however odd, makes the PromQL API answer 5xx."""

from __future__ import annotations

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import RunningServer

FUNCTIONS = ["rate", "sum", "abs", "histogram_quantile", "label_replace", "topk", "absent", "scalar", "time", "round"]
ATOMS = [
    "up",
    'x{a=~"("}',
    "1",
    "-Inf",
    "NaN",
    '"s"',
    "x[5m]",
    "x[1m:10s]",
    "x @ 10",
    "x offset -1m",
    '{__name__=~"x.*"}',
]


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 2 or draw(st.booleans()):
        return draw(st.sampled_from(ATOMS))
    kind = draw(st.sampled_from(["call", "binary", "agg"]))
    left = draw(expressions(depth + 1))
    if kind == "call":
        args = [left] + [draw(expressions(depth + 1)) for _ in range(draw(st.integers(0, 4)))]
        return f"{draw(st.sampled_from(FUNCTIONS))}({', '.join(args)})"
    if kind == "binary":
        op = draw(st.sampled_from(["+", "/", "^", "and", "or", "unless", "> bool", "== on() group_left", "%", "atan2"]))
        return f"{left} {op} {draw(expressions(depth + 1))}"
    agg = draw(st.sampled_from(["sum", 'count_values("v",', "quantile(0.5,", "topk(2,", "stddev", "limitk(1,"]))
    return f"{agg} ({left})" if not agg.endswith(",") else f"{agg} {left})"


@settings(max_examples=60, deadline=None)
@given(query=st.one_of(st.text(max_size=60), expressions()))
def test_any_query_gets_an_answer_or_a_4xx(server: RunningServer, query: str) -> None:
    with httpx.Client(base_url=server.url, auth=server.auth, timeout=60) as c:
        r = c.post("/api/v1/query_range", data={"query": query, "start": 0, "end": 600, "step": 60})
    assert r.status_code in (200, 400, 422), (query, r.status_code, r.text)
    assert r.json()["status"] in ("success", "error")
