"""The statements besides SELECT that ``/api/v1/sql`` accepts, in CnosDB's syntax.

::

    CREATE DATABASE [IF NOT EXISTS] name
        [WITH TTL 'duration' [SHARD n] [VNODE_DURATION 'd'] [REPLICA n] [PRECISION 'p']]
    ALTER DATABASE name SET TTL 'duration'
    ALTER DATABASE name SET ROLLUPS 'interval:ttl[,interval:ttl...]'   (Heron; '' removes them)
    DROP DATABASE [IF EXISTS] name
    DROP TABLE [IF EXISTS] name
    SHOW DATABASES
    SHOW TABLES
    DESCRIBE TABLE name        (also DESC)
    DESCRIBE DATABASE name

SHARD, VNODE_DURATION, REPLICA and PRECISION are accepted for compatibility and have no
effect: Heron keeps one copy in one file and stores time in nanoseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = r'(?:"(?P<q{n}>[^"]+)"|(?P<n{n}>[A-Za-z_][A-Za-z0-9_\-]*))'


def _name(n: int) -> str:
    return _NAME.format(n=n)


_OPTION = r"(?:TTL\s+'(?P<ttl>[^']*)'|SHARD\s+\d+|VNODE_DURATION\s+'[^']*'|REPLICA\s+\d+|PRECISION\s+'[^']*')"
_PATTERNS = {
    "create": re.compile(
        rf"^CREATE\s+DATABASE\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?{_name(1)}(?:\s+WITH(?P<opts>(?:\s+{_OPTION})+))?$",
        re.I | re.S,
    ),
    "alter": re.compile(rf"^ALTER\s+DATABASE\s+{_name(1)}\s+SET\s+TTL\s+'(?P<ttl>[^']*)'$", re.I | re.S),
    "alter_rollups": re.compile(
        rf"^ALTER\s+DATABASE\s+{_name(1)}\s+SET\s+ROLLUPS\s+'(?P<rollups>[^']*)'$", re.I | re.S
    ),
    "drop": re.compile(rf"^DROP\s+DATABASE\s+(?P<ie>IF\s+EXISTS\s+)?{_name(1)}$", re.I | re.S),
    "drop_table": re.compile(rf"^DROP\s+TABLE\s+(?P<ie>IF\s+EXISTS\s+)?{_name(1)}$", re.I | re.S),
    "show_databases": re.compile(r"^SHOW\s+DATABASES$", re.I),
    "show_tables": re.compile(r"^SHOW\s+TABLES$", re.I),
    "describe_table": re.compile(rf"^DESC(?:RIBE)?\s+TABLE\s+{_name(1)}$", re.I | re.S),
    "describe_database": re.compile(rf"^DESC(?:RIBE)?\s+DATABASE\s+{_name(1)}$", re.I | re.S),
}
_TTL_IN_OPTS = re.compile(r"TTL\s+'([^']*)'", re.I)
_KEYWORDS = re.compile(r"^\s*(CREATE|ALTER|DROP|SHOW|DESC|DESCRIBE)\b", re.I)


@dataclass(frozen=True, slots=True)
class Statement:
    """A parsed catalog statement: ``kind`` is a key of the patterns above."""

    kind: str
    name: str = ""
    ttl: str | None = None
    rollups: str | None = None
    if_not_exists: bool = False
    if_exists: bool = False


def looks_like_catalog_statement(sql: str) -> bool:
    """True for SQL that starts like one of the catalog statements (so SELECTs skip the regexes)."""
    return bool(_KEYWORDS.match(sql))


def parse_catalog_statement(sql: str) -> Statement | None:
    """Parse one catalog statement, or return None when ``sql`` is not one of them."""
    text = sql.strip().rstrip(";").strip()
    for kind, pattern in _PATTERNS.items():
        m = pattern.match(text)
        if not m:
            continue
        groups = m.groupdict()
        name = groups.get("q1") or groups.get("n1") or ""
        ttl = groups.get("ttl")
        if kind == "create" and groups.get("opts"):
            found = _TTL_IN_OPTS.search(groups["opts"])
            ttl = found.group(1) if found else None
        return Statement(
            kind=kind,
            name=name,
            ttl=ttl,
            rollups=groups.get("rollups"),
            if_not_exists=bool(groups.get("ine")),
            if_exists=bool(groups.get("ie")),
        )
    return None
