"""Who may do what: one table of rules and one call, :func:`require`.

Handlers describe the thing they are about to touch as a :class:`Resource` and call
``require(principal, action, resource)``; it returns or raises. A guest asking for something
guests may not have gets ``401`` (logging in could help), a user gets ``403``. The rules:

* **admin**: everything.
* **member**: reads and changes what they own (``owner_id`` is theirs) among the kinds
  members have (``MEMBER_OWNED``), reads the shared kinds (``MEMBER_READ``), nothing else.
* **guest** (only when ``force_auth`` is off; otherwise the request never gets here): reads
  the kinds in ``GUEST_READ`` unless the resource is hidden from guests, and history only for
  the ``1d`` period.
* **agent** (a configured push credential): writes time series, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from heron.auth.users import Principal
from heron.core.errors import Forbidden, Unauthorized


class Action(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Resource:
    """What an action is about: its kind, its owner, whether guests may see it, a history period."""

    kind: str
    owner_id: int | None = None
    hidden_for_guest: bool = False
    period: str | None = None


#: Kinds a member creates and then manages alone (admins see all of them).
MEMBER_OWNED = frozenset(
    {
        *("token", "apikey", "session", "profile", "server", "server_group", "service", "alert_rule", "notification"),
        *("notification_group", "silence", "maintenance_window"),
    }
)
#: Kinds every signed-in user may read, whoever owns them.
MEMBER_READ = frozenset({"setting", "database", "history"})
#: Kinds every signed-in user may write.
MEMBER_WRITE = frozenset({"tsdb"})
#: Kinds a guest may read (subject to ``hidden_for_guest`` and the history period).
GUEST_READ = frozenset({"setting", "server", "service", "history"})
#: The only history period guests may query (Nezha's rule).
GUEST_PERIOD = "1d"
#: Kinds a push agent may write.
AGENT_WRITE = frozenset({"tsdb"})


def allowed(principal: Principal, action: Action | str, resource: Resource) -> bool:
    """Whether ``principal`` may ``action`` ``resource``; :func:`require` is the usual entry."""
    action = Action(action)
    if principal.is_admin:
        return True
    if principal.is_guest:
        if action is not Action.READ or resource.kind not in GUEST_READ or resource.hidden_for_guest:
            return False
        return resource.kind != "history" or (resource.period or GUEST_PERIOD) == GUEST_PERIOD
    if not principal.is_user:
        return action is not Action.READ and resource.kind in AGENT_WRITE
    if resource.kind in MEMBER_WRITE:
        return True
    if resource.kind in MEMBER_READ and action is Action.READ:
        return True
    if resource.kind in MEMBER_OWNED:
        return (resource.owner_id is None and action is Action.CREATE) or resource.owner_id == principal.user_id
    return False


def require(principal: Principal, action: Action | str, resource: Resource) -> None:
    """Return when ``principal`` may ``action`` ``resource``; raise ``401`` (guest) or ``403`` otherwise."""
    if allowed(principal, action, resource):
        return
    what = f"{Action(action).value} {resource.kind.replace('_', ' ')}"
    if principal.is_guest:
        if resource.kind == "history" and resource.period and resource.kind in GUEST_READ:
            raise Unauthorized(
                f"guests may read history for the {GUEST_PERIOD} period only; log in for '{resource.period}'"
            )
        raise Unauthorized(f"authentication required to {what}")
    if resource.owner_id is not None and resource.kind in MEMBER_OWNED:
        raise Forbidden(
            f"this {resource.kind.replace('_', ' ')} belongs to another user; "
            f"'{principal.username}' may not {Action(action).value} it"
        )
    raise Forbidden(f"'{principal.username}' may not {what}: it needs the admin role")


T = TypeVar("T")


def visible(principal: Principal, items: Iterable[T], resource_of: Callable[[T], Resource]) -> list[T]:
    """The ``items`` ``principal`` may read, for lists that filter rather than refuse."""
    return [item for item in items if allowed(principal, Action.READ, resource_of(item))]
