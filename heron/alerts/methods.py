"""Notification methods (Nezha's ``/api/v1/notification``): stored, checked, and shown masked.

A method is a webhook (Nezha's fields: ``url``, ``request_method`` 1 GET / 2 POST,
``request_type`` 1 JSON / 2 form, ``request_header`` and ``request_body`` as JSON text,
``verify_tls``, ``format_metric_units``; ``preset: "alertmanager"`` sends Alertmanager's
webhook payload instead of a body template), an SMTP mailbox (``kind: "email"``) or a list of
apprise URLs (``kind: "apprise"``: Telegram, Slack, Discord, Matrix, ntfy, Gotify, Teams,
PagerDuty, Pushover and the rest). Secrets are never shown back: the webhook URL's key
parts, header values, the SMTP password and apprise URLs are masked in every answer, and a
masked value sent back on a change means "keep what is stored".
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import delete, select

from heron.alerts.templates import check_template
from heron.auth.permissions import Action, Resource, require
from heron.auth.users import Principal
from heron.core.errors import BadRequest, NotFound
from heron.meta.alert_models import Notification
from heron.meta.db import MetaStore

KINDS = ("webhook", "email", "apprise")
METHOD_GET = 1
METHOD_POST = 2
TYPE_JSON = 1
TYPE_FORM = 2
PRESETS = ("", "alertmanager")
SMTP_SECURITY = ("none", "starttls", "tls")
MASK = "********"
MAX_URL_CHARS = 4096
MAX_RECIPIENTS = 100


@dataclass(frozen=True, slots=True)
class Method:
    """A notification method with its secrets, as the senders need it (never serialised as is)."""

    id: int
    owner_id: int | None
    name: str
    kind: str
    url: str = ""
    request_method: int = METHOD_POST
    request_type: int = TYPE_JSON
    request_header: str = ""
    request_body: str = ""
    verify_tls: bool = True
    format_metric_units: bool = False
    preset: str = ""
    subject: str = ""
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    mail_from: str = ""
    mail_to: tuple[str, ...] = ()
    apprise_urls: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def secrets(self) -> list[str]:
        """Every secret string of the method, to scrub from texts that are stored or logged."""
        found = [self.smtp_password, *self.apprise_urls, *self.headers.values()]
        if self.url:
            found.append(self.url)
            parts = urllib.parse.urlsplit(self.url)
            if parts.password:
                found.append(parts.password)
            found.extend(v for _, v in urllib.parse.parse_qsl(parts.query) if len(v) >= 6)
            found.extend(seg for seg in parts.path.split("/") if _looks_secret(seg))
        return sorted({s for s in found if s and len(s) >= 4}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _looks_secret(segment: str) -> bool:
    """A URL path segment that is probably a key (Slack's and Discord's hook paths, bot tokens)."""
    return len(segment) >= 16 and any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment)


def mask_url(url: str) -> str:
    """The URL with its user info, query values and key-like path segments masked."""
    if not url:
        return ""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.username or parts.password:
        host = f"{MASK}@{host}"
    path = "/".join(MASK if _looks_secret(seg) else seg for seg in parts.path.split("/"))
    query = "&".join(f"{k}={MASK}" for k, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    return urllib.parse.urlunsplit((parts.scheme, host, path, query, ""))


def mask_apprise(url: str) -> str:
    scheme, sep, _rest = url.partition("://")
    return f"{scheme}://{MASK}" if sep else MASK


def _headers(raw: str, where: str) -> dict[str, str]:
    if not raw.strip():
        return {}
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{where}: expected a JSON object of header names to values: {exc}") from None
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise BadRequest(f"{where}: expected a JSON object of header names to string values")
    return {str(k): v for k, v in parsed.items()}


def _str(body: Mapping[str, Any], key: str, default: str = "", *, limit: int = 65536) -> str:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadRequest(f"{key}: expected a string, got {type(value).__name__}")
    if len(value) > limit:
        raise BadRequest(f"{key}: at most {limit} characters")
    return value


def _choice(body: Mapping[str, Any], key: str, allowed: tuple[Any, ...], default: Any) -> Any:
    value = body.get(key, default)
    if value is None or (type(value) is int and value == 0 and 0 not in allowed):
        value = default  # Nezha's forms omit zero values; a zero means "not given"
    if value not in allowed or isinstance(value, bool):
        raise BadRequest(f"{key}: expected one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def _url(value: str, where: str) -> str:
    if len(value) > MAX_URL_CHARS:
        raise BadRequest(f"{where}: at most {MAX_URL_CHARS} characters")
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"{where}: expected an http:// or https:// URL, got {mask_url(value)!r}")
    return value


def parse_method(body: Mapping[str, Any], *, current: Method | None = None) -> Method:
    """A method from the API's JSON; on a change, ``current`` supplies masked and absent fields."""
    base = current
    kind = body.get("kind") or (base.kind if base else "webhook")
    if kind not in KINDS:
        raise BadRequest(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")

    def keep(key: str, attr: str, default: Any = "") -> Any:
        if key in body and body[key] is not None:
            return body[key]
        return getattr(base, attr) if base is not None else default

    name = _str(body, "name", base.name if base else "", limit=255).strip()
    if not name:
        raise BadRequest("name: a notification method needs a name")
    fields: dict[str, Any] = {"id": base.id if base else 0, "owner_id": base.owner_id if base else None}
    fields.update(name=name, kind=kind, subject=_str({"s": keep("subject", "subject")}, "s", limit=1024))
    check_template(fields["subject"], field="subject")
    body_text = _str({"request_body": keep("request_body", "request_body")}, "request_body")
    check_template(body_text, field="request_body")
    fields["request_body"] = body_text
    if kind == "webhook":
        url = keep("url", "url")
        if not isinstance(url, str):
            raise BadRequest("url: expected a string")
        if base is not None and url == mask_url(base.url):
            url = base.url
        if not url:
            raise BadRequest("url: a webhook needs a URL")
        check_template(url, field="url")
        fields["url"] = _url(url, "url") if "{{" not in url and "#" not in url else url
        raw_headers = keep("request_header", "request_header")
        if not isinstance(raw_headers, str):
            raise BadRequest("request_header: expected a JSON object as text")
        headers = _headers(raw_headers, "request_header")
        if base is not None:
            headers = {k: (base.headers.get(k, v) if v == MASK else v) for k, v in headers.items()}
        fields["headers"] = headers
        fields["request_header"] = orjson.dumps(headers).decode() if headers else ""
        fields["request_method"] = _choice(
            {"m": keep("request_method", "request_method", METHOD_POST)}, "m", (METHOD_GET, METHOD_POST), METHOD_POST
        )
        fields["request_type"] = _choice(
            {"t": keep("request_type", "request_type", TYPE_JSON)}, "t", (TYPE_JSON, TYPE_FORM), TYPE_JSON
        )
        if fields["request_type"] == TYPE_FORM and body_text:
            _headers(body_text, "request_body")
        fields["preset"] = _choice({"p": keep("preset", "preset", "")}, "p", PRESETS, "")
        fields["verify_tls"] = bool(keep("verify_tls", "verify_tls", True))
        fields["format_metric_units"] = bool(keep("format_metric_units", "format_metric_units", False))
    elif kind == "email":
        host = _str({"smtp_host": keep("smtp_host", "smtp_host")}, "smtp_host", limit=255)
        if not host:
            raise BadRequest("smtp_host: an email method needs the SMTP server's host name")
        security = _choice(
            {"smtp_security": keep("smtp_security", "smtp_security", "starttls")},
            "smtp_security",
            SMTP_SECURITY,
            "starttls",
        )
        port = keep("smtp_port", "smtp_port", 0) or {"tls": 465, "starttls": 587, "none": 25}[security]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise BadRequest(f"smtp_port: expected a port number, got {port!r}")
        password = keep("smtp_password", "smtp_password")
        if base is not None and password == MASK:
            password = base.smtp_password
        recipients = keep("to", "mail_to", ())
        if isinstance(recipients, str):
            recipients = [r.strip() for r in recipients.split(",") if r.strip()]
        if not isinstance(recipients, list | tuple) or not recipients or len(recipients) > MAX_RECIPIENTS:
            raise BadRequest(f"to: expected a list of 1 to {MAX_RECIPIENTS} email addresses")
        for i, addr in enumerate(recipients):
            if not isinstance(addr, str) or "@" not in addr:
                raise BadRequest(f"to[{i}]: expected an email address, got {addr!r}")
        sender = _str({"from": keep("from", "mail_from")}, "from", limit=255)
        if "@" not in sender:
            raise BadRequest(f"from: expected the sender's email address, got {sender!r}")
        fields.update(
            smtp_host=host,
            smtp_port=port,
            smtp_security=security,
            smtp_username=_str({"smtp_username": keep("smtp_username", "smtp_username")}, "smtp_username", limit=255),
            smtp_password=str(password or ""),
            mail_from=sender,
            mail_to=tuple(recipients),
            verify_tls=bool(keep("verify_tls", "verify_tls", True)),
        )
    else:
        urls = keep("apprise_urls", "apprise_urls", ())
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list | tuple) or not urls or len(urls) > MAX_RECIPIENTS:
            raise BadRequest(f"apprise_urls: expected a list of 1 to {MAX_RECIPIENTS} apprise URLs")
        kept = []
        for i, url in enumerate(urls):
            if not isinstance(url, str) or "://" not in url:
                raise BadRequest(f"apprise_urls[{i}]: expected an apprise URL such as tgram://token/chat")
            if base is not None and url.endswith(MASK) and i < len(base.apprise_urls):
                url = base.apprise_urls[i]
            kept.append(url)
        _check_apprise(kept)
        fields["apprise_urls"] = tuple(kept)
    return Method(**fields)


