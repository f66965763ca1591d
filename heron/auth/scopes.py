"""Scopes of personal API tokens, in Nezha's vocabulary: ``nezha:{resource}:{verb}``.

A token without scopes (every token made before scopes existed, and any made without asking
for them) acts with all of its owner's rights. A token with scopes can do no more than its
scopes *and* its owner allow: the scope check comes on top of the role and ownership checks
of :mod:`heron.auth.permissions`, never instead of them.

Resources are Nezha's (``inventory``, ``server``, ``service``, ``alertrule``, ``cron``,
``ddns``, ``nat``, ``notification``, ``notification-group``, ``transfer``, ``admin``) plus
Heron's own time-series family, ``tsdb`` (``read``: SQL; ``write``: every push and write
route). Verbs are ``read``, ``write``, ``delete`` and ``exec``. ``*`` stands for every verb of
a resource (``nezha:cron:*``); ``nezha:*`` and ``nezha:admin:*`` are for admins only.

Which scope a route needs is decided here, from its method and path template
(:func:`required_scopes`), so the table is one place and a test walks every route through it.
Routes that manage credentials (tokens, API keys, the profile, logins) refuse scoped tokens
outright: a scoped token must not be able to mint an unscoped one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PREFIX = "nezha:"
ALL = "nezha:*"
ADMIN = "nezha:admin:*"
#: What every push and write route needs.
TSDB_WRITE = "nezha:tsdb:write"

RESOURCES = (
    "inventory",
    "server",
    "service",
    "alertrule",
    "cron",
    "ddns",
    "nat",
    "notification",
    "notification-group",
    "transfer",
    "tsdb",
)
#: The verbs each resource has (Nezha's ``AllScopes``, with Heron's ``tsdb``).
VERBS: dict[str, tuple[str, ...]] = {
    "inventory": ("read", "delete"),
    "server": ("read", "write", "delete", "exec"),
    "service": ("read", "write", "delete"),
    "alertrule": ("read", "write", "delete"),
    "cron": ("read", "write", "delete", "exec"),
    "ddns": ("read", "write", "delete"),
    "nat": ("read", "write", "delete"),
    "notification": ("read", "write", "delete"),
    "notification-group": ("read", "write", "delete"),
    "transfer": ("read", "write", "delete"),
    "tsdb": ("read", "write"),
}
#: Every scope a token may carry; the last two only when its owner is an admin.
KNOWN: frozenset[str] = frozenset(
    [f"{PREFIX}{r}:{v}" for r, verbs in VERBS.items() for v in verbs] + [f"{PREFIX}{r}:*" for r in RESOURCES]
)
ADMIN_ONLY = frozenset({ALL, ADMIN})
#: Longest scope list a token may carry.
MAX_SCOPES = 64

#: What :func:`required_scopes` answers for a route a scoped token may never use: a scope no token holds.
UNSCOPED_ONLY = "heron:unscoped-token-only"
NO_SCOPED_TOKENS: tuple[str, ...] = (UNSCOPED_ONLY,)


def matches(owned: str, wanted: str) -> bool:
    """Whether the scope ``owned`` covers ``wanted`` (exact, ``resource:*``, or ``nezha:*``)."""
    if owned == wanted:
        return True
    if owned == ALL:
        return wanted.startswith(PREFIX)
    if owned.endswith(":*"):
        return wanted.startswith(owned[:-1])
    return False


def covers(owned: Iterable[str], wanted: str) -> bool:
    """Whether any scope of ``owned`` covers ``wanted``."""
    return any(matches(o, wanted) for o in owned)


def invalid_scopes(scopes: Iterable[str], *, is_admin: bool) -> list[str]:
    """The scopes of ``scopes`` a token of this user may not carry (unknown, or admin-only)."""
    allowed = KNOWN | ADMIN_ONLY if is_admin else KNOWN
    return [s for s in scopes if s not in allowed]


def _s(resource: str, verb: str) -> str:
    return f"{PREFIX}{resource}:{verb}"


# (path template pattern, {method: scopes needed, all of them}); the first match decides.
# "*" as a method is every method not named. An empty tuple: scoped tokens are refused.
_RULE_TABLE: list[tuple[str, dict[str, tuple[str, ...]]]] = [
    # credentials and the caller's own account: never with a scoped token
    (r"^/api/v1/(token|apikey|profile|logout|refresh-token)(/|$)", {"*": NO_SCOPED_TOKENS}),
    (r"^/api/n9e/self/", {"*": NO_SCOPED_TOKENS}),
    (r"^/profile/", {"*": NO_SCOPED_TOKENS}),
    # administration
    (r"^/api/v1/(user|batch-delete/user|waf|batch-delete/waf|online-user|maintenance|audit)(/|$)", {"*": (ADMIN,)}),
    (r"^/api/v1/setting$", {"GET": (), "*": (ADMIN,)}),
    (r"^/(users|admin)/", {"*": (ADMIN,)}),
    # remote operations on a server
    (r"^/api/v1/(terminal|ws/terminal)(/|$)", {"*": (_s("server", "exec"),)}),
    (
        r"^/api/v1/(file|ws/file)(/|$)",
        {"*": (_s("server", "read"), _s("server", "write"), _s("server", "delete"))},
    ),
    (r"^/api/v1/server/\{[a-z_]+\}/file$", {"GET": (_s("server", "read"),), "*": (_s("server", "write"),)}),
    (r"^/api/v1/server/config", {"GET": (_s("server", "read"),), "*": (_s("server", "write"),)}),
    (r"^/api/v1/force-update/server$", {"*": (_s("server", "write"),)}),
    # the inventory and its servers
    (r"^/api/v1/batch-delete/server(-group)?$", {"*": (_s("inventory", "delete"),)}),
    (r"^/api/v1/batch-move/server$", {"*": (_s("server", "write"),)}),
    (r"^/api/v1/server/\{[a-z_]+\}/metrics$", {"*": (_s("server", "read"),)}),
    (r"^/api/v1/server(-group)?(/|$)", {"GET": (_s("inventory", "read"),), "*": (_s("server", "write"),)}),
    (r"^/api/v1/ws/server$", {"*": (_s("inventory", "read"),)}),
    (r"^/api/n9e/targets", {"GET": (_s("inventory", "read"),), "*": (_s("server", "write"),)}),
    (r"^/hosts/", {"GET": (_s("inventory", "read"),), "*": (_s("server", "write"),)}),
    # cron, DDNS, NAT
    (r"^/api/v1/cron/\{[a-z_]+\}/manual$", {"*": (_s("cron", "exec"),)}),
    (r"^/api/v1/batch-delete/(cron|ddns|nat)$", {}),
    (r"^/api/v1/(cron|ddns|nat)(/|$)", {}),
    # services, alerts, notifications, silences, maintenance windows (their routes follow the same naming)
    (r"^/api/v1/batch-delete/(service|alert-rule|notification|notification-group|silence|maintenance-window)$", {}),
    (r"^/api/v1/(service|alert-rule|notification|notification-group|silence|maintenance-window)(/|$)", {}),
    (r"^/api/v1/alert-event/ack$", {"*": (_s("alertrule", "write"),)}),
    (r"^/api/v1/(alert-event|alert-stats)(/|$)", {"*": (_s("alertrule", "read"),)}),
    # Nightingale's alerting pages: rules, mutes and events; business groups and teams
    (r"^/api/n9e/alert-(cur|his)-events/", {"*": (_s("alertrule", "read"),)}),
    (
        r"^/api/n9e/(alert-rule/|busi-group/\{[a-z_]+\}/alert-(rules|rule/|mutes))",
        {"GET": (_s("alertrule", "read"),), "DELETE": (_s("alertrule", "delete"),), "*": (_s("alertrule", "write"),)},
    ),
    (
        r"^/api/n9e/busi-groups?(/|$)",
        {"GET": (_s("inventory", "read"),), "DELETE": (_s("inventory", "delete"),), "*": (_s("server", "write"),)},
    ),
    (r"^/api/n9e/user-groups?(/|$)", {"GET": (_s("inventory", "read"),), "*": (ADMIN,)}),
    # the status pages' administration
    (r"^/api/v1/(batch-delete/)?status-page(/|$)", {"*": (ADMIN,)}),
    # PromQL and the Prometheus HTTP API (also under /prometheus), remote read, Heron's /metrics
    (
        r"^(/prometheus)?/api/v1/(query|query_range|query_exemplars|series|labels|label/\{[a-z_]+\}/values"
        r"|metadata|format_query|status/buildinfo|read)$",
        {"*": (_s("tsdb", "read"),)},
    ),
    (r"^/metrics$", {"*": (_s("tsdb", "read"),)}),
    # time series: SQL reads; every write and push route (and the metadata shippers read first) writes
    (r"^/api/v1/sql$", {"*": (_s("tsdb", "read"),)}),
    (
        r"^/(api/v1/(es|opentsdb|prom|traces|write)|api/v2/write|write$|datadog/|v1/|loki/|opentsdb/|openfalcon/"
        r"|prometheus/|api/put$)",
        {"*": (_s("tsdb", "write"),)},
    ),
    # the MCP endpoint: open to any token; each tool checks its own scope
    (r"^/mcp$", {"*": ()}),
]
_RULES = [(re.compile(p), rules) for p, rules in _RULE_TABLE]

_FAMILY_OF = {
    "silence": "alertrule",
    "maintenance-window": "alertrule",
    "cron": "cron",
    "ddns": "ddns",
    "nat": "nat",
    "service": "service",
    "alert-rule": "alertrule",
    "notification": "notification",
    "notification-group": "notification-group",
}
_FAMILY = re.compile(
    r"^/api/v1/(?:batch-delete/)?(cron|ddns|nat|service|alert-rule|notification-group|notification|silence"
    r"|maintenance-window)"
)


def _family_scope(method: str, path: str) -> tuple[str, ...]:
    """Read, write or delete of a CRUD family named by the path (Nezha's routes for these families)."""
    found = _FAMILY.match(path)
    assert found is not None
    resource = _FAMILY_OF[found.group(1)]
    if "/batch-delete/" in path or method == "DELETE":
        return (_s(resource, "delete"),)
    return (_s(resource, "read" if method in ("GET", "HEAD") else "write"),)


def required_scopes(method: str, path: str) -> tuple[str, ...] | None:
    """The scopes a scoped token needs for ``method path`` (a route's path template).

    ``None`` means the route is not in the table; the caller then asks for ``nezha:admin:*``
    (a new route is closed to scoped tokens until it is named here). Credential routes answer
    :data:`NO_SCOPED_TOKENS`, which no token covers; ``GET /api/v1/setting`` needs nothing.
    """
    method = method.upper()
    for pattern, rules in _RULES:
        if pattern.search(path):
            if not rules:
                return _family_scope(method, path)
            return rules.get(method, rules.get("*", (ADMIN,)))
    return None


def refuses_scoped_tokens(method: str, path: str) -> bool:
    """Whether scoped tokens are refused outright on this route (credential management)."""
    for pattern, rules in _RULES:
        if pattern.search(path):
            return rules.get(method.upper(), rules.get("*")) == NO_SCOPED_TOKENS
    return False


def missing_scopes(
    owned: Iterable[str] | None, method: str, path: str, *, needed: tuple[str, ...] | None = None
) -> list[str]:
    """What a principal with scopes ``owned`` lacks for ``method path`` (nothing when ``owned`` is None)."""
    if owned is None:
        return []
    have = tuple(owned)
    if needed is None:
        found = required_scopes(method, path)
        needed = found if found is not None else (ADMIN,)
    wanted = needed
    return [w for w in wanted if not covers(have, w)]
