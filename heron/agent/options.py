"""What the agent's owner decided: capabilities allowed, directories served, interval, collectors.

Set by ``heron agent`` flags and mirrored in an optional TOML file (``--config``)::

    allow = ["exec", "terminal"]          # nothing by default
    files_roots = ["/var/log", "/srv"]    # what the file manager may touch (default: the home directory)
    interval = 3.0
    disabled_collectors = ["temperature"]

Flags win over the file. The server may change the interval and the disabled collectors,
and may *narrow* the allowed capabilities, never widen them (:meth:`AgentOptions.apply_remote`);
a change is written back to the file, when there is one, so it survives a restart.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heron.core.errors import HeronError

CAPABILITIES = ("exec", "terminal", "files", "nat")
#: Parts of the status report the owner may switch off (costly or not wanted on some hosts).
COLLECTORS = ("temperature", "connections", "processes")
MIN_INTERVAL_SECONDS = 0.05
MAX_INTERVAL_SECONDS = 3600.0
_FILE_KEYS = ("allow", "files_roots", "interval", "disabled_collectors")


def parse_allow(values: Iterable[str]) -> frozenset[str]:
    """Capabilities from ``--allow exec,terminal`` (repeatable, comma-separated)."""
    allowed = set()
    for value in values:
        for part in str(value).split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in CAPABILITIES:
                raise HeronError(f"--allow: unknown capability {name!r}; known: {', '.join(CAPABILITIES)}")
            allowed.add(name)
    return frozenset(allowed)


def _collectors(values: Iterable[str]) -> frozenset[str]:
    found = frozenset(str(v).strip().lower() for v in values if str(v).strip())
    unknown = sorted(found - set(COLLECTORS))
    if unknown:
        raise HeronError(f"unknown collector {unknown[0]!r}; known: {', '.join(COLLECTORS)}")
    return found


def _interval(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HeronError(f"interval must be a number of seconds, got {value!r}")
    if not MIN_INTERVAL_SECONDS <= float(value) <= MAX_INTERVAL_SECONDS:
        raise HeronError(f"interval must be between {MIN_INTERVAL_SECONDS:g} and {MAX_INTERVAL_SECONDS:g} s")
    return float(value)


def read_file(path: Path) -> dict[str, Any]:
    """The agent's TOML file (missing keys are simply absent)."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise HeronError(f"cannot read the agent config {path}: {exc}") from None
    unknown = sorted(set(data) - set(_FILE_KEYS))
    if unknown:
        raise HeronError(f"unknown key {unknown[0]!r} in {path}; known: {', '.join(_FILE_KEYS)}")
    return data


@dataclass
class AgentOptions:
    """The owner's choices, shared by the command channel and the collectors (changes under a lock)."""

    allow: frozenset[str] = frozenset()
    files_roots: tuple[Path, ...] = ()
    interval_seconds: float = 3.0
    disabled_collectors: frozenset[str] = frozenset()
    config_path: Path | None = None
    on_change: Callable[[AgentOptions], None] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(
        cls,
        *,
        allow: Iterable[str] | None,
        files_roots: Iterable[str] | None,
        interval_seconds: float | None,
        disabled_collectors: Iterable[str] | None,
        config_path: Path | None,
    ) -> AgentOptions:
        """Flags over the file over the defaults (nothing allowed, the home directory served)."""
        data = read_file(config_path) if config_path is not None else {}
        allowed = parse_allow(allow if allow is not None else data.get("allow", []))
        roots = list(files_roots) if files_roots else [str(r) for r in data.get("files_roots", [])]
        interval = interval_seconds if interval_seconds is not None else data.get("interval", 3.0)
        collectors = disabled_collectors if disabled_collectors is not None else data.get("disabled_collectors", [])
        return cls(
            allow=allowed,
            files_roots=resolve_roots(roots or [str(Path.home())]),
            interval_seconds=_interval(interval),
            disabled_collectors=_collectors(collectors),
            config_path=config_path,
        )

    def public(self) -> dict[str, Any]:
        """The settings the server may read (``GET /api/v1/server/config/{id}``)."""
        with self._lock:
            return {
                "allow": sorted(self.allow),
                "files_roots": [str(r) for r in self.files_roots],
                "interval": self.interval_seconds,
                "disabled_collectors": sorted(self.disabled_collectors),
                "config_file": str(self.config_path) if self.config_path else "",
            }

    def apply_remote(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a change from the server: interval, collectors, and a narrower ``allow`` only."""
        unknown = sorted(set(changes) - {"allow", "interval", "disabled_collectors"})
        if unknown:
            raise HeronError(
                f"the server may not change {unknown[0]!r}; it may change allow, interval, disabled_collectors"
            )
        with self._lock:
            allow = self.allow
            if "allow" in changes:
                raw = changes["allow"]
                if not isinstance(raw, list):
                    raise HeronError("allow must be a list of capabilities")
                wanted = parse_allow(raw)
                wider = sorted(wanted - self.allow)
                if wider:
                    raise HeronError(
                        f"capabilities can only be narrowed remotely; {', '.join(wider)} is not allowed on this agent "
                        "and only its owner can allow it"
                    )
                allow = wanted
            interval = _interval(changes["interval"]) if "interval" in changes else self.interval_seconds
            collectors = self.disabled_collectors
            if "disabled_collectors" in changes:
                if not isinstance(changes["disabled_collectors"], list):
                    raise HeronError("disabled_collectors must be a list")
                collectors = _collectors(changes["disabled_collectors"])
            self.allow, self.interval_seconds, self.disabled_collectors = allow, interval, collectors
        self._save()
        if self.on_change is not None:
            self.on_change(self)
        return self.public()

    def _save(self) -> None:
        """Write the file back (when there is one), so a remote change outlives a restart."""
        if self.config_path is None:
            return
        with self._lock:
            lines = [
                "# heron agent: written by the agent when the server changed its settings",
                f"allow = {json.dumps(sorted(self.allow))}",
                f"files_roots = {json.dumps([str(r) for r in self.files_roots])}",
                f"interval = {self.interval_seconds!r}",
                f"disabled_collectors = {json.dumps(sorted(self.disabled_collectors))}",
                "",
            ]
        temp = self.config_path.with_name(self.config_path.name + ".tmp")
        temp.write_text("\n".join(lines), encoding="utf-8")
        os.chmod(temp, 0o600)
        os.replace(temp, self.config_path)


def resolve_roots(roots: Iterable[str]) -> tuple[Path, ...]:
    """The served directories with symlinks resolved, so a path is checked against what it really is."""
    resolved = []
    for root in roots:
        path = Path(os.path.realpath(os.path.expanduser(root)))
        if not path.is_dir():
            raise HeronError(f"files root {root} is not a directory")
        resolved.append(path)
    return tuple(resolved)
