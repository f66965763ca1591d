"""Message templates: Jinja2 in its sandbox, and Nezha's ``#NEZHA#`` placeholders.

A template is rendered by :class:`jinja2.sandbox.SandboxedEnvironment` (no attribute of an
object that could reach Python's internals, no file access, a bounded output), then Nezha's
placeholders are replaced, each value escaped for where it lands: JSON string content in a
JSON body, URL-encoded in a URL, as is in a form or mail. The placeholders:

``#NEZHA#`` the message, ``#DATETIME#`` the time of the event; for server alerts
``#SERVER.NAME#``, ``#SERVER.ID#``, ``#SERVER.IP#``, ``#SERVER.IPV4#``, ``#SERVER.IPV6#``,
``#SERVER.CPU#``, ``#SERVER.MEM#``, ``#SERVER.SWAP#``, ``#SERVER.DISK#`` (percent),
``#SERVER.SPEEDIN#``, ``#SERVER.SPEEDOUT#``, ``#SERVER.TRANSFERIN#``, ``#SERVER.TRANSFEROUT#``
(human units), and the raw numbers ``#SERVER.CPUUSED#``, ``#SERVER.MEMUSED#``,
``#SERVER.SWAPUSED#``, ``#SERVER.DISKUSED#``, ``#SERVER.MEMTOTAL#``, ``#SERVER.SWAPTOTAL#``,
``#SERVER.DISKTOTAL#``, ``#SERVER.NETINSPEED#``, ``#SERVER.NETOUTSPEED#``,
``#SERVER.NETINTRANSFER#``, ``#SERVER.NETOUTTRANSFER#``, ``#SERVER.LOAD1#``, ``#SERVER.LOAD5#``,
``#SERVER.LOAD15#``, ``#SERVER.TCPCONNCOUNT#``, ``#SERVER.UDPCONNCOUNT#``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from heron.core.errors import BadRequest

#: Longest text a template may produce.
MAX_RENDERED_CHARS = 256 * 1024
MAX_TEMPLATE_CHARS = 64 * 1024

_ENV = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)
_LENIENT = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


class TemplateFailed(BadRequest):
    """A template that does not compile or does not render; names the field."""

    code = "template_failed"


def _escape_for(kind: str) -> Callable[[str], str]:
    if kind == "json":
        return lambda s: orjson.dumps(s).decode()[1:-1]
    if kind == "url":
        return lambda s: urllib.parse.quote_plus(s)
    return lambda s: s


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.2f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.2f} TiB"


def _pct(used: float, total: float) -> str:
    return f"{used * 100.0 / total:.2f}%" if total else "0.00%"


def nezha_placeholders(message: str, at: str, server: Mapping[str, Any] | None) -> dict[str, str]:
    """The values of Nezha's placeholders for one message."""
    values = {"#NEZHA#": message, "#DATETIME#": at}
    if not server:
        return values
    status: Mapping[str, Any] = server.get("status") or {}
    host: Mapping[str, Any] = server.get("host") or {}
    ipv4, ipv6 = str(host.get("IPv4") or ""), str(host.get("IPv6") or "")

    def num(key: str) -> float:
        return float(status.get(key) or 0)

    def hnum(key: str) -> float:
        return float(host.get(key) or 0)

    values.update(
        {
            "#SERVER.NAME#": str(server.get("name", "")),
            "#SERVER.ID#": str(server.get("id", "")),
            "#SERVER.IP#": ipv4 or ipv6,
            "#SERVER.IPV4#": ipv4,
            "#SERVER.IPV6#": ipv6,
            "#SERVER.CPU#": f"{num('CPU'):.2f}%",
            "#SERVER.MEM#": _pct(num("MemUsed"), hnum("MemTotal")),
            "#SERVER.SWAP#": _pct(num("SwapUsed"), hnum("SwapTotal")),
            "#SERVER.DISK#": _pct(num("DiskUsed"), hnum("DiskTotal")),
            "#SERVER.SPEEDIN#": _size(num("NetInSpeed")) + "/s",
            "#SERVER.SPEEDOUT#": _size(num("NetOutSpeed")) + "/s",
            "#SERVER.TRANSFERIN#": _size(num("NetInTransfer")),
            "#SERVER.TRANSFEROUT#": _size(num("NetOutTransfer")),
            "#SERVER.CPUUSED#": f"{num('CPU'):f}",
            "#SERVER.MEMUSED#": str(int(num("MemUsed"))),
            "#SERVER.SWAPUSED#": str(int(num("SwapUsed"))),
            "#SERVER.DISKUSED#": str(int(num("DiskUsed"))),
            "#SERVER.MEMTOTAL#": str(int(hnum("MemTotal"))),
            "#SERVER.SWAPTOTAL#": str(int(hnum("SwapTotal"))),
            "#SERVER.DISKTOTAL#": str(int(hnum("DiskTotal"))),
            "#SERVER.NETINSPEED#": str(int(num("NetInSpeed"))),
            "#SERVER.NETOUTSPEED#": str(int(num("NetOutSpeed"))),
            "#SERVER.NETINTRANSFER#": str(int(num("NetInTransfer"))),
            "#SERVER.NETOUTTRANSFER#": str(int(num("NetOutTransfer"))),
            "#SERVER.LOAD1#": f"{num('Load1'):f}",
            "#SERVER.LOAD5#": f"{num('Load5'):f}",
            "#SERVER.LOAD15#": f"{num('Load15'):f}",
            "#SERVER.TCPCONNCOUNT#": str(int(num("TcpConnCount"))),
            "#SERVER.UDPCONNCOUNT#": str(int(num("UdpConnCount"))),
        }
    )
    return values


def check_template(text: str, *, field: str) -> None:
    """Compile ``text``; a syntax error is a 400 naming ``field`` and the line."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateFailed(f"{field}: the template is longer than {MAX_TEMPLATE_CHARS} characters")
    try:
        _ENV.parse(text)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise TemplateFailed(f"{field}: the template does not compile (line {line}): {exc}") from None


def render(
    text: str,
    context: Mapping[str, Any],
    *,
    field: str,
    escape: str = "none",
    placeholders: Mapping[str, str] | None = None,
    strict: bool = True,
) -> str:
    """Render ``text`` in the sandbox, then replace Nezha's placeholders escaped as ``escape``.

    ``strict`` makes an undefined name an error (used when a template is saved, with a
    sample context); delivery renders leniently so a label missing from one alert does not
    stop the message.
    """
    if "{{" in text or "{%" in text or "{#" in text:
        try:
            out = (_ENV if strict else _LENIENT).from_string(text).render(**context)
        except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise TemplateFailed(f"{field}: the template does not render: {exc}") from None
    else:
        out = text
    if placeholders and "#" in out:
        esc = _escape_for(escape)
        for key, value in placeholders.items():
            if key in out:
                out = out.replace(key, esc(value))
    if len(out) > MAX_RENDERED_CHARS:
        raise TemplateFailed(f"{field}: the rendered text is longer than {MAX_RENDERED_CHARS} characters")
    return out
