"""Types of the compiled remote-write scanner (heron/protocols/_rwscan.c)."""

from typing import Any

def scan_v1(
    body: bytes, cache: dict[bytes, Any], /
) -> tuple[list[Any], list[bytes], bytes, bytes, bytes, bytes, int] | None: ...
