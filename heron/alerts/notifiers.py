"""Sending one message to one notification method: webhook, SMTP, apprise.

Each sender takes the method and the alerts of one group (their outbox payloads) and returns
a :class:`Answer`: whether the far end accepted it, its status and what it said (secrets
scrubbed). Senders never raise for a far end that fails; the outbox records the answer and
tries again later. Nothing here writes to the log: answers are stored with the attempt.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Protocol

import httpx
import orjson

from heron.alerts.methods import METHOD_GET, TYPE_FORM, Method, scrub
from heron.alerts.templates import TemplateFailed, nezha_placeholders, render

#: How long one delivery may take before it counts as failed.
SEND_TIMEOUT_SECONDS = 10.0
#: Longest answer text kept with an attempt.
MAX_ANSWER_CHARS = 2000
#: What the User-Agent of webhooks says.
USER_AGENT = "Heron-Alerts"

# Apprise logs each send, with hosts and sometimes more; its reasons are captured per call
# (``apprise.LogCapture``) and stored scrubbed with the attempt instead.
logging.getLogger("apprise").propagate = False
# httpx logs every request with its full URL at INFO; a webhook URL often holds a key.
logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class Answer:
    ok: bool
    status_code: int = 0
    response: str = ""


class Notifier(Protocol):
    """Delivers one group of alerts to one method."""

    async def send(self, method: Method, alerts: Sequence[Mapping[str, Any]], *, key: str) -> Answer: ...


def _iso(value: Any) -> str:
    return str(value or "")


def group_context(alerts: Sequence[Mapping[str, Any]], *, external_url: str = "") -> dict[str, Any]:
    """What templates see for a group: its alerts, the common labels, the first alert's server."""
    first = alerts[0]
    status = "firing" if any(a["state"] == "firing" for a in alerts) else "resolved"
    common = dict(first.get("labels") or {})
    for a in alerts[1:]:
        labels = a.get("labels") or {}
        common = {k: v for k, v in common.items() if labels.get(k) == v}
    return {
        "status": status,
        "message": "\n".join(str(a.get("message", "")) for a in alerts),
        "alerts": [dict(a) for a in alerts],
        "labels": dict(first.get("labels") or {}),
        "annotations": dict(first.get("annotations") or {}),
        "common_labels": common,
        "value": first.get("value"),
        "server": first.get("server") or {},
        "rule": {"id": first.get("rule_id"), "name": first.get("rule_name", "")},
        "severity": first.get("severity", ""),
        "datetime": _iso(first.get("at")),
        "external_url": external_url,
    }


def alertmanager_alert(a: Mapping[str, Any], *, generator_url: str = "") -> dict[str, Any]:
    """One alert in Alertmanager's shape (its webhook payload and ``/api/v2/alerts``)."""
    resolved = a["state"] == "resolved"
    return {
        "status": "resolved" if resolved else "firing",
        "labels": dict(a.get("labels") or {}),
        "annotations": dict(a.get("annotations") or {}),
        "startsAt": _iso(a.get("fired_at") or a.get("started_at")),
        "endsAt": _iso(a.get("resolved_at")) if resolved else "0001-01-01T00:00:00Z",
        "generatorURL": generator_url,
        "fingerprint": str(a.get("fingerprint", "")),
    }


def alertmanager_webhook(alerts: Sequence[Mapping[str, Any]], *, receiver: str, key: str) -> dict[str, Any]:
    """Alertmanager's webhook payload (version 4), so receivers written for it work unchanged."""
    ctx = group_context(alerts)
    common_annotations = dict(alerts[0].get("annotations") or {})
    for a in alerts[1:]:
        ann = a.get("annotations") or {}
        common_annotations = {k: v for k, v in common_annotations.items() if ann.get(k) == v}
    return {
        "version": "4",
        "groupKey": key,
        "truncatedAlerts": 0,
        "status": ctx["status"],
        "receiver": receiver,
        "groupLabels": ctx["common_labels"],
        "commonLabels": ctx["common_labels"],
        "commonAnnotations": common_annotations,
        "externalURL": "",
        "alerts": [alertmanager_alert(a) for a in alerts],
    }


