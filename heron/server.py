"""``heron serve``: open the data directory, bind the socket, run until told to stop."""

from __future__ import annotations

import gc
import logging
import socket
import sys

import uvicorn

from heron import __version__
from heron.api.app import create_app
from heron.api.http_protocol import HeronHttpProtocol
from heron.api.services import open_services
from heron.config import Settings

log = logging.getLogger("heron")

#: How long an idle keep-alive connection stays open. uvicorn's 5 s closed busy clients'
#: connections under load (1,000 wrk connections saw about 100 resets in 30 s); 75 s is
#: nginx's default.
KEEP_ALIVE_SECONDS = 75

#: How long a thread may hold the GIL while another waits for it (CPython's default is 5 ms).
#: A request passes through the event loop a dozen times or more; while a worker thread runs
#: Python (building the server list, parsing a body), each of those waits up to this long, so
#: at 5 ms a request took 100-200 ms whenever a build was under way (fleet benchmark).
GIL_SWITCH_SECONDS = 0.0005

#: Allocations (less deallocations) of tracked objects between two young collections (CPython's default is 700).
GC_GEN0_THRESHOLD = 50_000


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose protocol says
    # TCP, and without it every response with a body waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings) -> None:
    """Run Heron in the foreground; SIGINT/SIGTERM stop it cleanly (the TSDB is checkpointed)."""
    host, port = settings.listen_host_port()
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{bound_port}"
    svc = open_services(settings)
    log.info(
        "listening",
        extra={
            "address": url,
            "version": __version__,
            "data_dir": str(settings.data_dir.resolve()),
            "meta": "sqlite" if not settings.meta_url else "external",
        },
    )
    _banner(url, settings, svc.generated_admin_password)
    app = create_app(svc)
    # No permessage-deflate: uvicorn compresses each message per connection on the event loop,
    # and a browser frame of 2,000 servers is 1.2 MB, about 11 ms of zlib per browser per frame
    # (fleet benchmark: 28 % of the loop's time with 50 browsers, in bursts, as all frames are
    # due together). An agent's report is a few hundred bytes and gains little from it.
    config = uvicorn.Config(
        app,
        http=HeronHttpProtocol,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    _tune_garbage_collector()
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    server.run(sockets=[sock])
    log.info("stopped")


def _tune_garbage_collector() -> None:
    """Keep the cyclic garbage collector from stopping the event loop for long.

    A full collection walks every tracked object while holding the GIL; with 2,000 agents
    connected the fleet benchmark saw one every two seconds, each 0.3 to 0.8 s, and every
    request waiting meanwhile. Two changes, both measured there (``gc.callbacks``):

    * ``gc.freeze`` after start-up moves what imports and start-up left (about 155,000
      objects, all living as long as the process) out of every later collection;
    * a youngest-generation threshold of :data:`GC_GEN0_THRESHOLD` instead of 700 lets the
      short-lived objects of each request and report die before a collection sees them, so
      far fewer reach the oldest generation, whose growth is what triggers a full collection.
    """
    gc.collect()
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def _banner(url: str, settings: Settings, generated_password: str | None) -> None:
    """What an operator needs on first sight: address, data, how to log in."""
    lines = [
        "",
        f"  Heron {__version__} is listening on {url}",
        f"  data directory: {settings.data_dir.resolve()}",
        f"  try it:  curl {url}/api/v1/ping",
    ]
    if generated_password:
        lines += [
            "",
            "  First start: created user 'admin' with this password (shown once, store it now):",
            f"      {generated_password}",
            f"  Change it with: heron user passwd admin --data-dir {settings.data_dir.resolve()}",
        ]
    else:
        lines.append("  log in as an existing user (first admin: 'admin', password from HERON_ADMIN_PASSWORD)")
    lines.append("")
    print("\n".join(lines), flush=True)
