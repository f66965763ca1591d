"""NAT profiles (Nezha's): requests whose Host is a profile's ``domain`` go to ``host`` on the server's network.

The table of domains is kept in memory (:meth:`NatDirectory.route_for` is on every request's
path) and rebuilt on each change. A domain must be a plain host name (no scheme, port or
path), is unique, and may not be one of Heron's own names: the address it listens on, the
``install_host`` site setting, the Host the request that creates it was sent to, and
``ops_reserved_hosts``. Otherwise a member could claim the dashboard's own name and take
its traffic.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from heron.auth.permissions import Action, Resource, require
from heron.auth.users import Principal, aware
from heron.core.errors import BadRequest, NotFound, Unprocessable
from heron.meta.db import MetaStore
from heron.meta.ops_models import NatRoute
from heron.ops.service import Operations

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_DOMAIN_CHARS = 253


@dataclass(frozen=True, slots=True)
class NatForm:
    name: str
    enabled: bool
    server_id: int
    host: str
    domain: str


@dataclass(frozen=True, slots=True)
class NatRouteInfo:
    id: int
    server_id: int
    host: str
    domain: str
    enabled: bool
    owner_id: int | None


def hostname_of(value: str) -> str:
    """``value`` as a bare, lower-case host name: port, brackets and a trailing dot removed."""
    host = value.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    host = host.rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def check_domain(domain: str, reserved: set[str]) -> str:
    """The domain as stored, or a 400 naming ``domain``."""
    raw = domain.strip()
    if not raw:
        raise BadRequest("domain: a NAT profile needs a domain")
    if any(c in raw for c in "/:@?# ") or "://" in raw:
        raise BadRequest(f"domain: expected a bare host name such as app.example.com, got {domain!r}")
    name = raw.lower().rstrip(".")
    if len(name) > MAX_DOMAIN_CHARS or not all(_LABEL.match(label) for label in name.split(".")):
        raise BadRequest(f"domain: {domain!r} is not a valid host name")
    if hostname_of(name) in reserved:
        raise BadRequest(f"domain: {domain!r} is Heron's own host name; a NAT domain must be another name")
    return name


def check_host(host: str) -> str:
    """``name:port`` on the agent's network, or a 400 naming ``host``."""
    value = host.strip()
    name, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not name.strip("[]"):
        raise BadRequest(f"host: expected name:port on the server's network such as 127.0.0.1:8080, got {host!r}")
    return value


def _out(r: NatRoute) -> dict[str, Any]:
    return {
        "id": r.id,
        "user_id": r.owner_id,
        "name": r.name,
        "enabled": r.enabled,
        "server_id": r.server_id,
        "host": r.host,
        "domain": r.domain,
        "created_at": aware(r.created_at).isoformat(),
        "updated_at": aware(r.updated_at).isoformat(),
    }


class NatDirectory:
    def __init__(self, meta: MetaStore, ops: Operations, *, reserved_hosts: set[str]) -> None:
        self.meta = meta
        self.ops = ops
        self.reserved_hosts = {hostname_of(h) for h in reserved_hosts if h.strip()}
        self._routes: dict[str, NatRouteInfo] = {}
        self._lock = threading.Lock()

    def reload(self) -> None:
        with self.meta.session() as s:
            routes = {
                r.domain: NatRouteInfo(r.id, r.server_id, r.host, r.domain, r.enabled, r.owner_id)
                for r in s.scalars(select(NatRoute))
                if hostname_of(r.domain) not in self.reserved_hosts
            }
        with self._lock:
            self._routes = routes

    def route_for(self, host_header: str) -> NatRouteInfo | None:
        """The profile a request's Host names, if any (cheap: one dictionary look-up)."""
        if not self._routes:
            return None
        return self._routes.get(hostname_of(host_header))

    def _reserved(self, request_host: str) -> set[str]:
        return self.reserved_hosts | {hostname_of(request_host)} if request_host else self.reserved_hosts

    def create(self, principal: Principal, form: NatForm, *, request_host: str) -> int:
        domain = self._check(principal, form, request_host)
        with self.meta.session() as s:
            self._unique(s, domain, None)
            route = NatRoute(
                owner_id=principal.user_id,
                name=form.name.strip(),
                enabled=form.enabled,
                server_id=form.server_id,
                host=check_host(form.host),
                domain=domain,
            )
            s.add(route)
            s.flush()
            route_id = route.id
        self.reload()
        return route_id

    def update(self, principal: Principal, route_id: int, form: NatForm, *, request_host: str) -> None:
        domain = self._check(principal, form, request_host)
        with self.meta.session() as s:
            route = self._owned(s, principal, route_id, Action.UPDATE)
            self._unique(s, domain, route_id)
            route.name, route.enabled, route.server_id = form.name.strip(), form.enabled, form.server_id
            route.host, route.domain = check_host(form.host), domain
        self.reload()

    def delete(self, principal: Principal, ids: list[int]) -> list[int]:
        with self.meta.session() as s:
            routes = [self._owned(s, principal, i, Action.DELETE) for i in dict.fromkeys(ids)]
            for route in routes:
                s.delete(route)
        self.reload()
        return [r.id for r in routes]

    def listing(self, principal: Principal, *, offset: int, limit: int) -> list[dict[str, Any]]:
        with self.meta.session() as s:
            q = select(NatRoute).order_by(NatRoute.id).offset(offset).limit(limit)
            if not principal.is_admin:
                q = q.where(NatRoute.owner_id == principal.user_id)
            return [_out(r) for r in s.scalars(q)]

    def count(self, principal: Principal) -> int:
        with self.meta.session() as s:
            q = select(func.count()).select_from(NatRoute)
            if not principal.is_admin:
                q = q.where(NatRoute.owner_id == principal.user_id)
            return int(s.scalar(q) or 0)

    def _check(self, principal: Principal, form: NatForm, request_host: str) -> str:
        if not form.name.strip():
            raise BadRequest("name: a NAT profile needs a name")
        self.ops.server_for(principal, form.server_id)
        check_host(form.host)
        return check_domain(form.domain, self._reserved(request_host))

    @staticmethod
    def _unique(s: Any, domain: str, own_id: int | None) -> None:
        taken = s.scalar(select(NatRoute.id).where(NatRoute.domain == domain))
        if taken is not None and taken != own_id:
            raise Unprocessable(f"domain: {domain} is already used by NAT profile {taken}")

    @staticmethod
    def _owned(s: Any, principal: Principal, route_id: int, action: Action) -> NatRoute:
        route = s.get(NatRoute, route_id)
        if route is None:
            raise NotFound(f"NAT profile {route_id} does not exist")
        require(principal, action, Resource("server", owner_id=route.owner_id))
        assert isinstance(route, NatRoute)
        return route