def _check_apprise(urls: list[str]) -> None:
    import apprise

    for i, url in enumerate(urls):
        if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
            raise BadRequest(f"apprise_urls[{i}]: not a URL apprise knows ({mask_apprise(url)})")


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def method_from_row(row: Notification) -> Method:
    config: dict[str, Any] = orjson.loads(row.config or "{}")
    hidden: dict[str, Any] = orjson.loads(row.secrets or "{}")
    headers = orjson.loads(row.request_header) if row.request_header else {}
    return Method(
        id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        kind=row.kind,
        url=row.url,
        request_method=row.request_method,
        request_type=row.request_type,
        request_header=row.request_header,
        request_body=row.request_body,
        verify_tls=bool(row.verify_tls),
        format_metric_units=bool(row.format_metric_units),
        preset=row.preset,
        subject=config.get("subject", ""),
        smtp_host=config.get("smtp_host", ""),
        smtp_port=int(config.get("smtp_port", 0)),
        smtp_security=config.get("smtp_security", "starttls"),
        smtp_username=config.get("smtp_username", ""),
        smtp_password=hidden.get("smtp_password", ""),
        mail_from=config.get("from", ""),
        mail_to=tuple(config.get("to", ())),
        apprise_urls=tuple(hidden.get("apprise_urls", ())),
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
        headers=headers,
    )


