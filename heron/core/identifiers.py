"""The one rule for names that become columns or tables: tables, tags, fields and labels.

Every push protocol ends in DuckDB tables whose columns are named by what clients send, so
a name the store cannot hold must be refused before it is acknowledged: once it is in the
write-ahead log, it has been promised. What the store needs, and why:

* **Not empty.** DuckDB has no empty column name; Arrow's scan renames it to ``v1``.
* **No control characters** (U+0000-U+001F, U+007F-U+009F). DuckDB keeps a column name
  with a NUL in it but Arrow hands the name over as a C string, so the rows can never be
  inserted; the others are refused with it because no client sends them on purpose and
  they make a name unprintable in every error message and in ``SHOW TABLES``.
* **Valid UTF-8** (no lone surrogates, which a Python string may carry but UTF-8 cannot).
* **At most** :data:`MAX_NAME_CHARS` **characters.** InfluxDB allows 64 KiB; a column
  named by 70,000 characters is a mistake, not a schema (VictoriaMetrics' default limit on
  label names is 256 as well).
* **Distinct ignoring case within one point.** DuckDB compares names ignoring ASCII case,
  so ``Host`` and ``host`` in one point would be one column holding two values.

Each protocol applies the rule with its own dialect's error semantics (a line rejected, an
item counted as failed, a series dropped); the writer checks it again before logging, so a
parser that missed a case fails a request instead of wedging the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MAX_NAME_CHARS", "case_clash", "has_control", "name_problem", "printable", "show"]

#: Longest table, tag, field or label name accepted, in characters.
MAX_NAME_CHARS = 256

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a table or column, in words; ``None`` when it can.

    The reason reads after the name in a message: ``tag key 'a\\x00b' <reason>``.
    """
    if not name:
        return "is empty"
    if len(name) > MAX_NAME_CHARS:
        return f"is {len(name)} characters long; at most {MAX_NAME_CHARS} are allowed"
    bad = _CONTROL.search(name)
    if bad is not None:
        char = bad[0]
        if "\ud800" <= char <= "\udfff":
            return f"is not valid UTF-8 (a lone surrogate at character {bad.start() + 1})"
        return f"contains the control character U+{ord(char):04X} at character {bad.start() + 1}"
    return None


def has_control(text: str) -> bool:
    """Whether ``text`` holds a character no name may hold (a quick test over a whole line)."""
    return _CONTROL.search(text) is not None


def case_clash(names: Iterable[str]) -> tuple[str, str] | None:
    """The first two of ``names`` that are one column in the store (equal ignoring case)."""
    seen: dict[str, str] = {}
    for name in names:
        low = name.lower()
        first = seen.setdefault(low, name)
        if first != name:
            return first, name
    return None


def printable(name: str, limit: int = 40) -> str:
    """``name`` for a message: control characters escaped (``\\x00``), long names cut short."""
    text = name if len(name) <= limit else name[:limit] + "…"
    return _CONTROL.sub(lambda m: m[0].encode("unicode_escape", "backslashreplace").decode("ascii"), text)


def show(name: str, limit: int = 40) -> str:
    """``name`` quoted for an error message (see :func:`printable`)."""
    return f"'{printable(name, limit)}'"
