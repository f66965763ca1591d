"""Reading request bodies: size limit first, then decompression with the same limit.

The limit is checked against Content-Length before reading and again while reading (a
client may lie or stream), and the decompressed size is bounded too, so a gzip bomb stops
at ``max_bytes`` of output instead of filling memory.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

import zstandard
from starlette.requests import Request

from heron.core.errors import BadRequest, PayloadTooLarge, UnsupportedMedia

SUPPORTED_ENCODINGS = ("identity", "gzip", "x-gzip", "deflate", "zstd")


async def read_body(request: Request, *, max_bytes: int) -> bytes:
    """The request body, decoded per Content-Encoding, never larger than ``max_bytes``."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if encoding not in SUPPORTED_ENCODINGS:
        raise UnsupportedMedia(
            f"unsupported Content-Encoding '{encoding}': expected one of gzip, deflate, zstd or identity"
        )
    raw = await read_raw_body(request, max_bytes=max_bytes)
    if encoding == "identity" or not raw:
        return raw
    return decompress(raw, encoding, max_bytes=max_bytes)


async def read_raw_body(request: Request, *, max_bytes: int) -> bytes:
    """The body as sent, refused (413) as soon as it is known to exceed ``max_bytes``.

    Up to :data:`DISCARD_BYTES` of a refused body are read and thrown away first: a client
    still sending would otherwise see the connection reset instead of the 413.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        if int(declared) <= max_bytes + DISCARD_BYTES:
            await _discard(request.stream(), DISCARD_BYTES + max_bytes)
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    stream = request.stream()
    async for chunk in stream:
        size += len(chunk)
        if size > max_bytes:
            chunks.clear()
            await _discard(stream, DISCARD_BYTES)
            raise PayloadTooLarge(f"request body exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


#: Most bytes of an over-size body read (and dropped) before the 413 is sent; beyond them
#: the connection is closed with the answer.
DISCARD_BYTES = 4 * 1024 * 1024


async def _discard(stream: AsyncIterator[bytes], limit: int) -> None:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            return


def decompress(raw: bytes, encoding: str, *, max_bytes: int) -> bytes:
    """Decode ``raw``; more than ``max_bytes`` of output is a 413, corrupt input a 400."""
    if encoding == "zstd":
        try:
            reader = zstandard.ZstdDecompressor().stream_reader(raw)
            out = reader.read(max_bytes + 1)
        except zstandard.ZstdError as exc:
            raise BadRequest(f"the body is not valid zstd: {exc}") from exc
    else:
        # gzip: wbits 16+15; deflate: zlib-wrapped (RFC 1950) or raw (RFC 1951) as clients vary.
        wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        try:
            out = _inflate(raw, wbits, max_bytes)
        except zlib.error as exc:
            if encoding != "deflate":
                raise BadRequest(f"the body is not valid {encoding}: {exc}") from exc
            try:
                out = _inflate(raw, -zlib.MAX_WBITS, max_bytes)
            except zlib.error as exc2:
                raise BadRequest(f"the body is not valid deflate: {exc2}") from exc2
    if len(out) > max_bytes:
        raise PayloadTooLarge(f"the decompressed body exceeds the limit of {max_bytes} bytes")
    return out


def _inflate(raw: bytes, wbits: int, max_bytes: int) -> bytes:
    """Inflate at most ``max_bytes + 1`` bytes; gzip may hold several members back to back."""
    out = bytearray()
    data = raw
    while data:
        d = zlib.decompressobj(wbits)
        out += d.decompress(data, max_bytes + 1 - len(out))
        if len(out) > max_bytes:
            break
        if not d.eof:
            raise zlib.error("the stream is truncated")
        data = d.unused_data if wbits > zlib.MAX_WBITS else b""
    return bytes(out)
