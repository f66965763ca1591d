"""Prometheus's label and annotation templates (Go's text/template), run by Heron's sandbox.

PromQL rules keep their templates as Prometheus writes them, ``{{ $labels.instance }}`` and
``{{ $value | humanize }}``, so a rule file imported from Prometheus means the same here and
exports back unchanged. To render, a template is translated once into the Jinja2 that
:mod:`heron.alerts.templates` runs in its sandbox:

* ``$labels``, ``$value``, ``$externalLabels``, ``$externalURL`` (and ``.Labels``, ``.Value``)
  become the context's ``labels``, ``value``, ``external_labels``, ``external_url``;
* a command ``f a b`` becomes ``go_f(a, b)``; a pipeline ``x | f a`` passes ``x`` as the last
  argument, as Go does: ``go_f(a, x)``;
* ``if``/``else if``/``else``/``end`` become Jinja's ``if`` blocks.

The functions are Prometheus's formatting helpers (``humanize``, ``humanize1024``,
``humanizePercentage``, ``humanizeDuration``, ``humanizeTimestamp``, ``printf``,
``toUpper``, ``toLower``, ``title``), Go's comparisons and ``index``/``len``. Anything else
(``range``, ``with``, ``define``, ``query``) is refused when the rule is saved, naming the
field, rather than rendering differently from Prometheus.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from heron.alerts.templates import TemplateFailed

_ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.S)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<raw>`[^`]*`)
      | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<var>\$[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*|\$)
      | (?P<field>(?:\.[A-Za-z_]\w*)+|\.)
      | (?P<ident>[A-Za-z_]\w*)
      | (?P<pipe>\|)
      | (?P<lparen>\()
      | (?P<rparen>\))
    )""",
    re.X,
)
_VARIABLES = {
    "$labels": "labels",
    "$value": "value",
    "$externalLabels": "external_labels",
    "$externalURL": "external_url",
    ".Labels": "labels",
    ".Value": "value",
    ".ExternalLabels": "external_labels",
    ".ExternalURL": "external_url",
}
_CONSTANTS = {"true": "true", "false": "false", "nil": "none"}
_SI = ["", "k", "M", "G", "T", "P", "E", "Z", "Y"]
_SI_SMALL = ["", "m", "µ", "n", "p", "f", "a", "z", "y"]
_IEC = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"]


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise TemplateFailed(f"expected a number, got {v!r}") from None


def _g4(v: float) -> str:
    return f"{v:.4g}"


def humanize(v: Any) -> str:
    """A number with an SI prefix: 1234567 -> 1.235M, 0.0012 -> 1.2m."""
    x = _num(v)
    if x == 0 or not math.isfinite(x):
        return _g4(x)
    prefixes = _SI if abs(x) >= 1 else _SI_SMALL
    step = 1000.0 if abs(x) >= 1 else 1 / 1000.0
    i = 0
    while i < len(prefixes) - 1 and (abs(x) >= 1000 if abs(x) >= 1 else abs(x) < 1):
        x /= step
        i += 1
    return _g4(x) + prefixes[i]


def humanize1024(v: Any) -> str:
    """A number with a binary prefix: 1048576 -> 1Mi."""
    x = _num(v)
    if abs(x) < 1 or not math.isfinite(x):
        return _g4(x)
    i = 0
    while i < len(_IEC) - 1 and abs(x) >= 1024:
        x /= 1024
        i += 1
    return _g4(x) + _IEC[i]


def humanize_percentage(v: Any) -> str:
    """A ratio as a percentage: 0.123 -> 12.3%."""
    return _g4(_num(v) * 100) + "%"


def humanize_duration(v: Any) -> str:
    """Seconds as days, hours, minutes and seconds: 3725 -> 1h 2m 5s; 0.25 -> 250ms."""
    x = _num(v)
    if not math.isfinite(x):
        return _g4(x)
    if x == 0:
        return "0s"
    sign = "-" if x < 0 else ""
    x = abs(x)
    if x < 1:
        for unit, scale in (("ms", 1e3), ("us", 1e6), ("ns", 1e9)):
            if x * scale >= 1 or unit == "ns":
                return f"{sign}{_g4(x * scale)}{unit}"
    whole = int(x)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, _ = divmod(rest, 60)
    seconds = x - days * 86_400 - hours * 3_600 - minutes * 60
    parts = []
    if days:
        parts.append(f"{days}d")
    if days or hours:
        parts.append(f"{hours}h")
    if days or hours or minutes:
        parts.append(f"{minutes}m")
    parts.append(f"{_g4(seconds)}s")
    return sign + " ".join(parts)


