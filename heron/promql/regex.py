"""Prometheus's regular expressions (Go's RE2 syntax) in Python's ``re``.

DuckDB matches label values with RE2 itself; Python matches metric names, absent labels and
``label_replace``. The two dialects differ where Prometheus's own tests go: RE2 takes flags
such as ``(?i)`` anywhere, applying to the rest of the enclosing group, while Python takes
them only at the very start. :func:`compile_full` rewrites every such flag into a scoped
group, ``(?i:...)``, reopened after each ``|`` of the same group, and anchors the whole
expression as Prometheus does (``^(?s:...)$``).
"""

from __future__ import annotations

import functools
import re

_FLAGS = re.compile(r"\(\?([imsx]*(?:-[imsx]+)?)\)")
_NAMED = re.compile(r"\(\?<(?![=!])")


def scoped_flags(pattern: str) -> str:
    """``pattern`` with each inline flag group turned into a scoped one."""
    out: list[str] = []
    levels: list[list[str]] = [[]]  # per group level: the flag sets opened in it
    i = 0
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if pattern[i : i + 1] == "^":
                out.append("^")
                i += 1
            if pattern[i : i + 1] == "]":
                out.append("]")
                i += 1
            continue
        if c == "(":
            flags = _FLAGS.match(pattern, i)
            if flags is not None and flags.group(1):
                out.append(f"(?{flags.group(1)}:")
                levels[-1].append(flags.group(1))
                i = flags.end()
                continue
            levels.append([])
            out.append(c)
            i += 1
            continue
        if c == ")" and len(levels) > 1:
            out.append(")" * len(levels.pop()))
            out.append(")")
            i += 1
            continue
        if c == "|" and levels[-1]:
            out.append(")" * len(levels[-1]) + "|" + "".join(f"(?{f}:" for f in levels[-1]))
            i += 1
            continue
        out.append(c)
        i += 1
    out.append(")" * len(levels[0]))
    return _NAMED.sub("(?P<", "".join(out))


@functools.lru_cache(maxsize=1024)
def compile_full(pattern: str) -> re.Pattern[str]:
    """An anchored, dot-matches-newline regex for ``pattern`` (raises ``re.error``)."""
    return re.compile(f"(?s:{scoped_flags(pattern)})\\Z")