def default_body(alerts: Sequence[Mapping[str, Any]]) -> str:
    """Heron's JSON body when a webhook has no template: the message and the alerts."""
    ctx = group_context(alerts)
    return orjson.dumps(
        {"status": ctx["status"], "message": ctx["message"], "alerts": [alertmanager_alert(a) for a in alerts]}
    ).decode()


def _placeholders(alerts: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    ctx = group_context(alerts)
    return nezha_placeholders(ctx["message"], ctx["datetime"], ctx["server"] or None)


def render_webhook(
    method: Method, alerts: Sequence[Mapping[str, Any]], *, key: str
) -> tuple[str, str, dict[str, str], bytes]:
    """(HTTP method, URL, headers, body) of a webhook for these alerts."""
    ctx = group_context(alerts)
    marks = _placeholders(alerts)
    url = render(method.url, ctx, field="url", escape="url", placeholders=marks, strict=False)
    headers = {"User-Agent": USER_AGENT, "Idempotency-Key": key}
    headers.update(method.headers)
    if method.request_method == METHOD_GET:
        return "GET", url, headers, b""
    if method.preset == "alertmanager":
        headers["Content-Type"] = "application/json"
        return "POST", url, headers, orjson.dumps(alertmanager_webhook(alerts, receiver=method.name, key=key))
    if method.request_type == TYPE_FORM:
        form = orjson.loads(method.request_body) if method.request_body.strip() else {"message": "#NEZHA#"}
        pairs = {
            k: render(str(v), ctx, field=f"request_body.{k}", placeholders=marks, strict=False) for k, v in form.items()
        }
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return "POST", url, headers, urllib.parse.urlencode(pairs).encode()
    text = (
        render(method.request_body, ctx, field="request_body", escape="json", placeholders=marks, strict=False)
        if method.request_body.strip()
        else default_body(alerts)
    )
    headers["Content-Type"] = "application/json"
    return "POST", url, headers, text.encode()


class WebhookNotifier:
    def __init__(self) -> None:
        self._clients: dict[bool, httpx.AsyncClient] = {}

    def _client(self, verify: bool) -> httpx.AsyncClient:
        client = self._clients.get(verify)
        if client is None:
            client = httpx.AsyncClient(verify=verify, timeout=SEND_TIMEOUT_SECONDS, follow_redirects=False)
            self._clients[verify] = client
        return client

    async def send(self, method: Method, alerts: Sequence[Mapping[str, Any]], *, key: str) -> Answer:
        secrets = method.secrets()
        try:
            verb, url, headers, body = render_webhook(method, alerts, key=key)
            response = await self._client(method.verify_tls).request(verb, url, headers=headers, content=body)
        except TemplateFailed as exc:
            return Answer(False, 0, exc.message)
        except httpx.HTTPError as exc:
            return Answer(False, 0, scrub(f"{type(exc).__name__}: {exc}", secrets)[:MAX_ANSWER_CHARS])
        text = scrub(response.text[:MAX_ANSWER_CHARS], secrets)
        return Answer(200 <= response.status_code < 300, response.status_code, text)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


def _smtp(method: Method) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if not method.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if method.smtp_security == "tls":
        conn: smtplib.SMTP = smtplib.SMTP_SSL(
            method.smtp_host, method.smtp_port, timeout=SEND_TIMEOUT_SECONDS, context=context
        )
    else:
        conn = smtplib.SMTP(method.smtp_host, method.smtp_port, timeout=SEND_TIMEOUT_SECONDS)
        conn.ehlo()
        if method.smtp_security == "starttls":
            conn.starttls(context=context)
            conn.ehlo()
    if method.smtp_username:
        conn.login(method.smtp_username, method.smtp_password)
    return conn


def check_smtp(method: Method) -> Answer:
    """Connect, say hello, start TLS and log in as configured, without sending anything."""
    try:
        conn = _smtp(method)
        code, reply = conn.noop()
        conn.quit()
        return Answer(True, code, reply.decode("utf-8", "replace")[:MAX_ANSWER_CHARS])
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        return Answer(False, getattr(exc, "smtp_code", 0), scrub(f"{type(exc).__name__}: {exc}", method.secrets()))


def _mail(method: Method, alerts: Sequence[Mapping[str, Any]], key: str) -> EmailMessage:
    ctx = group_context(alerts)
    marks = _placeholders(alerts)
    default_subject = f"[{ctx['status'].upper()}] {ctx['labels'].get('alertname', 'Heron alert')}"
    subject = (
        render(method.subject, ctx, field="subject", placeholders=marks, strict=False)
        if method.subject
        else default_subject
    )
    text = (
        render(method.request_body, ctx, field="request_body", placeholders=marks, strict=False)
        if method.request_body.strip()
        else ctx["message"]
    )
    msg = EmailMessage()
    msg["Subject"] = subject.replace("\n", " ")[:998]
    msg["From"] = method.mail_from
    msg["To"] = ", ".join(method.mail_to)
    msg["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    msg["Message-ID"] = f"<{key}@heron>"
    msg.set_content(text)
    return msg


def send_mail(method: Method, alerts: Sequence[Mapping[str, Any]], *, key: str) -> Answer:
    """Send one mail (blocking: run it in a thread)."""
    try:
        msg = _mail(method, alerts, key)
        conn = _smtp(method)
        try:
            refused = conn.send_message(msg)
        finally:
            conn.quit()
    except TemplateFailed as exc:
        return Answer(False, 0, exc.message)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        return Answer(False, getattr(exc, "smtp_code", 0), scrub(f"{type(exc).__name__}: {exc}", method.secrets()))
    if refused:
        return Answer(False, 550, f"refused recipients: {', '.join(refused)}")
    return Answer(True, 250, f"accepted for {len(method.mail_to)} recipient(s)")


class EmailNotifier:
    async def send(self, method: Method, alerts: Sequence[Mapping[str, Any]], *, key: str) -> Answer:
        return await asyncio.to_thread(send_mail, method, alerts, key=key)


def send_apprise(method: Method, alerts: Sequence[Mapping[str, Any]], *, key: str) -> Answer:
    """Notify every apprise URL of the method (blocking: run it in a thread)."""
    import apprise

    ctx = group_context(alerts)
    marks = _placeholders(alerts)
    try:
        title = (
            render(method.subject, ctx, field="subject", placeholders=marks, strict=False)
            if method.subject
            else f"[{ctx['status'].upper()}] {ctx['labels'].get('alertname', 'Heron alert')}"
        )
        body = (
            render(method.request_body, ctx, field="request_body", placeholders=marks, strict=False)
            if method.request_body.strip()
            else ctx["message"]
        )
    except TemplateFailed as exc:
        return Answer(False, 0, exc.message)
    sender = apprise.Apprise()
    for url in method.apprise_urls:
        sender.add(url)
    with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        ok = bool(sender.notify(body=body or title, title=title))
        said = captured.getvalue()
    text = scrub(str(said).strip(), method.secrets())[:MAX_ANSWER_CHARS]
    return Answer(ok, 0, text or ("delivered" if ok else "apprise reported a failure"))


class AppriseNotifier:
    async def send(self, method: Method, alerts: Sequence[Mapping[str, Any]], *, key: str) -> Answer:
        return await asyncio.to_thread(send_apprise, method, alerts, key=key)


class Senders:
    """The notifier of each method kind."""

    def __init__(self) -> None:
        self.webhook = WebhookNotifier()
        self.by_kind: dict[str, Notifier] = {
            "webhook": self.webhook,
            "email": EmailNotifier(),
            "apprise": AppriseNotifier(),
        }

    async def send(self, method: Method, alerts: Sequence[Mapping[str, Any]], *, key: str) -> Answer:
        return await self.by_kind[method.kind].send(method, alerts, key=key)

    async def close(self) -> None:
        await self.webhook.close()


def test_alert(method: Method) -> dict[str, Any]:
    """The payload of a test message (``POST /api/v1/notification/{id}/test``)."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "event_id": 0,
        "state": "firing",
        "rule_id": 0,
        "rule_name": "test",
        "severity": "info",
        "labels": {"alertname": "HeronTest", "notification": method.name},
        "annotations": {"summary": "a test message from Heron"},
        "value": None,
        "message": f"[Test] a test message from Heron to {method.name}",
        "server": None,
        "fingerprint": "test",
        "started_at": now,
        "fired_at": now,
        "at": now,
    }