def humanize_timestamp(v: Any) -> str:
    """Unix seconds as a UTC time."""
    x = _num(v)
    if not math.isfinite(x):
        return _g4(x)
    return datetime.fromtimestamp(x, UTC).strftime("%Y-%m-%d %H:%M:%S.%f %z UTC").replace(".000000", "")


def printf(fmt: Any, *args: Any) -> str:
    """Go's fmt.Sprintf for the common verbs (%s %d %f %g %e %x %q %v and widths)."""
    text = str(fmt).replace("%v", "%s").replace("%q", '"%s"')
    try:
        return text % tuple(args)
    except (TypeError, ValueError) as exc:
        raise TemplateFailed(f"printf {fmt!r}: {exc}") from None


def _index(collection: Any, *keys: Any) -> Any:
    for key in keys:
        collection = collection[key] if isinstance(collection, Mapping) else collection[int(key)]
    return collection


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def run(a: Any, b: Any) -> bool:
        if isinstance(a, int | float) and isinstance(b, int | float):
            return op(float(a), float(b))
        return op(a, b)

    return run


def _and(*args: Any) -> Any:
    for a in args:
        if not a:
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if a:
            return a
    return args[-1]


#: The functions a translated template may call, by their Go names.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "humanize": humanize,
    "humanize1024": humanize1024,
    "humanizePercentage": humanize_percentage,
    "humanizeDuration": humanize_duration,
    "humanizeTimestamp": humanize_timestamp,
    "printf": printf,
    "toUpper": lambda s: str(s).upper(),
    "toLower": lambda s: str(s).lower(),
    "title": lambda s: str(s).title(),
    "eq": _cmp(lambda a, b: a == b),
    "ne": _cmp(lambda a, b: a != b),
    "lt": _cmp(lambda a, b: a < b),
    "le": _cmp(lambda a, b: a <= b),
    "gt": _cmp(lambda a, b: a > b),
    "ge": _cmp(lambda a, b: a >= b),
    "and": _and,
    "or": _or,
    "not": lambda a: not a,
    "len": len,
    "index": _index,
}


def context_functions() -> dict[str, Callable[..., Any]]:
    """What a rendering context holds for translated templates (``go_<name>``)."""
    return {f"go_{name}": fn for name, fn in FUNCTIONS.items()}


class _Tokens:
    def __init__(self, text: str, field: str) -> None:
        self.items: list[tuple[str, str]] = []
        self.field = field
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise TemplateFailed(f"{field}: cannot read the template near {text[pos : pos + 20]!r}")
            kind = m.lastgroup or ""
            self.items.append((kind, m.group(kind)))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self) -> tuple[str, str]:
        item = self.items[self.pos]
        self.pos += 1
        return item


def _operand(kind: str, text: str, field: str) -> str:
    if kind == "str":
        return text
    if kind == "raw":
        return orjson.dumps(text[1:-1]).decode()
    if kind == "num":
        return text
    if kind in ("var", "field"):
        parts = text.split(".")
        head = parts[0] if kind == "var" else "." + parts[1]
        rest = parts[1:] if kind == "var" else parts[2:]
        if head not in _VARIABLES:
            raise TemplateFailed(
                f"{field}: unknown variable {text!r}; Prometheus rules know $labels, $value, $externalLabels"
            )
        out = _VARIABLES[head]
        for name in rest:
            out += f"[{orjson.dumps(name).decode()}]"
        return out
    if kind == "ident" and text in _CONSTANTS:
        return _CONSTANTS[text]
    raise TemplateFailed(f"{field}: unexpected {text!r} in the template")


