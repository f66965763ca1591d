"""The servers as ``GET /api/v1/server`` and the browser stream show them, built once for all readers.

With 2,000 agents, one answer of ``GET /api/v1/server`` cost about 120 ms of Python (reading
the table, merging the live state, building and encoding 2,000 items), all of it holding the
one event loop or its GIL, and every request and every browser frame paid it again. Here one
:class:`Snapshot` is built in a worker thread at most once per :data:`SNAPSHOT_SECONDS` while
anyone reads, and each reader picks its part from it:

* the items are built once per snapshot; the JSON body of each visibility class (who is
  asking: role and user id) is encoded once per snapshot, with :func:`heron.auth.permissions.allowed`
  deciding per server exactly as an uncached answer would, and the classes read in the last
  :data:`IDLE_SECONDS` are encoded ahead, in the build thread, so a steady reader never waits;
* a change of the stored servers or users made in this process (:meth:`MetaStore.version`)
  makes the next reader wait for a new snapshot, so an edit is visible in the very next
  answer; live status, online state and ``last_active`` are up to about a second old, as the
  browser stream always was.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from heron.api.services import Services
from heron.auth.permissions import Action, Resource, allowed
from heron.auth.users import Principal
from heron.inventory.view import ServerView, server_views
from heron.meta.models import Server, User

log = logging.getLogger(__name__)

#: Age after which a read starts a new snapshot (and the refresher builds one while readers stay).
SNAPSHOT_SECONDS = 1.0
#: Oldest snapshot a read still answers from while a newer one is built (the refresher fell behind).
MAX_STALE_SECONDS = 3.0
#: The refresher stops after this long without a reader, and starts again on the next read.
IDLE_SECONDS = 10.0
#: Keys of a server in a browser frame (Nezha v1's ``StreamServer``), read off the API's item.
STREAM_KEYS = ("id", "name", "public_note", "display_index", "host", "state", "last_active", "online")
#: Tables whose committed changes invalidate a snapshot (servers, and the owners they point at).
WATCHED_TABLES = (Server.__tablename__, User.__tablename__)

#: Who a part of a snapshot is for: :func:`allowed` reads nothing else of a principal.
ViewerKey = tuple[str, int]
#: Builds one server's API item with its private note shown (``servers.v1_server``; passed in,
#: since the router that owns the shape also reads this module).
ItemBuilder = Callable[[ServerView], dict[str, Any]]


def viewer_key(principal: Principal) -> ViewerKey:
    return (principal.role, principal.user_id)


def server_resource(view: ServerView) -> Resource:
    return Resource("server", owner_id=view.info.owner_id, hidden_for_guest=view.info.hidden_for_guest)


@dataclass(frozen=True, slots=True)
class _Item:
    """One server, encoded: kept as bytes, which the garbage collector does not track.

    A snapshot that kept its 2,000 items as nested dicts put tens of thousands of container
    objects a second into the oldest generation, and the full collections they caused stopped the
    event loop for 0.3 to 0.8 s every two seconds (fleet benchmark, ``gc.callbacks``).
    """

    resource: Resource
    noted: bytes
    public: bytes
    stream: bytes


@dataclass(slots=True)
class _Part:
    body: bytes
    stream_servers: bytes


@dataclass(slots=True)
class Snapshot:
    """Every server merged with its live state, and the encoded parts built from it."""

    items: list[_Item]
    built_at: float
    generation: tuple[int, ...]
    _parts: dict[ViewerKey, _Part] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def part_ready(self, principal: Principal) -> bool:
        return viewer_key(principal) in self._parts

    def part(self, principal: Principal) -> _Part:
        """The encoded answer and stream servers for ``principal`` (encoded on first use, then kept)."""
        key = viewer_key(principal)
        with self._lock:
            found = self._parts.get(key)
            if found is None:
                found = self._parts[key] = self._encode(principal)
            return found

    def _encode(self, principal: Principal) -> _Part:
        """Splice the items ``principal`` may read into the answer's envelope and the stream's list."""
        data: list[bytes] = []
        stream: list[bytes] = []
        for item in self.items:
            if not allowed(principal, Action.READ, item.resource):
                continue
            show_note = allowed(principal, Action.UPDATE, item.resource) and not principal.is_guest
            data.append(item.noted if show_note else item.public)
            stream.append(item.stream)
        return _Part(b'{"success":true,"data":[' + b",".join(data) + b"]}", b"[" + b",".join(stream) + b"]")


#: The items of the last build by server id, with the view each was built from.
ItemCache = dict[int, tuple[ServerView, "_Item"]]


def build_snapshot(
    svc: Services,
    item_of: ItemBuilder,
    *,
    generation: tuple[int, ...],
    ahead: dict[ViewerKey, Principal],
    cache: ItemCache | None = None,
) -> Snapshot:
    """Read the stored servers, merge the live state, build the items, encode the ``ahead`` classes.

    Runs in a worker thread. ``generation`` is read by the caller before the table, so a
    change committed meanwhile leaves the snapshot marked older than it and is read again.
    A server whose view equals the one its cached item was built from keeps that item: with
    agents reporting every 3 s, two thirds of the servers are unchanged from one second to
    the next, and the build holds the GIL the event loop needs for its whole length.
    """
    views = server_views(
        svc.hosts.list(), svc.live, now=time.time(), offline_after_seconds=svc.settings.host_offline_seconds
    )
    items = []
    built: ItemCache = {}
    previous = cache if cache is not None else {}
    for view in views:
        known = previous.get(view.info.id)
        if known is not None and known[0] == view:
            item = known[1]
        else:
            noted = item_of(view)
            encoded = orjson.dumps(noted)
            public = orjson.dumps({**noted, "note": ""}) if noted["note"] else encoded
            stream = {key: noted[key] for key in STREAM_KEYS}
            stream["country_code"] = noted["geoip"]["country_code"]
            item = _Item(server_resource(view), encoded, public, orjson.dumps(stream))
        built[view.info.id] = (view, item)
        items.append(item)
    if cache is not None:
        cache.clear()
        cache.update(built)
    snapshot = Snapshot(items, time.monotonic(), generation)
    for principal in ahead.values():
        snapshot.part(principal)
    return snapshot


def _covers(generation: tuple[int, ...], wanted: tuple[int, ...]) -> bool:
    """Whether a snapshot read at ``generation`` includes every change counted in ``wanted``."""
    return all(have >= need for have, need in zip(generation, wanted, strict=True))


class ServerListing:
    """The current :class:`Snapshot`, rebuilt by one build at a time however many readers wait."""

    def __init__(self, svc: Services, *, item_of: ItemBuilder) -> None:
        self._svc = svc
        self._item_of = item_of
        self._snapshot: Snapshot | None = None
        self._items: ItemCache = {}  # used by one build at a time
        self._building: asyncio.Future[Snapshot] | None = None
        self._last_read = float("-inf")
        self._wanted: asyncio.Event | None = None
        #: Who read lately, and when: their parts are encoded ahead in the next snapshot.
        self._readers: dict[ViewerKey, tuple[float, Principal]] = {}

    def _generation(self) -> tuple[int, ...]:
        return tuple(self._svc.meta.version(table) for table in WATCHED_TABLES)

    async def snapshot(self) -> Snapshot:
        """A snapshot no older than :data:`MAX_STALE_SECONDS` that shows every committed change.

        Waits only when there is none yet, when servers or users changed since it was built,
        or when it is too old (nobody read for a while); otherwise it answers at once and a
        snapshot older than :data:`SNAPSHOT_SECONDS` is replaced in the background.
        """
        self._last_read = time.monotonic()
        self._wake()
        # Changes committed before this read must show; later ones may wait for the next
        # snapshot (else a stream of edits, like 2,000 agents enrolling, would hold every reader).
        wanted = self._generation()
        snap = self._snapshot
        while snap is None or not _covers(snap.generation, wanted) or self._age(snap) > MAX_STALE_SECONDS:
            snap = await self._rebuild()
        if self._age(snap) >= SNAPSHOT_SECONDS:
            self._start_build()
        return snap

    async def part(self, principal: Principal) -> _Part:
        """The encoded parts for ``principal`` from the current snapshot."""
        return await self.part_of(await self.snapshot(), principal)

    async def part_of(self, snap: Snapshot, principal: Principal) -> _Part:
        """The encoded parts for ``principal`` from ``snap``; a class new to it is encoded in a thread."""
        self._readers[viewer_key(principal)] = (time.monotonic(), principal)
        if snap.part_ready(principal):
            return snap.part(principal)
        return await asyncio.to_thread(snap.part, principal)

    async def keep_fresh(self) -> None:
        """Start a build every :data:`SNAPSHOT_SECONDS` while someone read in the last :data:`IDLE_SECONDS`.

        Readers then find a snapshot at most a second and one build old without building one
        themselves. The clock runs from each build's start, not its end, so a slow build (a busy
        machine) does not stretch the interval by its own length.
        """
        wanted = self._wanted_event()
        while True:
            await wanted.wait()
            if time.monotonic() - self._last_read > IDLE_SECONDS:
                wanted.clear()
                continue
            started = time.monotonic()
            try:
                await self._rebuild()
            except Exception:
                log.exception("building the server list failed; will retry")
            await asyncio.sleep(max(0.0, SNAPSHOT_SECONDS - (time.monotonic() - started)))

    def _age(self, snap: Snapshot) -> float:
        return time.monotonic() - snap.built_at

    def _wanted_event(self) -> asyncio.Event:
        if self._wanted is None:
            self._wanted = asyncio.Event()
        return self._wanted

    def _wake(self) -> None:
        self._wanted_event().set()

    def _start_build(self) -> asyncio.Future[Snapshot]:
        if self._building is None or self._building.done():
            generation = self._generation()
            building = asyncio.ensure_future(
                asyncio.to_thread(
                    build_snapshot,
                    self._svc,
                    self._item_of,
                    generation=generation,
                    ahead=self._ahead(),
                    cache=self._items,
                )
            )
            building.add_done_callback(self._built)
            self._building = building
        return self._building

    def _ahead(self) -> dict[ViewerKey, Principal]:
        """The callers who read in the last :data:`IDLE_SECONDS` (the others are forgotten)."""
        since = time.monotonic() - IDLE_SECONDS
        self._readers = {key: seen for key, seen in self._readers.items() if seen[0] >= since}
        return {key: principal for key, (_at, principal) in self._readers.items()}

    def _built(self, building: asyncio.Future[Snapshot]) -> None:
        if self._building is building:
            self._building = None
        if not building.cancelled() and building.exception() is None:
            self._snapshot = building.result()

    async def _rebuild(self) -> Snapshot:
        return await asyncio.shield(self._start_build())
