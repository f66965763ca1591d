"""What every push route does after parsing: write through the one writer, register hosts."""

from __future__ import annotations

import asyncio
import time

import pyarrow.compute as pc

from heron.api.services import Services
from heron.core import telemetry
from heron.core.batch import Batch
from heron.core.errors import BadRequest
from heron.core.identifiers import name_problem, show
from heron.tsdb.metrics import Samples
from heron.tsdb.names import schema_for
from heron.tsdb.writer import WriteResult

#: The tag that names the host a series comes from (Nightingale's convention).
IDENT_TAG = "ident"


async def write_batches(
    svc: Services,
    *,
    tenant: str,
    database: str,
    batches: list[Batch],
    atomic: bool,
    samples: Samples | None = None,
    metrics: bool = False,
) -> WriteResult:
    """Queue ``batches`` (and ``samples``) and wait until they are committed (a 2xx after
    this is durable). ``metrics=True`` says the batches are metrics: they go to the metric
    store (:mod:`heron.tsdb.metrics`) like ``samples`` do."""
    svc.namespaces.get(tenant, database)
    future = svc.writer.submit(
        tenant=tenant,
        database=database,
        schema=schema_for(tenant, database),
        batches=batches,
        atomic=atomic,
        samples=samples,
        metrics=metrics,
    )
    result = await asyncio.wrap_future(future)
    telemetry.INGEST_POINTS.labels(protocol=telemetry.PROTOCOL.get() or "internal").inc(result.written)
    return result


def checked_table(name: str, *, given_in: str) -> str:
    """A table named by a query parameter or header, if it follows Heron's rule for names."""
    problem = name_problem(name)
    if problem is not None:
        raise BadRequest(f"the table name {show(name)} given in {given_in} {problem}")
    return name


def idents_of(batches: list[Batch], tag: str = IDENT_TAG) -> list[str]:
    """Distinct values of the ``ident`` tag across ``batches`` (vectorised; a handful per request)."""
    names: set[str] = set()
    for batch in batches:
        column = batch.tags.get(tag)
        if column is not None:
            names.update(v for v in pc.unique(column.drop_null()).to_pylist() if v)
    return sorted(names)


def register_hosts(svc: Services, batches: list[Batch], *, ignore: bool = False, tag: str = IDENT_TAG) -> None:
    """Note every host named by ``tag`` as seen now, unless the request asked not to."""
    if ignore:
        return
    names = idents_of(batches, tag)
    if names:
        svc.hosts.seen(names, at=time.time())
