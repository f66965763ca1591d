"""The permission table: admins, members, guests and agents, as one function answers it."""

from __future__ import annotations

import pytest

from heron.auth.permissions import Action, Resource, allowed, require, visible
from heron.auth.users import GUEST, Principal
from heron.core.errors import Forbidden, Unauthorized

ALICE = Principal(1, "alice", "admin")
BOB = Principal(2, "bob", "member")
CHARLIE = Principal(3, "charlie", "member")
AGENT = Principal(0, "agent01", "agent", via="agent")

CASES = [
    # (who, action, resource, allowed?)
    (ALICE, "delete", Resource("token", owner_id=2), True),
    (ALICE, "update", Resource("user"), True),
    (BOB, "read", Resource("token", owner_id=2), True),
    (BOB, "delete", Resource("token", owner_id=2), True),
    (BOB, "create", Resource("token"), True),
    (CHARLIE, "read", Resource("token", owner_id=2), False),
    (CHARLIE, "delete", Resource("apikey", owner_id=2), False),
    (CHARLIE, "read", Resource("server", owner_id=2), False),
    (BOB, "update", Resource("user"), False),
    (BOB, "update", Resource("setting"), False),
    (BOB, "read", Resource("setting"), True),
    (BOB, "read", Resource("waf"), False),
    (BOB, "create", Resource("tsdb"), True),
    (GUEST, "read", Resource("server", owner_id=2), True),
    (GUEST, "read", Resource("server", owner_id=2, hidden_for_guest=True), False),
    (GUEST, "read", Resource("service", hidden_for_guest=True), False),
    (GUEST, "read", Resource("history", period="1d"), True),
    (GUEST, "read", Resource("history", period="7d"), False),
    (GUEST, "read", Resource("history", period="30d"), False),
    (GUEST, "update", Resource("server"), False),
    (GUEST, "read", Resource("token", owner_id=2), False),
    (GUEST, "read", Resource("user"), False),
    (AGENT, "create", Resource("tsdb"), True),
    (AGENT, "read", Resource("tsdb"), False),
    (AGENT, "read", Resource("server"), False),
]


@pytest.mark.parametrize(("who", "action", "resource", "expected"), CASES)
def test_the_permission_table(who: Principal, action: str, resource: Resource, expected: bool) -> None:
    assert allowed(who, action, resource) is expected


def test_require_tells_guests_to_log_in_and_users_why_not() -> None:
    with pytest.raises(Unauthorized, match="1d period only"):
        require(GUEST, Action.READ, Resource("history", period="7d"))
    with pytest.raises(Unauthorized):
        require(GUEST, Action.READ, Resource("token", owner_id=2))
    with pytest.raises(Forbidden, match="belongs to another user"):
        require(CHARLIE, Action.DELETE, Resource("token", owner_id=2))
    with pytest.raises(Forbidden, match="admin role"):
        require(BOB, Action.UPDATE, Resource("setting"))
    require(ALICE, Action.DELETE, Resource("user"))


def test_visible_filters_what_guests_may_not_see() -> None:
    servers = [Resource("server", owner_id=2), Resource("server", owner_id=3, hidden_for_guest=True)]
    assert visible(GUEST, servers, lambda r: r) == servers[:1]
    assert visible(BOB, servers, lambda r: r) == servers[:1]
    assert visible(ALICE, servers, lambda r: r) == servers
