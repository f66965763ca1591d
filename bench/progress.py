"""One line per phase on stderr, so a long run shows where it is (stdout stays clean)."""

from __future__ import annotations

import sys
import time

_STARTED = time.monotonic()


def say(message: str) -> None:
    """Print ``message`` to stderr with the seconds elapsed since the run began."""
    elapsed = time.monotonic() - _STARTED
    print(f"[bench {elapsed:7.1f}s] {message}", file=sys.stderr, flush=True)
