"""Lines per second of the line-protocol parser, fast path and reference path, on one core set.

Run with ``python -m bench.lp_parse_speed``. The body is TSBS-style ``cpu`` data (100 hosts,
10 tags, 10 float fields, 5,000 lines), as the ingest benchmark sends it. This measures the
parser alone: no HTTP, no storage. Not a test: timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from bench.tsbs import generate_bodies
from heron.protocols.line_protocol import LineProtocolResult, _parse_slow, parse_line_protocol

START_NS = 1_451_606_400_000_000_000


def lines_per_second(parse: Callable[[bytes], LineProtocolResult], body: bytes, *, seconds: float) -> float:
    """Best of several timed rounds, each parsing ``body`` repeatedly for about 1/5 of ``seconds``."""
    lines = parse(body).points
    best = 0.0
    for _ in range(5):
        calls, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds / 5:
            parse(body)
            calls += 1
        best = max(best, calls * lines / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0, help="time spent on each path")
    args = parser.parse_args()
    body = next(generate_bodies(count=1, start_ns=START_NS, hosts=args.hosts, lines_per_body=args.lines))
    fast = parse_line_protocol(body, now_ns=0)
    slow = _parse_slow(body, now_ns=0)
    assert fast.rejected == slow.rejected == 0 and fast.points == slow.points == args.lines
    print(f"body: {args.lines} lines, {len(body):,} bytes, {args.hosts} hosts, 10 tags, 10 float fields")
    for name, parse in (
        ("fast (parse_line_protocol)", lambda b: parse_line_protocol(b, now_ns=0)),
        ("slow (_parse_slow)", lambda b: _parse_slow(b, now_ns=0)),
    ):
        print(f"{name:28} {lines_per_second(parse, body, seconds=args.seconds):>12,.0f} lines/s")


if __name__ == "__main__":
    main()
