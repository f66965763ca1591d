"""openITCOCKPIT-style API keys (``Authorization: X-OITC-API <key>``), with a QR code of each new key.

A key is 80 random bytes as 160 hex digits, the length openITCOCKPIT issues, so tools that
check the format keep working. As with tokens only the SHA-256 is stored. openITCOCKPIT shows a
freshly generated key first and saves it when the user names it; that step is a *pending* row
here (kept in the database, not in a process's memory, so it works behind a load balancer) that
becomes a key on confirmation and is discarded after :data:`PENDING_LIFETIME`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import segno
from sqlalchemy import Select, delete, func, select

from heron.auth.tokens import HINT_CHARS, LAST_USED_RESOLUTION, hash_secret
from heron.auth.users import aware
from heron.core.errors import BadRequest, NotFound
from heron.meta.db import MetaStore
from heron.meta.models import ApiKey, User

#: Random bytes in a key; hex-encoded it is 160 characters, like openITCOCKPIT's.
KEY_BYTES = 80
#: How long a generated but unsaved key may wait for its description (openITCOCKPIT: 5 minutes).
PENDING_LIFETIME = timedelta(minutes=5)
MAX_DESCRIPTION_CHARS = 255


def new_api_key() -> str:
    return secrets.token_hex(KEY_BYTES)


def qr_code_data_uri(key: str) -> str:
    """An SVG QR code of ``key`` as a ``data:`` URI, ready for an ``<img src>``."""
    return str(segno.make(key, error="m").svg_data_uri(scale=4))


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    id: int
    user_id: int
    username: str
    description: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None


def _info(key: ApiKey, username: str) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=key.id,
        user_id=key.user_id,
        username=username,
        description=key.description,
        hint=key.hint,
        created_at=aware(key.created_at),
        last_used_at=aware(key.last_used_at) if key.last_used_at else None,
    )


def _check_description(description: str) -> None:
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise BadRequest(f"a description may have at most {MAX_DESCRIPTION_CHARS} characters")


class ApiKeyStore:
    """Create, regenerate, describe, list, delete and resolve API keys."""

    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta

    def create(self, user_id: int, description: str) -> tuple[ApiKeyInfo, str]:
        _check_description(description)
        key = new_api_key()
        with self._meta.session() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound(f"user {user_id} does not exist")
            row = ApiKey(user_id=user_id, description=description, secret_hash=hash_secret(key), hint=key[:HINT_CHARS])
            s.add(row)
            s.flush()
            return _info(row, user.username), key

    def regenerate(self, key_id: int) -> tuple[ApiKeyInfo, str]:
        """Replace the secret of a key, keeping its id and description; the old secret stops working."""
        key = new_api_key()
        with self._meta.session() as s:
            row = s.get(ApiKey, key_id)
            if row is None or row.pending:
                raise NotFound(f"API key {key_id} does not exist")
            row.secret_hash, row.hint, row.last_used_at = hash_secret(key), key[:HINT_CHARS], None
            username = s.scalar(select(User.username).where(User.id == row.user_id)) or ""
            return _info(row, username), key

    def describe(self, key_id: int, description: str) -> ApiKeyInfo:
        _check_description(description)
        with self._meta.session() as s:
            row = s.get(ApiKey, key_id)
            if row is None or row.pending:
                raise NotFound(f"API key {key_id} does not exist")
            row.description = description
            username = s.scalar(select(User.username).where(User.id == row.user_id)) or ""
            return _info(row, username)

    @staticmethod
    def _query(user_id: int | None) -> Select[ApiKey, str]:
        q = select(ApiKey, User.username).join(User, User.id == ApiKey.user_id).where(ApiKey.pending.is_(False))
        return q.where(ApiKey.user_id == user_id) if user_id is not None else q

    def list(self, user_id: int | None, *, offset: int = 0, limit: int = 1000) -> list[ApiKeyInfo]:
        with self._meta.session() as s:
            rows = s.execute(self._query(user_id).order_by(ApiKey.id).offset(offset).limit(limit))
            return [_info(k, name) for k, name in rows]

    def count(self, user_id: int | None) -> int:
        with self._meta.session() as s:
            q = select(func.count()).select_from(ApiKey).where(ApiKey.pending.is_(False))
            if user_id is not None:
                q = q.where(ApiKey.user_id == user_id)
            return int(s.scalar(q) or 0)

    def get(self, key_id: int) -> ApiKeyInfo:
        with self._meta.session() as s:
            row = s.execute(self._query(None).where(ApiKey.id == key_id)).first()
            if row is None:
                raise NotFound(f"API key {key_id} does not exist")
            return _info(row[0], row[1])

    def delete(self, key_id: int) -> None:
        with self._meta.session() as s:
            row = s.get(ApiKey, key_id)
            if row is None or row.pending:
                raise NotFound(f"API key {key_id} does not exist")
            s.delete(row)

    def stage(self, user_id: int) -> str:
        """Generate a key for ``user_id`` to look at before saving it; replaces an earlier unsaved one."""
        key = new_api_key()
        with self._meta.session() as s:
            s.execute(delete(ApiKey).where(ApiKey.user_id == user_id, ApiKey.pending.is_(True)))
            s.add(
                ApiKey(
                    user_id=user_id, description="", secret_hash=hash_secret(key), hint=key[:HINT_CHARS], pending=True
                )
            )
        return key

    def confirm(self, user_id: int, description: str) -> ApiKeyInfo:
        """Save the key :meth:`stage` generated for ``user_id`` under ``description``."""
        _check_description(description)
        oldest = datetime.now(UTC) - PENDING_LIFETIME
        with self._meta.session() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.pending.is_(True)))
            if row is None:
                raise BadRequest("no generated API key to save: generate one first (GET /profile/create_apikey.json)")
            if aware(row.created_at) < oldest:
                s.delete(row)
                raise BadRequest("API key expired: it was generated more than 5 minutes ago; generate a new one")
            row.pending, row.description, row.created_at = False, description, datetime.now(UTC)
            username = s.scalar(select(User.username).where(User.id == user_id)) or ""
            s.flush()
            return _info(row, username)

    def resolve(self, key: str) -> tuple[int, int] | None:
        """(user id, key id) for a saved key, or None."""
        now = datetime.now(UTC)
        with self._meta.session() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.secret_hash == hash_secret(key), ApiKey.pending.is_(False)))
            if row is None:
                return None
            if row.last_used_at is None or now - aware(row.last_used_at) > LAST_USED_RESOLUTION:
                row.last_used_at = now
            return row.user_id, row.id
