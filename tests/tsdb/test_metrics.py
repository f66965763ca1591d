"""Metric batches in long form: series told apart exactly, the same each time a body repeats."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from heron.core.batch import Batch
from heron.tsdb.metrics import SeriesDef, samples_from_batches, series_key

_values = st.one_of(st.none(), st.sampled_from(["", "a", "\\", "\x1f", "\x1e", "a\x1fb", "a\\x1fb", "\\u001f"]))


def _batch(metric: str, host: list[str | None], zone: list[str | None]) -> Batch:
    n = len(host)
    return Batch(
        table=metric,
        time=pa.array(range(n), pa.int64()),
        tags={"zone": pa.array(zone, pa.string()), "host": pa.array(host, pa.string())},
        fields={"value": pa.array([float(i) for i in range(n)], pa.float64())},
    )


def _expected(host: str | None, zone: str | None) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in (("host", host), ("zone", zone)) if v is not None)


@given(st.lists(st.tuples(_values, _values), min_size=1, max_size=12))
def test_rows_get_the_series_their_labels_name_even_with_separators_in_values(
    rows: list[tuple[str | None, str | None]],
) -> None:
    batch = _batch("m_sep", [h for h, _ in rows], [z for _, z in rows])
    for _ in range(2):  # the second time the descriptions come from the memo
        samples = samples_from_batches([batch])
        got = [samples.series[i] for i in samples.index.tolist()]
        assert [s.labels for s in got] == [tuple(_expected(h, z)) for h, z in rows]
        assert [s.key for s in got] == [series_key("m_sep", tuple(_expected(h, z))) for h, z in rows]
        assert samples.value.tolist() == [float(i) for i in range(len(rows))]


def test_the_same_labels_make_the_same_series_whichever_way_they_come() -> None:
    from_batch = samples_from_batches([_batch("m_same", ["web01"], [None])]).series[0]
    direct = SeriesDef.of("m_same", [("host", "web01")])
    assert from_batch == direct and from_batch.ident is None
    with_ident = SeriesDef.of("m_same", [("ident", "h1"), ("a", "b")])
    assert with_ident.labels == (("a", "b"), ("ident", "h1")) and with_ident.ident == "h1"
