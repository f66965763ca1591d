"""What can go wrong with a PromQL query, with the status Prometheus's API gives each.

Prometheus answers a query it cannot parse or whose parameters are wrong with ``400``
(``errorType: bad_data``), one that fails while it runs with ``422`` (``execution``), and
one that runs out of time with ``503`` (``timeout``); these classes carry those statuses.
"""

from __future__ import annotations

from heron.core.errors import BadRequest, HeronError, Unprocessable


class BadData(BadRequest):
    """A query that does not parse, or a parameter that is not what the API takes."""

    code = "bad_data"


class ExecutionError(Unprocessable):
    """A query that parsed and failed while it ran (duplicate series, a bad regex, a limit)."""

    code = "execution"


class QueryTimeout(HeronError):
    """A query that ran longer than its time limit."""

    status = 503
    code = "timeout"
