"""How a DNS record is set, one function per provider: a webhook, RFC 2136 with TSIG, Cloudflare's API.

Each takes the profile (a dict of its stored fields), the record's name, type (``A`` or
``AAAA``) and address, and raises :class:`DdnsFailed` with a message fit for the audit log
(never the secret) when the provider says no.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

PROVIDERS = ("webhook", "rfc2136", "cloudflare")
#: Nezha's webhook methods and request types.
WEBHOOK_METHODS = {1: "GET", 2: "POST", 3: "PATCH", 4: "DELETE", 5: "PUT"}
REQUEST_JSON, REQUEST_FORM = 1, 2
TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5")
CLOUDFLARE_API = "https://api.cloudflare.com/client/v4"
TIMEOUT_SECONDS = 10.0
RECORD_TTL_SECONDS = 60


class DdnsFailed(Exception):
    """The provider did not set the record; the message says why."""


def fill(template: str, *, profile: dict[str, Any], domain: str, record: str, ip: str) -> str:
    """Nezha's webhook placeholders in ``template``.

    ``#ip#``, ``#domain#``, ``#type#`` (ipv4 or ipv6), ``#record#`` (A or AAAA), ``#access_id#``, ``#access_secret#``.
    """
    values = {
        "#ip#": ip,
        "#domain#": domain,
        "#type#": "ipv4" if record == "A" else "ipv6",
        "#record#": record,
        "#access_id#": profile.get("access_id", ""),
        "#access_secret#": profile.get("access_secret", ""),
    }
    out = template.strip().replace("\r", "")
    for key, value in values.items():
        out = out.replace(key, value)
    return out


def webhook_request(profile: dict[str, Any], *, domain: str, record: str, ip: str) -> httpx.Request:
    """The request Nezha's webhook provider sends, built from the profile's URL, method, body and headers."""
    kw: dict[str, Any] = {"profile": profile, "domain": domain, "record": record, "ip": ip}
    parts = urlsplit(profile["webhook_url"].replace("#", "%23"))
    query = [(k, fill(v.replace("%23", "#"), **kw)) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    method = WEBHOOK_METHODS.get(profile["webhook_method"], "GET")
    headers = {k: fill(str(v), **kw) for k, v in json_object(profile.get("webhook_headers") or "{}").items()}
    content = b""
    if method not in ("GET", "DELETE"):
        if profile["webhook_request_type"] == REQUEST_FORM:
            form = json_object(profile.get("webhook_request_body") or "{}")
            content = urlencode({k: fill(str(v), **kw) for k, v in form.items()}).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        else:
            content = fill(profile.get("webhook_request_body") or "", **kw).encode()
            headers.setdefault("Content-Type", "application/json")
    return httpx.Request(method, url, headers=headers, content=content)


def json_object(text: str) -> dict[str, Any]:
    value = json.loads(text) if text.strip() else {}
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


async def set_webhook(
    profile: dict[str, Any], domain: str, record: str, ip: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> None:
    request = webhook_request(profile, domain=domain, record=record, ip=ip)
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, transport=transport) as client:
        try:
            answer = await client.send(request)
        except httpx.HTTPError as exc:
            raise DdnsFailed(f"webhook {request.url.host}: {type(exc).__name__}") from None
    if answer.status_code >= 400:
        raise DdnsFailed(f"webhook {request.url.host} answered HTTP {answer.status_code}")


def tsig_secret_ok(secret: str) -> bool:
    try:
        return bool(base64.b64decode(secret, validate=True))
    except (binascii.Error, ValueError):
        return False


def _server_address(server: str) -> tuple[str, int]:
    host, sep, port = server.strip().rpartition(":")
    if not sep:
        return server.strip().strip("[]"), 53
    return host.strip("[]"), int(port)


def set_rfc2136(profile: dict[str, Any], domain: str, record: str, ip: str) -> None:
    """An RFC 2136 dynamic update signed with TSIG (RFC 8945): replace the record set with the one address.

    The zone is the profile's, or found by asking the server for the SOA of each suffix.
    Runs blocking (dnspython's synchronous API); callers use a worker thread.
    """
    import dns.exception
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdatatype
    import dns.tsigkeyring
    import dns.update

    address, port = _server_address(profile["dns_server"])
    keyring = dns.tsigkeyring.from_text({profile["access_id"]: profile["access_secret"]})
    algorithm = dns.name.from_text(profile.get("tsig_algorithm") or "hmac-sha256")
    fqdn = dns.name.from_text(domain)
    try:
        zone = dns.name.from_text(profile["zone"]) if profile.get("zone") else _find_zone(fqdn, address, port)
        update = dns.update.UpdateMessage(zone, keyring=keyring, keyalgorithm=algorithm)
        update.replace(fqdn.relativize(zone), RECORD_TTL_SECONDS, record, ip)
        answer = dns.query.tcp(update, address, port=port, timeout=TIMEOUT_SECONDS)
    except (dns.exception.DNSException, OSError) as exc:
        raise DdnsFailed(f"RFC 2136 update at {address}:{port}: {type(exc).__name__}: {exc}") from None
    if answer.rcode() != dns.rcode.NOERROR:
        raise DdnsFailed(f"RFC 2136 update at {address}:{port} refused: {dns.rcode.to_text(answer.rcode())}")


def _find_zone(fqdn: Any, address: str, port: int) -> Any:
    import dns.message
    import dns.query
    import dns.rdatatype

    name = fqdn
    while len(name.labels) > 1:
        query = dns.message.make_query(name, dns.rdatatype.SOA)
        reply = dns.query.udp(query, address, port=port, timeout=TIMEOUT_SECONDS)
        for rrset in reply.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return rrset.name
        name = name.parent()
    raise DdnsFailed(f"no zone for {fqdn} at {address}:{port}: set the profile's zone")


async def set_cloudflare(
    profile: dict[str, Any],
    domain: str,
    record: str,
    ip: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    base_url: str = CLOUDFLARE_API,
) -> None:
    """Cloudflare's API with an API token: find the zone, then update the record or create it."""
    headers = {"Authorization": f"Bearer {profile['access_secret']}"}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=TIMEOUT_SECONDS, transport=transport
    ) as api:
        try:
            zone_id = await _cloudflare_zone(api, profile.get("zone") or "", domain)
            found = await _cloudflare_get(api, f"/zones/{zone_id}/dns_records", {"type": record, "name": domain})
            body = {"type": record, "name": domain, "content": ip, "ttl": RECORD_TTL_SECONDS, "proxied": False}
            if found:
                answer = await api.put(f"/zones/{zone_id}/dns_records/{found[0]['id']}", json=body)
            else:
                answer = await api.post(f"/zones/{zone_id}/dns_records", json=body)
        except httpx.HTTPError as exc:
            raise DdnsFailed(f"Cloudflare: {type(exc).__name__}") from None
    _cloudflare_ok(answer)


async def _cloudflare_zone(api: httpx.AsyncClient, zone: str, domain: str) -> str:
    labels = domain.rstrip(".").split(".")
    candidates = [zone] if zone else [".".join(labels[i:]) for i in range(len(labels) - 1)]
    for name in candidates:
        zones = await _cloudflare_get(api, "/zones", {"name": name})
        if zones:
            return str(zones[0]["id"])
    raise DdnsFailed(f"Cloudflare has no zone for {domain} that this token can see")


async def _cloudflare_get(api: httpx.AsyncClient, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    answer = await api.get(path, params=params)
    body = _cloudflare_ok(answer)
    result = body.get("result")
    return result if isinstance(result, list) else []


def _cloudflare_ok(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if answer.status_code >= 400 or not body.get("success", False):
        errors = body.get("errors") if isinstance(body, dict) else None
        detail = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict)) if errors else ""
        raise DdnsFailed(f"Cloudflare answered HTTP {answer.status_code}" + (f": {detail}" if detail else ""))
    return body if isinstance(body, dict) else {}
