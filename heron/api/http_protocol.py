"""uvicorn's HTTP protocol, reading the socket in small pieces and taking bare-LF header lines.

uvicorn stops reading a connection once 64 KiB of its request body wait unread, but the
event loop hands it data in reads of up to 256 KB, so each connection whose write waits for
admission (:mod:`heron.api.admission`) held about 300 KB: 1,000 waiting clients meant
300 MB. Reading through a buffer of :data:`READ_BYTES` instead (the protocol is then an
``asyncio.BufferedProtocol``, which uvloop and asyncio both honour) and pausing at
:data:`PAUSE_BYTES` keeps a waiting connection under 48 KiB, and the rest of its body in
the kernel's socket buffer.

netdata's exporting engine (``opentsdb:http``, 1.37) ends its ``Authorization`` line with
``\n`` instead of ``\r\n``; llhttp refuses that (``400 Invalid HTTP request``) unless its
``lenient_optional_cr_before_lf`` flag is set. OpenTSDB accepts such requests, so Heron does
too; no other leniency is turned on (uvicorn's own ``lenient_data_after_close`` is kept).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Bytes read from a socket at a time; one buffer serves every connection of the loop.
READ_BYTES = 16 * 1024
#: Unread body bytes after which a connection stops being read until the app takes them
#: (uvicorn's own limit is 64 KiB).
PAUSE_BYTES = 32 * 1024

_BUFFER = bytearray(READ_BYTES)
_VIEW = memoryview(_BUFFER)


class HeronHttpProtocol(HttpToolsProtocol, asyncio.BufferedProtocol):
    """:class:`HttpToolsProtocol` fed from one shared read buffer, lenient on bare LFs.

    Sharing is safe: the loop fills the buffer and calls :meth:`buffer_updated` for one
    connection before it reads another, and the bytes are copied out at once.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True, lenient_optional_cr_before_lf=True)

    def get_buffer(self, sizehint: int) -> memoryview:
        return _VIEW

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_VIEW[:nbytes]))

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if len(self.cycle.body) > PAUSE_BYTES:
            self.flow.pause_reading()