def public_method(m: Method) -> dict[str, Any]:
    """The method as GET shows it: Nezha's fields, Heron's additions, every secret masked."""
    out: dict[str, Any] = {
        "id": m.id,
        "created_at": m.created_at.isoformat() if m.created_at else None,
        "updated_at": m.updated_at.isoformat() if m.updated_at else None,
        "name": m.name,
        "kind": m.kind,
        "url": mask_url(m.url),
        "request_method": m.request_method,
        "request_type": m.request_type,
        "request_header": orjson.dumps({k: MASK for k in m.headers}).decode() if m.headers else "",
        "request_body": m.request_body,
        "verify_tls": m.verify_tls,
        "format_metric_units": m.format_metric_units,
        "preset": m.preset,
        "subject": m.subject,
        "owner_id": m.owner_id,
    }
    if m.kind == "email":
        out.update(
            smtp_host=m.smtp_host,
            smtp_port=m.smtp_port,
            smtp_security=m.smtp_security,
            smtp_username=m.smtp_username,
            smtp_password=MASK if m.smtp_password else "",
            **{"from": m.mail_from, "to": list(m.mail_to)},
        )
    if m.kind == "apprise":
        out["apprise_urls"] = [mask_apprise(u) for u in m.apprise_urls]
    return out


def _fill(row: Notification, m: Method) -> None:
    row.name, row.kind, row.url = m.name, m.kind, m.url
    row.request_method, row.request_type = m.request_method, m.request_type
    row.request_header, row.request_body = m.request_header, m.request_body
    row.verify_tls, row.format_metric_units, row.preset = m.verify_tls, m.format_metric_units, m.preset
    row.config = orjson.dumps(
        {
            "subject": m.subject,
            "smtp_host": m.smtp_host,
            "smtp_port": m.smtp_port,
            "smtp_security": m.smtp_security,
            "smtp_username": m.smtp_username,
            "from": m.mail_from,
            "to": list(m.mail_to),
        }
    ).decode()
    row.secrets = orjson.dumps({"smtp_password": m.smtp_password, "apprise_urls": list(m.apprise_urls)}).decode()


