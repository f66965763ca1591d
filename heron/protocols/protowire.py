"""The protobuf wire format's varint, for the few messages Heron writes or splices by hand.

(https://protobuf.dev/programming-guides/encoding/#varints)
"""

from __future__ import annotations


def varint(value: int) -> bytes:
    """``value`` (not negative) as a base-128 varint, low group first."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