def _command(tokens: _Tokens, piped: str | None, field: str) -> str:
    """One command of a pipeline: a function call or an operand."""
    args: list[str] = []
    name: str | None = None
    first = True
    while (item := tokens.peek()) is not None and item[0] not in ("pipe", "rparen"):
        kind, text = tokens.take()
        if kind == "lparen":
            args.append(_pipeline(tokens, field))
            if tokens.peek() is None or tokens.take()[0] != "rparen":
                raise TemplateFailed(f"{field}: a '(' is not closed")
        elif first and kind == "ident" and text not in _CONSTANTS:
            if text in ("labels", "value"):
                raise TemplateFailed(f"{field}: write ${text} in a PromQL rule's template, as Prometheus does")
            if text not in FUNCTIONS:
                raise TemplateFailed(
                    f"{field}: the function {text!r} is not supported (Heron knows {', '.join(sorted(FUNCTIONS))})"
                )
            name = text
        else:
            args.append(_operand(kind, text, field))
        first = False
    if piped is not None:
        args.append(piped)
    if name is not None:
        return f"go_{name}({', '.join(args)})"
    if len(args) != 1:
        raise TemplateFailed(f"{field}: expected one value or a function call in the template")
    return args[0]


def _pipeline(tokens: _Tokens, field: str) -> str:
    out = _command(tokens, None, field)
    while (item := tokens.peek()) is not None and item[0] == "pipe":
        tokens.take()
        out = _command(tokens, out, field)
    return out


def _literal(text: str) -> str:
    if not text:
        return ""
    if any(mark in text for mark in ("{%", "%}", "{#", "#}")):
        return "{{ " + orjson.dumps(text).decode() + " }}"
    return text


@lru_cache(maxsize=4096)
def to_jinja(text: str, field: str = "template") -> str:
    """The Jinja2 that renders ``text`` (a Go template) as Prometheus would; a 4xx naming ``field``."""
    out: list[str] = []
    blocks: list[str] = []
    pos = 0
    for m in _ACTION.finditer(text):
        out.append(_literal(text[pos : m.start()]))
        pos = m.end()
        left, body, right = m.group(1), m.group(2), m.group(3)
        stripped = body.strip()
        if stripped.startswith("/*"):
            if not stripped.endswith("*/"):
                raise TemplateFailed(f"{field}: a comment is not closed")
            out.append("{#" + left + " " + right + "#}")
            continue
        tokens = _Tokens(body, field)
        head = tokens.peek()
        keyword = head[1] if head is not None and head[0] == "ident" else ""
        if keyword == "if":
            tokens.take()
            blocks.append("if")
            out.append("{%" + left + " if " + _pipeline(tokens, field) + " " + right + "%}")
        elif keyword == "else":
            tokens.take()
            if not blocks:
                raise TemplateFailed(f"{field}: 'else' outside an 'if'")
            nxt = tokens.peek()
            if nxt is not None and nxt == ("ident", "if"):
                tokens.take()
                out.append("{%" + left + " elif " + _pipeline(tokens, field) + " " + right + "%}")
            else:
                out.append("{%" + left + " else " + right + "%}")
        elif keyword == "end":
            tokens.take()
            if not blocks:
                raise TemplateFailed(f"{field}: 'end' without an 'if'")
            blocks.pop()
            out.append("{%" + left + " endif " + right + "%}")
        elif keyword in ("range", "with", "define", "template", "block", "break", "continue"):
            raise TemplateFailed(f"{field}: the template action {keyword!r} is not supported")
        else:
            if head is None:
                raise TemplateFailed(f"{field}: an empty template action {{{{}}}}")
            out.append("{{" + left + " " + _pipeline(tokens, field) + " " + right + "}}")
        if tokens.peek() is not None:
            raise TemplateFailed(f"{field}: unexpected {tokens.peek()[1]!r} in the template")  # type: ignore[index]
    if blocks:
        raise TemplateFailed(f"{field}: an 'if' is not closed with {{{{ end }}}}")
    rest = text[pos:]
    if "{{" in rest:
        raise TemplateFailed(f"{field}: a '{{{{' is not closed")
    out.append(_literal(rest))
    return "".join(out)
