"""Prometheus remote write: snappy-compressed protobuf bodies into one batch per metric.

Specifications: 1.0 https://prometheus.io/docs/specs/remote_write_spec/ and 2.0
https://prometheus.io/docs/specs/remote_write_spec_2_0/ (messages in ``heron/protocols/_pb``)::

    prometheus.WriteRequest         { repeated TimeSeries timeseries = 1;
                                      repeated MetricMetadata metadata = 3; }
      TimeSeries                    { repeated Label labels = 1; repeated Sample samples = 2;
                                      repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
      Label                         { string name = 1; string value = 2; }
      Sample                        { double value = 1; int64 timestamp = 2; }   (milliseconds)

    io.prometheus.write.v2.Request  { repeated string symbols = 4; repeated TimeSeries timeseries = 5; }
      TimeSeries                    { repeated uint32 labels_refs = 1; repeated Sample samples = 2; ... }

The body is snappy's *block* format (not the framed one), see :func:`decompress_snappy_block`.

Each series becomes rows of the table named by its ``__name__`` label; its other labels are
tags and each sample is a row with the float field ``value``, its time in nanoseconds.
Where Heron decides what the specifications leave open:

* A label with an empty value is absent, as in Prometheus.
* A series without ``__name__``, with an empty label name or with one label name twice is
  dropped and counted with the reason (Prometheus's own receiver does the same); the rest of
  the request is kept. So are samples whose time does not fit in int64 nanoseconds.
* Labels named ``time`` or ``value`` (in any case) would collide with the two columns every
  metric table has; they are stored as ``label_time`` and ``label_value``. So are the metric
  store's own column names (``__metric``, ``__series``, ``__key``).
* Exemplars, native histograms and metadata are counted and not stored (yet).
* ``ident_fallback`` (Nightingale): a series without an ``ident`` label whose
  ``agent_hostname`` label is set gets that label renamed to ``ident``.

Known series in Prometheus's own layout are read through a cache of their label bytes; the
scan of the body that finds them is compiled (:mod:`heron.protocols._rwscan`, C, built by
``pip install`` where a compiler is present) with a numpy path doing the same work.

Two decoders give the same :class:`Decoded` arrays: the vectorised one in
:mod:`heron.protocols._remote_write_fast`, and a reference decoder over the upb-generated
message classes that takes whatever the fast one refuses and names what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cramjam
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf.message import DecodeError

from heron.core.batch import Batch
from heron.core.errors import BadRequest, ParseError, PayloadTooLarge
from heron.core.identifiers import name_problem, show
from heron.protocols._pb import remote_write_v1_pb2 as v1
from heron.protocols._pb import remote_write_v2_pb2 as v2
from heron.protocols._remote_write_fast import (
    STANDARD_SAMPLE_BYTES,
    Decoded,
    Refused,
    _doubles,
    _varints,
    _walk_top,
    decode_v1,
    decode_v2,
    standard_series,
)
from heron.protocols.protowire import varint

try:  # the compiled scanner (setup.py); without it the numpy scan does the same work
    from heron.protocols import _rwscan
except ImportError:  # pragma: no cover - depends on how Heron was installed
    _rwscan = None  # type: ignore[assignment]
from heron.tsdb.metrics import (
    METRIC_ID,
    SERIES_ID,
    SERIES_KEY,
    SERIES_MEMO_LIMIT,
    Samples,
    SeriesDef,
    SeriesMemo,
)

__all__ = [
    "WRITE_REQUEST_V1",
    "WRITE_REQUEST_V2",
    "RemoteWriteResult",
    "decompress_snappy_block",
    "parse_remote_write",
]

#: The message names a ``Content-Type: application/x-protobuf;proto=...`` parameter uses.
WRITE_REQUEST_V1 = "prometheus.WriteRequest"
WRITE_REQUEST_V2 = "io.prometheus.write.v2.Request"

NAME_LABEL = "__name__"
IDENT_LABEL = "ident"
VALUE_FIELD = "value"
#: Prefix given to labels whose names collide with a metric table's own columns.
RENAMED_LABEL_PREFIX = "label_"
#: Names a label cannot keep: the columns of every metric table and of the metric store.
_RESERVED_NAMES = frozenset({"time", VALUE_FIELD, METRIC_ID, SERIES_ID, SERIES_KEY})
#: Default cap on the reasons a result keeps; ``dropped_series`` still counts every one.
DEFAULT_MAX_PROBLEMS = 10

_NS_PER_MS = 1_000_000
_MAX_ABS_MS = (2**63 - 1) // _NS_PER_MS
_FRAMED_SNAPPY_MAGIC = b"\xff\x06\x00\x00sNaPpY"


@dataclass(frozen=True, slots=True)
class RemoteWriteResult:
    """What one request held: samples to write, and what was dropped or ignored."""

    data: Samples
    samples: int  # float samples in ``data``
    dropped_samples: int  # samples of dropped series, or with a time out of range
    dropped_series: int
    problems: list[str] = field(default_factory=list)  # why, for the first few
    idents: list[str] = field(default_factory=list)  # distinct ``ident`` values of kept series
    exemplars: int = 0
    histograms: int = 0
    metadata: int = 0

    @property
    def batches(self) -> list[Batch]:
        """The samples as one batch per metric (rows in request order)."""
        return self.data.to_batches()


def decompress_snappy_block(raw: bytes, *, max_bytes: int) -> bytes:
    """Decode a snappy block, refusing before allocation if it would exceed ``max_bytes``.

    A block starts with its uncompressed length as a varint, so the size is known (and
    checked by the decoder) before any output is produced: 413 if too large, 400 if corrupt.
    """
    if not raw:
        return b""
    if raw.startswith(_FRAMED_SNAPPY_MAGIC):
        raise BadRequest("the body is framed snappy; remote write uses the snappy block format")
    try:
        size = int(cramjam.snappy.decompress_raw_len(raw))
    except cramjam.DecompressionError as exc:
        raise BadRequest(f"the body is not valid snappy: {exc}") from exc
    if size > max_bytes:
        raise PayloadTooLarge(f"the decompressed body ({size} bytes) exceeds the limit of {max_bytes} bytes")
    try:
        return bytes(cramjam.snappy.decompress_raw(raw))
    except cramjam.DecompressionError as exc:
        raise BadRequest(f"the body is not valid snappy: {exc}") from exc


def parse_remote_write(
    body: bytes,
    *,
    message: str = WRITE_REQUEST_V1,
    ident_fallback: str | None = None,
    max_problems: int = DEFAULT_MAX_PROBLEMS,
) -> RemoteWriteResult:
    """Decode a (decompressed) remote-write body; raises only :class:`ParseError`.

    ``message`` is :data:`WRITE_REQUEST_V1` or :data:`WRITE_REQUEST_V2`.
    """
    return _parse(body, message=message, ident_fallback=ident_fallback, max_problems=max_problems, reference=False)


def _parse(
    body: bytes, *, message: str, ident_fallback: str | None, max_problems: int, reference: bool, compiled: bool = True
) -> RemoteWriteResult:
    """:func:`parse_remote_write`; ``reference=True`` skips the vectorised decoder and
    ``compiled=False`` the compiled scanner (for tests)."""
    if message == WRITE_REQUEST_V1:
        fast, slow = decode_v1, _reference_v1
    elif message == WRITE_REQUEST_V2:
        fast, slow = decode_v2, _reference_v2
    else:
        raise ValueError(f"unknown remote-write message {message!r}")
    decoded: Decoded | None = None
    if not reference and message == WRITE_REQUEST_V1:
        cached = _parse_cached_v1(body, ident_fallback=ident_fallback, max_problems=max_problems, compiled=compiled)
        if cached is not None:
            return cached
    if not reference:
        try:
            decoded = fast(body)
        except Refused:
            decoded = None
    if decoded is None:
        decoded = slow(body)
    return _assemble(decoded, ident_fallback=ident_fallback, max_problems=max_problems)


# --- the reference decoder ----------------------------------------------------------------


def _not_protobuf(message: str) -> ParseError:
    return ParseError(
        f"the body is not a valid {message}: its protobuf wire format is damaged or truncated",
        expected="a snappy-compressed protobuf " + message,
        got="bytes that do not decode as one",
    )


def _reference_v1(body: bytes) -> Decoded:
    """Decode with the generated classes, one series at a time."""
    try:
        request = v1.WriteRequest.FromString(body)
    except DecodeError as exc:
        raise _not_protobuf(WRITE_REQUEST_V1) from exc
    owners: list[int] = []
    names: list[str] = []
    values: list[str] = []
    sample_owner: list[int] = []
    sample_value: list[float] = []
    sample_ms: list[int] = []
    exemplars = histograms = 0
    for i, series in enumerate(request.timeseries):
        for label in series.labels:
            owners.append(i)
            names.append(label.name)
            values.append(label.value)
        for sample in series.samples:
            sample_owner.append(i)
            sample_value.append(sample.value)
            sample_ms.append(sample.timestamp)
        exemplars += len(series.exemplars)
        histograms += len(series.histograms)
    return _decoded(
        len(request.timeseries), owners, names, values, sample_owner, sample_value, sample_ms,
        exemplars=exemplars, histograms=histograms, metadata=len(request.metadata),
    )  # fmt: skip


def _reference_v2(body: bytes) -> Decoded:
    """Decode 2.0 with the generated classes, resolving label references into the symbols."""
    try:
        request = v2.Request.FromString(body)
    except DecodeError as exc:
        raise _not_protobuf(WRITE_REQUEST_V2) from exc
    symbols = list(request.symbols)
    owners: list[int] = []
    names: list[str] = []
    values: list[str] = []
    sample_owner: list[int] = []
    sample_value: list[float] = []
    sample_ms: list[int] = []
    exemplars = histograms = metadata = 0
    for i, series in enumerate(request.timeseries):
        refs = list(series.labels_refs)
        if len(refs) % 2:
            raise ParseError(
                f"series {i + 1} has an odd number of label references ({len(refs)})",
                expected="name and value references in pairs",
                got=f"{len(refs)} references",
            )
        if refs and max(refs) >= len(symbols):
            raise ParseError(
                f"series {i + 1} refers to symbol {max(refs)}, but the request has {len(symbols)} symbols",
                expected=f"references below {len(symbols)}",
                got=str(max(refs)),
            )
        for j in range(0, len(refs), 2):
            owners.append(i)
            names.append(symbols[refs[j]])
            values.append(symbols[refs[j + 1]])
        for sample in series.samples:
            sample_owner.append(i)
            sample_value.append(sample.value)
            sample_ms.append(sample.timestamp)
        exemplars += len(series.exemplars)
        histograms += len(series.histograms)
        metadata += series.HasField("metadata")
    return _decoded(
        len(request.timeseries), owners, names, values, sample_owner, sample_value, sample_ms,
        exemplars=exemplars, histograms=histograms, metadata=metadata,
    )  # fmt: skip


def _decoded(
    series: int,
    owners: list[int],
    names: list[str],
    values: list[str],
    sample_owner: list[int],
    sample_value: list[float],
    sample_ms: list[int],
    *,
    exemplars: int,
    histograms: int,
    metadata: int,
) -> Decoded:
    return Decoded(
        series=series,
        label_owner=np.array(owners, dtype=np.int64),
        names=pa.array(names, type=pa.string()),
        values=pa.array(values, type=pa.string()),
        sample_owner=np.array(sample_owner, dtype=np.int64),
        sample_value=np.array(sample_value, dtype=np.float64),
        sample_ms=np.array(sample_ms, dtype=np.int64),
        exemplars=exemplars,
        histograms=histograms,
        metadata=metadata,
    )


# --- from labels and samples to batches ---------------------------------------------------


def _stored_name(label: str) -> str:
    return RENAMED_LABEL_PREFIX + label if label.lower() in _RESERVED_NAMES else label


class _Problems:
    """Series to drop, and the first few reasons (for dropped series or single samples)."""

    def __init__(self, series: int, limit: int) -> None:
        self.bad = np.zeros(series, dtype=bool)
        self.why: dict[int, str] = {}  # the first reason (with ``{n}``) of each dropped series
        self._found: list[tuple[int, str]] = []
        self._limit = limit

    def drop(self, series: npt.NDArray[np.int64], reason: str) -> None:
        """Drop ``series`` (indices); ``reason`` may use ``{n}``, the 1-based series number."""
        if len(series):
            self.bad[series] = True
            distinct = np.unique(series).tolist()
            for i in distinct:
                self.why.setdefault(i, reason)
            for i in distinct[: self._limit]:
                self.note(i, reason.format(n=i + 1))

    def note(self, series: int, reason: str) -> None:
        self._found.append((series, reason))

    def reasons(self) -> list[str]:
        return [text for _, text in sorted(self._found, key=lambda found: found[0])[: self._limit]]


def _canonical_codes(label_names: list[str]) -> npt.NDArray[np.int64]:
    """For each label name, the code of the first name stored in the same column.

    DuckDB column names ignore case, and ``time``/``value`` are renamed, so ``Host`` and
    ``host`` (or ``value`` and ``label_value``) must be one label, not two columns.
    """
    first: dict[str, int] = {}
    return np.array([first.setdefault(_stored_name(n).lower(), i) for i, n in enumerate(label_names)], dtype=np.int64)


def _assemble(d: Decoded, *, ident_fallback: str | None, max_problems: int) -> RemoteWriteResult:
    """Check every series, then describe each kept one (metric and labels) and its samples."""
    series, problems = _describe_series(d, ident_fallback=ident_fallback, max_problems=max_problems)
    position = np.full(d.series, -1, dtype=np.int64)
    good = np.flatnonzero(~problems.bad)
    position[good] = np.arange(len(good))
    return _result(
        [s for s in series if s is not None],
        position,
        d.sample_owner,
        d.sample_ms,
        d.sample_value,
        problems,
        max_problems,
        exemplars=d.exemplars,
        histograms=d.histograms,
        metadata=d.metadata,
    )


def _result(
    kept: list[SeriesDef],
    position: npt.NDArray[np.int64],
    owner: npt.NDArray[np.int64],
    sample_ms: npt.NDArray[np.int64],
    sample_value: npt.NDArray[np.float64],
    problems: _Problems,
    max_problems: int,
    *,
    exemplars: int = 0,
    histograms: int = 0,
    metadata: int = 0,
) -> RemoteWriteResult:
    """The samples of kept series (``position``: a series' place in ``kept``, or -1) whose
    time fits in nanoseconds; ``owner`` is each sample's series."""
    in_range = np.abs(sample_ms) <= _MAX_ABS_MS
    for i in np.flatnonzero(~in_range)[:max_problems]:
        n = int(owner[i])
        problems.note(n, f"series {n + 1}: the timestamp {int(sample_ms[i])} ms is out of range")
    rows = np.flatnonzero((position[owner] >= 0) & in_range)
    samples = Samples(
        kept,
        position[owner[rows]],
        sample_ms[rows] * _NS_PER_MS,
        sample_value[rows],
        (owner[rows] + 1).astype(np.int32),
    )
    return RemoteWriteResult(
        data=samples,
        samples=len(rows),
        dropped_samples=len(owner) - len(rows),
        dropped_series=int(np.count_nonzero(problems.bad)),
        problems=problems.reasons(),
        idents=samples.idents(),
        exemplars=exemplars,
        histograms=histograms,
        metadata=metadata,
    )


def _describe_series(
    d: Decoded, *, ident_fallback: str | None, max_problems: int
) -> tuple[list[SeriesDef | None], _Problems]:
    """Each series as a :class:`SeriesDef`, or ``None`` when it is dropped (``problems.why``
    says why, with ``{n}`` for its number).

    The checks are whole-array work: label names are dictionary-encoded once. Python runs
    per label only to build the descriptions (new series; known ones come from the cache).
    """
    encoded = pc.dictionary_encode(d.names)
    label_names: list[str] = encoded.dictionary.to_pylist()
    all_codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    # Empty values mean "no such label": keep the others, as positions into d.values.
    kept = np.flatnonzero(pc.binary_length(d.values).to_numpy(zero_copy_only=False) > 0)
    owner, codes = d.label_owner[kept], all_codes[kept]
    problems = _Problems(d.series, max_problems)
    for code, name in enumerate(label_names):
        problem = name_problem(name) if name else None  # empty names: their own message below
        if problem is not None:
            shown = show(name).replace("{", "{{").replace("}", "}}")
            problems.drop(owner[codes == code], f"series {{n}} has the label name {shown}, which {problem}")

    if ident_fallback is not None and ident_fallback in label_names:
        if IDENT_LABEL not in label_names:
            label_names.append(IDENT_LABEL)
        ident, fallback = label_names.index(IDENT_LABEL), label_names.index(ident_fallback)
        has_ident = np.zeros(d.series, dtype=bool)
        has_ident[owner[codes == ident]] = True
        codes = np.where((codes == fallback) & ~has_ident[owner], ident, codes)
    canonical = _canonical_codes(label_names)
    codes = canonical[codes]

    if "" in label_names:
        problems.drop(owner[codes == label_names.index("")], "series {n} has a label with an empty name")
    for code, twice in _repeated_labels(owner, codes, label_names):
        shown = repr(label_names[code]).replace("{", "{{").replace("}", "}}")
        problems.drop(twice, f"series {{n}} has the label {shown} more than once")
    name_code = int(canonical[label_names.index(NAME_LABEL)]) if NAME_LABEL in label_names else -1
    metric_at = np.full(d.series, -1, dtype=np.int64)
    is_name = codes == name_code
    metric_at[owner[is_name]] = kept[is_name]
    problems.drop(np.flatnonzero(metric_at < 0), "series {n} has no __name__ label")

    stored = [_stored_name(n) for n in label_names]
    good = ~problems.bad
    mine = good[owner] & ~is_name
    label_owner = owner[mine].tolist()
    label_codes = codes[mine].tolist()
    label_values = d.values.take(pa.array(kept[mine])).to_pylist()
    good_series = np.flatnonzero(good)
    metrics = d.values.take(pa.array(metric_at[good_series])).to_pylist()
    per_series: dict[int, list[tuple[str, str]]] = {}
    for s, c, v in zip(label_owner, label_codes, label_values, strict=True):
        per_series.setdefault(s, []).append((stored[c], v))
    series: list[SeriesDef | None] = [None] * d.series
    for s, metric in zip(good_series.tolist(), metrics, strict=True):
        problem = name_problem(metric)
        if problem is not None:
            shown = show(metric).replace("{", "{{").replace("}", "}}")
            problems.drop(np.array([s], dtype=np.int64), f"series {{n}} has the metric name {shown}, which {problem}")
            continue
        series[s] = SeriesDef.of(metric, per_series.get(s, ()), ident_label=IDENT_LABEL)
    return series, problems


# --- the cache of known series ------------------------------------------------------------

#: Series descriptions (or why a series is refused) by the bytes of their labels, one map
#: per ``ident_fallback``.
_KNOWN = SeriesMemo(SERIES_MEMO_LIMIT)


def _parse_cached_v1(
    body: bytes, *, ident_fallback: str | None, max_problems: int, compiled: bool = True
) -> RemoteWriteResult | None:
    """A 1.0 request whose series each end in one sample, read with the cache.

    Prometheus sends the same series again and again, each as its labels followed by one
    sample. The labels' bytes are looked up; only series not seen before are decoded (as a
    small request of their own). Returns ``None`` when the body has another layout.

    The scan of the body is done by the compiled :mod:`heron.protocols._rwscan` when it was
    built (``compiled``), else by numpy (:func:`_scan_v1`); both give the same answer.
    """
    cache: dict[bytes, SeriesDef | str] = _KNOWN.map(ident_fallback)
    scanned = _rwscan.scan_v1(body, cache) if compiled and _rwscan is not None else _scan_v1(body, cache)
    if scanned is None:
        return None
    entries, keys, firsts, lasts, value_bytes, stamp_bytes, metadata = scanned
    first = np.frombuffer(firsts, dtype=np.int64)
    last = np.frombuffer(lasts, dtype=np.int64)
    kinds = set(map(type, entries))  # a C loop: usually just {SeriesDef}
    missing = [i for i, e in enumerate(entries) if e is None] if type(None) in kinds else []
    if missing and not _learn(body, first, last, missing, keys, entries, cache, ident_fallback, max_problems):
        return None
    problems = _Problems(len(entries), max_problems)
    if str in kinds or missing:  # some series are dropped (and cached as the reason why)
        series: list[SeriesDef] = []
        position = np.full(len(entries), -1, dtype=np.int64)
        for i, entry in enumerate(entries):
            if isinstance(entry, SeriesDef):
                position[i] = len(series)
                series.append(entry)
            else:
                assert entry is not None
                problems.drop(np.array([i], dtype=np.int64), entry)
    else:
        series = entries  # type: ignore[assignment]  # every entry is a SeriesDef
        position = np.arange(len(entries), dtype=np.int64)
    owner = np.arange(len(entries), dtype=np.int64)  # one sample per series
    return _result(
        series,
        position,
        owner,
        np.frombuffer(stamp_bytes, dtype=np.int64),
        np.frombuffer(value_bytes, dtype=np.float64),
        problems,
        max_problems,
        metadata=metadata,
    )


#: What a scan of a body in Prometheus's layout finds: per series its cache entry (or None),
#: its label bytes, its payload's first and past-last offsets, value and timestamp (as bytes
#: of int64/float64/int64 arrays); and the number of metadata records.
Scanned = tuple[list[SeriesDef | str | None], list[bytes], bytes, bytes, bytes, bytes, int]


def _scan_v1(body: bytes, cache: dict[bytes, SeriesDef | str]) -> Scanned | None:
    """The pure-Python (numpy) scan: what ``_rwscan.scan_v1`` does, for series whose
    timestamp takes six varint bytes (Prometheus's, 1971 to 2109); None for other layouts."""
    spans = standard_series(body)
    if spans is not None:
        first, last = spans
        metadata = 0
    else:
        try:
            numbers, starts, ends = _walk_top(body)
        except Refused:
            return None
        is_series = numbers == 1
        if not is_series.any() or np.any((numbers != 1) & (numbers != 3)):
            return None
        first, last = starts[is_series], ends[is_series]
        metadata = int(np.count_nonzero(numbers == 3))
    buf = np.frombuffer(body + bytes(16), dtype=np.uint8)
    tail = last - STANDARD_SAMPLE_BYTES
    if np.any(tail < first):
        return None
    stamp = tail[:, None] + np.arange(12, 17)
    if not (
        np.all(buf[tail] == 0x12)
        and np.all(buf[tail + 1] == STANDARD_SAMPLE_BYTES - 2)
        and np.all(buf[tail + 2] == 0x09)
        and np.all(buf[tail + 11] == 0x10)
        and np.all(buf[stamp] >= 0x80)
        and np.all(buf[tail + 17] < 0x80)
    ):
        return None
    keys = [body[a:b] for a, b in zip(first.tolist(), tail.tolist(), strict=True)]
    if any(not _labels_only(body, a, b) for a, b in _unchecked(first, tail, keys, cache)):
        return None
    entries: list[SeriesDef | str | None] = list(map(cache.get, keys))
    stamps, _ = _varints(buf, tail + 12, 10)
    values = _doubles(buf, tail + 3)
    return (
        entries,
        keys,
        first.astype(np.int64).tobytes(),
        last.astype(np.int64).tobytes(),
        values.tobytes(),
        stamps.view(np.int64).tobytes(),
        metadata,
    )


def _unchecked(
    first: npt.NDArray[np.int64], tail: npt.NDArray[np.int64], keys: list[bytes], cache: dict[bytes, SeriesDef | str]
) -> list[tuple[int, int]]:
    """Spans of label bytes not in the cache (known ones were checked when first seen)."""
    return [(int(first[i]), int(tail[i])) for i, key in enumerate(keys) if key not in cache]


def _labels_only(body: bytes, start: int, end: int) -> bool:
    """Whether ``body[start:end]`` is a run of field-1 records (labels) and nothing else, as
    the compiled scanner requires; another field before the sample is another layout."""
    pos = start
    while pos < end:
        if body[pos] != 0x0A:
            return False
        pos += 1
        length, shift = 0, 0
        while True:
            if pos >= end or shift > 28:
                return False
            byte = body[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        pos += length
    return pos == end


def _learn(
    body: bytes,
    first: npt.NDArray[np.int64],
    last: npt.NDArray[np.int64],
    missing: list[int],
    keys: list[bytes],
    entries: list[SeriesDef | str | None],
    cache: dict[bytes, SeriesDef | str],
    ident_fallback: str | None,
    max_problems: int,
) -> bool:
    """Decode the series not in the cache and add them; False if they do not fit the
    cached layout (more than one sample, exemplars or histograms)."""
    parts = []
    for i in missing:
        payload = body[int(first[i]) : int(last[i])]
        parts.append(b"\x0a" + varint(len(payload)) + payload)
    try:
        d = decode_v1(b"".join(parts))
    except Refused:
        return False
    if d.exemplars or d.histograms or not np.array_equal(d.sample_owner, np.arange(len(missing))):
        return False
    described, problems = _describe_series(d, ident_fallback=ident_fallback, max_problems=max_problems)
    for j, i in enumerate(missing):
        cache[keys[i]] = entries[i] = described[j] or problems.why[j]
    _KNOWN.added(len(missing))
    return True


def _repeated_labels(
    owner: npt.NDArray[np.int64], codes: npt.NDArray[np.int64], label_names: list[str]
) -> list[tuple[int, npt.NDArray[np.int64]]]:
    """Label names given twice in one series: (code, series) pairs.

    Prometheus sends each series' labels sorted by name, so in the usual case strictly
    increasing name ranks within every series prove there is no repeat, without a sort.
    """
    width = len(label_names)
    if not width:
        return []
    rank = np.empty(width, dtype=np.int64)
    rank[sorted(range(width), key=label_names.__getitem__)] = np.arange(width)
    ranks = rank[codes]
    same_series = owner[1:] == owner[:-1]
    if not np.any(same_series & (ranks[1:] <= ranks[:-1])):
        return []
    pairs = np.sort(owner * width + codes)
    repeated = pairs[1:][pairs[1:] == pairs[:-1]]
    return [(int(code), repeated[repeated % width == code] // width) for code in np.unique(repeated % width)]
