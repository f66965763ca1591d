"""Site settings changed at run time by admins (``PATCH /api/v1/setting``), and who may read each.

These are the settings Nezha keeps in its dashboard configuration and edits from the UI:
the site's name and language, custom code for the public page, the address agents should
use, and ``force_auth``. Operator settings (ports, paths, limits) stay in
:mod:`heron.config`; these live in the metadata database so every node sees one value.
A process re-reads them at most every :data:`RELOAD_SECONDS`.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import orjson
from sqlalchemy import select

from heron.core.errors import BadRequest
from heron.meta.db import MetaStore
from heron.meta.models import SiteSetting

RELOAD_SECONDS = 2.0
MAX_CODE_CHARS = 65536
_LANGUAGE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """Every site setting with its default."""

    site_name: str = "Heron"
    language: str = "en"
    custom_code: str = ""
    custom_code_dashboard: str = ""
    install_host: str = ""
    force_auth: bool = False


#: What a visitor without an account may read: enough to draw the public page and the login form.
GUEST_FIELDS = frozenset({"site_name", "language", "custom_code", "force_auth"})
#: What any signed-in user may read besides: where agents connect, for install commands.
MEMBER_FIELDS = GUEST_FIELDS | {"install_host"}

_TYPES = {f.name: f.type for f in fields(SiteConfig)}


def visible_fields(config: SiteConfig, *, admin: bool, user: bool) -> dict[str, Any]:
    """The settings ``config`` shows to an admin, another user, or a guest."""
    allowed = set(_TYPES) if admin else MEMBER_FIELDS if user else GUEST_FIELDS
    return {k: v for k, v in asdict(config).items() if k in allowed}


def _validate(name: str, value: Any) -> Any:
    if name not in _TYPES:
        raise BadRequest(f"unknown setting '{name}'; known: {', '.join(sorted(_TYPES))}")
    if _TYPES[name] in (bool, "bool"):
        if not isinstance(value, bool):
            raise BadRequest(f"setting '{name}' must be true or false")
        return value
    if not isinstance(value, str):
        raise BadRequest(f"setting '{name}' must be a string")
    if len(value) > MAX_CODE_CHARS:
        raise BadRequest(f"setting '{name}' may have at most {MAX_CODE_CHARS} characters")
    if name == "site_name" and not 1 <= len(value.strip()) <= 128:
        raise BadRequest("site_name needs 1 to 128 characters")
    if name == "language" and not _LANGUAGE.match(value):
        raise BadRequest(f"language {value!r} is not a language tag such as 'en' or 'zh-CN'")
    return value


class SiteSettings:
    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta
        self._lock = threading.Lock()
        self._config = SiteConfig()
        self._loaded = -1e9

    def get(self) -> SiteConfig:
        now = time.monotonic()
        if now - self._loaded >= RELOAD_SECONDS:
            with self._meta.session() as s:
                stored = {row.key: orjson.loads(row.value) for row in s.scalars(select(SiteSetting))}
            known = {k: v for k, v in stored.items() if k in _TYPES}
            with self._lock:
                self._config, self._loaded = replace(SiteConfig(), **known), now
        with self._lock:
            return self._config

    def update(self, changes: dict[str, Any], *, by: str) -> SiteConfig:
        """Validate every change first, then store them together."""
        checked = {name: _validate(name, value) for name, value in changes.items()}
        with self._meta.session() as s:
            for name, value in checked.items():
                row = s.get(SiteSetting, name) or SiteSetting(key=name)
                row.value, row.updated_by = orjson.dumps(value).decode(), by
                s.add(row)
        with self._lock:
            self._loaded = -1e9
        return self.get()