class MethodStore:
    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta

    def visible(self, principal: Principal) -> list[Method]:
        with self._meta.session() as s:
            query = select(Notification).order_by(Notification.id)
            if not principal.is_admin:
                query = query.where(Notification.owner_id == principal.user_id)
            return [method_from_row(r) for r in s.scalars(query)]

    def all(self) -> dict[int, Method]:
        with self._meta.session() as s:
            return {r.id: method_from_row(r) for r in s.scalars(select(Notification))}

    def get(self, principal: Principal, method_id: int, action: Action = Action.READ) -> Method:
        with self._meta.session() as s:
            row = s.get(Notification, method_id)
            if row is None:
                raise NotFound(f"no notification method with id {method_id}")
            require(principal, action, Resource("notification", owner_id=row.owner_id))
            return method_from_row(row)

    def create(self, principal: Principal, m: Method) -> Method:
        require(principal, Action.CREATE, Resource("notification"))
        with self._meta.session() as s:
            row = Notification(owner_id=principal.user_id or None)
            _fill(row, m)
            s.add(row)
            s.flush()
            return method_from_row(row)

    def update(self, principal: Principal, m: Method) -> Method:
        with self._meta.session() as s:
            row = s.get(Notification, m.id)
            if row is None:
                raise NotFound(f"no notification method with id {m.id}")
            require(principal, Action.UPDATE, Resource("notification", owner_id=row.owner_id))
            _fill(row, m)
            row.updated_at = datetime.now(UTC)
            s.flush()
            return method_from_row(row)

    def delete(self, principal: Principal, ids: list[int]) -> list[int]:
        with self._meta.session() as s:
            rows = {r.id: r for r in s.scalars(select(Notification).where(Notification.id.in_(ids)))} if ids else {}
            missing = [i for i in ids if i not in rows]
            if missing:
                raise NotFound(f"no notification method with id {', '.join(map(str, missing))}")
            for row in rows.values():
                require(principal, Action.DELETE, Resource("notification", owner_id=row.owner_id))
            s.execute(delete(Notification).where(Notification.id.in_(ids)))
        self._meta.touched(Notification.__tablename__)
        return ids
