"""Writing the same series to Heron and to a real Prometheus: remote write 1.0 bodies.

Series are given as label dicts and (ms, value) samples; :func:`remote_write_bodies`
cuts them into requests in time order across all series, as a scraping Prometheus would
send them, so the receiving Prometheus never sees a sample older than its head.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import cramjam
import httpx

from heron.protocols._pb import remote_write_v1_pb2 as rw

STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]

Series = tuple[dict[str, str], list[tuple[int, float]]]


def remote_write_bodies(series: list[Series], *, window_ms: int = 600_000) -> Iterator[bytes]:
    """Snappy-compressed WriteRequests covering ``window_ms`` of every series each, in time order."""
    if not series:
        return
    low = min(s[0][0] for _, s in series if s)
    high = max(s[-1][0] for _, s in series if s)
    start = low
    while start <= high:
        end = start + window_ms
        request = rw.WriteRequest()
        for labels, samples in series:
            chosen = [(t, v) for t, v in samples if start <= t < end]
            if not chosen:
                continue
            ts = request.timeseries.add()
            ts.labels.extend(rw.Label(name=k, value=v) for k, v in sorted(labels.items()))
            ts.samples.extend(rw.Sample(timestamp=t, value=v) for t, v in chosen)
        if request.timeseries:
            yield bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
        start = end


HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}


def push(url: str, series: list[Series], *, auth: tuple[str, str] | None = None) -> None:
    """Send every series to a remote-write endpoint; any answer but 2xx fails."""
    with httpx.Client(timeout=60, auth=auth) as client:
        for body in remote_write_bodies(series):
            r = client.post(url, content=body, headers=HEADERS)
            assert r.status_code < 300, (url, r.status_code, r.text)
