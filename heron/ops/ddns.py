"""DDNS (Nezha's): when a server's address changes, its DNS records follow.

A profile (Nezha's ``DDNSForm``) names a provider (:mod:`heron.ops.ddns_providers`), its
credentials, the domains, which record types, and how many tries. A server uses profiles
through Nezha's server fields ``enable_ddns`` and ``ddns_profiles`` (``PATCH
/api/v1/server/{id}``), with ``override_ddns_domains`` per profile.

Which address: the agent's own report (its host block's ``IPv4``/``IPv6``) when it is a
global address; otherwise the address its connection came from, when that one is global
(a home server behind NAT reports a private address but connects from its public one);
otherwise the reported one (a private zone on a LAN). When it differs from the address last
set, each domain is updated, retried with backoff up to ``max_retries`` times, and every
attempt's outcome is audited. Secrets are shown masked and never logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import func, select

from heron.auth.permissions import Action, Resource, require
from heron.auth.users import Principal, aware
from heron.core.errors import BadRequest, NotFound
from heron.meta.db import MetaStore
from heron.meta.models import User
from heron.meta.ops_models import DdnsProfile, ServerDdns
from heron.ops import ddns_providers as providers
from heron.ops.audit import SYSTEM
from heron.ops.nat import check_domain
from heron.ops.service import Operations

log = logging.getLogger(__name__)

MASK = "********"
MAX_DOMAINS = 100
MAX_RETRIES = 10
#: First wait between tries; doubles each time.
RETRY_BASE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class DdnsForm:
    """Nezha's ``DDNSForm`` with RFC 2136's ``dns_server``, ``zone`` and ``tsig_algorithm``."""

    name: str
    provider: str
    enable_ipv4: bool
    enable_ipv6: bool
    max_retries: int
    domains: list[str]
    access_id: str
    access_secret: str
    webhook_url: str
    webhook_method: int
    webhook_request_type: int
    webhook_request_body: str
    webhook_headers: str
    dns_server: str
    zone: str
    tsig_algorithm: str


def check_form(form: DdnsForm, *, allow_private_targets: bool) -> None:
    """Refuse a profile that cannot work, naming the field (a missing credential, a bad domain)."""
    if not form.name.strip():
        raise BadRequest("name: a DDNS profile needs a name")
    if form.provider not in providers.PROVIDERS:
        raise BadRequest(f"provider: expected one of {', '.join(providers.PROVIDERS)}, got {form.provider!r}")
    if not 1 <= form.max_retries <= MAX_RETRIES:
        raise BadRequest(f"max_retries: expected 1 to {MAX_RETRIES}, got {form.max_retries}")
    if not form.enable_ipv4 and not form.enable_ipv6:
        raise BadRequest("enable_ipv4: enable IPv4, IPv6 or both, else the profile updates nothing")
    if not form.domains or len(form.domains) > MAX_DOMAINS:
        raise BadRequest(f"domains: expected 1 to {MAX_DOMAINS} domains, got {len(form.domains)}")
    for domain in form.domains:
        check_domain(domain, set())
    if form.provider == "webhook":
        parts = urlsplit(form.webhook_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequest(f"webhook_url: expected an http:// or https:// URL, got {form.webhook_url!r}")
        if not allow_private_targets and _private(parts.hostname):
            raise BadRequest(
                f"webhook_url: {parts.hostname} is a loopback or private address; "
                "the operator must set ops_ddns_private_targets to allow it"
            )
        if form.webhook_method not in providers.WEBHOOK_METHODS:
            raise BadRequest(f"webhook_method: expected 1 (GET) to 5 (PUT), got {form.webhook_method}")
        if form.webhook_request_type not in (providers.REQUEST_JSON, providers.REQUEST_FORM):
            raise BadRequest(f"webhook_request_type: expected 1 (JSON) or 2 (form), got {form.webhook_request_type}")
        for name, text in (("webhook_headers", form.webhook_headers),) + (
            (("webhook_request_body", form.webhook_request_body),)
            if form.webhook_request_type == providers.REQUEST_FORM
            else ()
        ):
            try:
                providers.json_object(text)
            except ValueError:
                raise BadRequest(f'{name}: expected a JSON object such as {{"key": "value"}}') from None
    elif form.provider == "rfc2136":
        if not form.dns_server.strip():
            raise BadRequest("dns_server: RFC 2136 needs the DNS server's address (host:port)")
        if not form.access_id.strip():
            raise BadRequest("access_id: RFC 2136 needs the TSIG key name")
        if not form.access_secret or not providers.tsig_secret_ok(form.access_secret):
            raise BadRequest("access_secret: RFC 2136 needs the TSIG secret, base64-encoded")
        if form.tsig_algorithm not in providers.TSIG_ALGORITHMS:
            raise BadRequest(f"tsig_algorithm: expected one of {', '.join(providers.TSIG_ALGORITHMS)}")
        if not allow_private_targets and _private(form.dns_server.rpartition(":")[0] or form.dns_server):
            raise BadRequest(
                "dns_server: a loopback or private address; the operator must set ops_ddns_private_targets to allow it"
            )
    elif form.provider == "cloudflare" and not form.access_secret:
        raise BadRequest("access_secret: Cloudflare needs an API token with DNS edit permission")


def _private(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower() in ("localhost",) or host.lower().endswith(".localhost")
    return not ip.is_global


def pick_address(reported: str, peer: str, version: int) -> str:
    """The address DNS should point at (see the module docstring for the order)."""
    mine, theirs = _ip(reported, version), _ip(peer, version)
    for ip in (mine, theirs):
        if ip is not None and ip.is_global:
            return str(ip)
    return str(mine) if mine is not None else ""


def _ip(value: str, version: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    return ip if ip.version == version else None


def _out(p: DdnsProfile) -> dict[str, Any]:
    return {
        "id": p.id,
        "user_id": p.owner_id,
        "name": p.name,
        "provider": p.provider,
        "enable_ipv4": p.enable_ipv4,
        "enable_ipv6": p.enable_ipv6,
        "max_retries": p.max_retries,
        "domains": orjson.loads(p.domains or "[]"),
        "access_id": p.access_id,
        "access_secret": MASK if p.access_secret else "",
        "webhook_url": p.webhook_url,
        "webhook_method": p.webhook_method,
        "webhook_request_type": p.webhook_request_type,
        "webhook_request_body": p.webhook_request_body,
        "webhook_headers": p.webhook_headers,
        "dns_server": p.dns_server,
        "zone": p.zone,
        "tsig_algorithm": p.tsig_algorithm,
        "created_at": aware(p.created_at).isoformat(),
        "updated_at": aware(p.updated_at).isoformat(),
    }


def _stored(p: DdnsProfile) -> dict[str, Any]:
    """The profile with its secret, for the providers (never returned by the API)."""
    return {**_out(p), "access_secret": p.access_secret}


class DdnsService:
    def __init__(self, meta: MetaStore, ops: Operations, *, allow_private_targets: bool) -> None:
        self.meta = meta
        self.ops = ops
        self.allow_private_targets = allow_private_targets
        self._running: set[asyncio.Task[None]] = set()
        #: The newest address per server, and one update at a time per server, so a slow
        #: provider cannot let an older address land after a newer one.
        self._latest: dict[int, tuple[str, str]] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    # -- profiles -----------------------------------------------------------------------------

    def create(self, principal: Principal, form: DdnsForm) -> int:
        check_form(form, allow_private_targets=self.allow_private_targets)
        with self.meta.session() as s:
            profile = DdnsProfile(owner_id=principal.user_id, **_columns(form))
            s.add(profile)
            s.flush()
            return profile.id

    def update(self, principal: Principal, profile_id: int, form: DdnsForm) -> None:
        with self.meta.session() as s:
            profile = self._owned(s, principal, profile_id, Action.UPDATE)
            if form.access_secret == MASK:  # the list shows the secret masked: sending it back keeps it
                form = dataclasses.replace(form, access_secret=profile.access_secret)
            check_form(form, allow_private_targets=self.allow_private_targets)
            for key, value in _columns(form).items():
                setattr(profile, key, value)

    def delete(self, principal: Principal, ids: list[int]) -> list[int]:
        with self.meta.session() as s:
            found = [self._owned(s, principal, i, Action.DELETE) for i in dict.fromkeys(ids)]
            for profile in found:
                s.delete(profile)
            return [p.id for p in found]

    def listing(self, principal: Principal, *, offset: int, limit: int) -> list[dict[str, Any]]:
        with self.meta.session() as s:
            q = select(DdnsProfile).order_by(DdnsProfile.id).offset(offset).limit(limit)
            if not principal.is_admin:
                q = q.where(DdnsProfile.owner_id == principal.user_id)
            return [_out(p) for p in s.scalars(q)]

    def count(self, principal: Principal) -> int:
        with self.meta.session() as s:
            q = select(func.count()).select_from(DdnsProfile)
            if not principal.is_admin:
                q = q.where(DdnsProfile.owner_id == principal.user_id)
            return int(s.scalar(q) or 0)

    @staticmethod
    def _owned(s: Any, principal: Principal, profile_id: int, action: Action) -> DdnsProfile:
        profile = s.get(DdnsProfile, profile_id)
        if profile is None:
            raise NotFound(f"DDNS profile {profile_id} does not exist")
        require(principal, action, Resource("server", owner_id=profile.owner_id))
        assert isinstance(profile, DdnsProfile)
        return profile

    # -- servers ------------------------------------------------------------------------------

    def link_server(self, principal: Principal, server_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Set a server's ``enable_ddns``, ``ddns_profiles`` and ``override_ddns_domains`` (Nezha's fields)."""
        self.ops.server_for(principal, server_id)
        with self.meta.session() as s:
            link = s.get(ServerDdns, server_id) or ServerDdns(server_id=server_id, profiles="[]", override_domains="{}")
            if "ddns_profiles" in changes:
                ids = list(dict.fromkeys(changes["ddns_profiles"]))
                for profile_id in ids:
                    profile = s.get(DdnsProfile, profile_id)
                    if profile is None:
                        raise BadRequest(f"ddns_profiles: DDNS profile {profile_id} does not exist")
                    require(principal, Action.READ, Resource("server", owner_id=profile.owner_id))
                link.profiles = orjson.dumps(ids).decode()
            if "override_ddns_domains" in changes:
                overrides = {str(k): list(v) for k, v in changes["override_ddns_domains"].items()}
                for domains in overrides.values():
                    for domain in domains:
                        check_domain(domain, set())
                link.override_domains = orjson.dumps(overrides).decode()
            if "enable_ddns" in changes:
                link.enabled = bool(changes["enable_ddns"])
            link.last_ipv4 = link.last_ipv6 = ""  # new settings: the next report updates the records
            s.merge(link)
            return {
                "enable_ddns": link.enabled,
                "ddns_profiles": orjson.loads(link.profiles),
                "override_ddns_domains": orjson.loads(link.override_domains),
            }

    def address_seen(self, server_id: int, host: dict[str, Any], peer: str) -> None:
        """An agent connected with ``host``: update its DNS records if its address changed (in the background)."""
        ipv4 = pick_address(str(host.get("IPv4", "")), peer, 4)
        ipv6 = pick_address(str(host.get("IPv6", "")), peer, 6)
        self._latest[server_id] = (ipv4, ipv6)
        task = asyncio.create_task(self._maybe_update(server_id))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _maybe_update(self, server_id: int) -> None:
        async with self._locks.setdefault(server_id, asyncio.Lock()):
            ipv4, ipv6 = self._latest.get(server_id, ("", ""))
            await self._update(server_id, ipv4, ipv6)

    async def _update(self, server_id: int, ipv4: str, ipv6: str) -> None:
        try:
            plan = await asyncio.to_thread(self._plan, server_id, ipv4, ipv6)
            if plan is None:
                return
            ok = True
            for profile, domains in plan:
                for domain in domains:
                    for record, ip in (
                        ("A", ipv4 if profile["enable_ipv4"] else ""),
                        ("AAAA", ipv6 if profile["enable_ipv6"] else ""),
                    ):
                        if ip:
                            ok &= await self._set_with_retries(server_id, profile, domain, record, ip)
            if ok:
                await asyncio.to_thread(self._remember, server_id, ipv4, ipv6)
        except Exception:
            log.exception("DDNS update failed", extra={"server_id": server_id})

    def _plan(self, server_id: int, ipv4: str, ipv6: str) -> list[tuple[dict[str, Any], list[str]]] | None:
        with self.meta.session() as s:
            link = s.get(ServerDdns, server_id)
            if link is None or not link.enabled or (link.last_ipv4 == ipv4 and link.last_ipv6 == ipv6):
                return None
            info = self.ops.hosts.by_id(server_id)
            if info is None:
                return None
            overrides = orjson.loads(link.override_domains or "{}")
            plan = []
            for profile_id in orjson.loads(link.profiles or "[]"):
                profile = s.get(DdnsProfile, profile_id)
                if profile is None:
                    continue
                owner = s.get(User, profile.owner_id) if profile.owner_id else None
                if profile.owner_id != info.owner_id and not (owner is not None and owner.role == "admin"):
                    continue  # another user's profile: never used for this server
                stored = _stored(profile)
                plan.append((stored, overrides.get(str(profile_id)) or stored["domains"]))
            return plan

    def _remember(self, server_id: int, ipv4: str, ipv6: str) -> None:
        with self.meta.session() as s:
            link = s.get(ServerDdns, server_id)
            if link is not None:
                link.last_ipv4, link.last_ipv6 = ipv4, ipv6

    async def _set_with_retries(
        self, server_id: int, profile: dict[str, Any], domain: str, record: str, ip: str
    ) -> bool:
        error = ""
        for attempt in range(1, int(profile["max_retries"]) + 1):
            try:
                if profile["provider"] == "webhook":
                    await providers.set_webhook(profile, domain, record, ip)
                elif profile["provider"] == "rfc2136":
                    await asyncio.to_thread(providers.set_rfc2136, profile, domain, record, ip)
                else:
                    await providers.set_cloudflare(profile, domain, record, ip)
            except providers.DdnsFailed as exc:
                error = str(exc)
                if attempt < int(profile["max_retries"]):
                    await asyncio.sleep(RETRY_BASE_SECONDS * 2 ** (attempt - 1))
                continue
            self.ops.audit.record(
                SYSTEM, "ddns.update", server_id=server_id, target=f"{record} {domain} {ip}", profile=profile["id"],
                provider=profile["provider"], attempts=attempt,
            )  # fmt: skip
            return True
        self.ops.audit.record(
            SYSTEM, "ddns.update", server_id=server_id, target=f"{record} {domain} {ip}", outcome="failed",
            profile=profile["id"], provider=profile["provider"], attempts=profile["max_retries"], error=error,
        )  # fmt: skip
        return False


def _columns(form: DdnsForm) -> dict[str, Any]:
    return {
        "name": form.name.strip(),
        "provider": form.provider,
        "enable_ipv4": form.enable_ipv4,
        "enable_ipv6": form.enable_ipv6,
        "max_retries": form.max_retries,
        "domains": orjson.dumps([d.strip().lower().rstrip(".") for d in form.domains]).decode(),
        "access_id": form.access_id,
        "access_secret": form.access_secret,
        "webhook_url": form.webhook_url,
        "webhook_method": form.webhook_method,
        "webhook_request_type": form.webhook_request_type,
        "webhook_request_body": form.webhook_request_body,
        "webhook_headers": form.webhook_headers,
        "dns_server": form.dns_server.strip(),
        "zone": form.zone.strip(),
        "tsig_algorithm": form.tsig_algorithm,
    }
