"""uvicorn's HTTP protocol, reading the socket in small pieces.

uvicorn stops reading a connection once 64 KiB of its request body wait unread, but the
event loop hands it data in reads of up to 256 KB, so each connection whose write waits for
admission (:mod:`heron.api.admission`) held about 300 KB: 1,000 waiting clients meant
300 MB. Reading through a buffer of :data:`READ_BYTES` instead (the protocol is then an
``asyncio.BufferedProtocol``, which uvloop and asyncio both honour) and pausing at
:data:`PAUSE_BYTES` keeps a waiting connection under 48 KiB, and the rest of its body in
the kernel's socket buffer.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Bytes read from a socket at a time; one buffer serves every connection of the loop.
READ_BYTES = 16 * 1024
#: Unread body bytes after which a connection stops being read until the app takes them
#: (uvicorn's own limit is 64 KiB).
PAUSE_BYTES = 32 * 1024

_BUFFER = bytearray(READ_BYTES)
_VIEW = memoryview(_BUFFER)


class SmallReadsProtocol(HttpToolsProtocol, asyncio.BufferedProtocol):
    """:class:`HttpToolsProtocol` fed from one shared read buffer.

    Sharing is safe: the loop fills the buffer and calls :meth:`buffer_updated` for one
    connection before it reads another, and the bytes are copied out at once.
    """

    def get_buffer(self, sizehint: int) -> memoryview:
        return _VIEW

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_VIEW[:nbytes]))

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if len(self.cycle.body) > PAUSE_BYTES:
            self.flow.pause_reading()
