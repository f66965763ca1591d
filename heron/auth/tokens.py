"""Personal API tokens: random secrets shown once, kept only as SHA-256 hashes.

A token stands for its owner wherever credentials are accepted (``Bearer``, ``Token``, a bare
``Authorization`` value, ``X-User-Token``, the password of HTTP Basic). The secret has 256 bits
of entropy, so a fast hash is enough: there is nothing to guess, unlike a password, and the
lookup stays one indexed query on the request path. ``last_used_at`` is written at most once
a minute per token, so a script calling in a loop does not turn reads into writes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, func, select

from heron.auth.scopes import MAX_SCOPES, invalid_scopes
from heron.auth.users import aware
from heron.core.errors import BadRequest, NotFound
from heron.meta.db import MetaStore
from heron.meta.models import ApiToken, User

#: Every token starts with this, so a token can be told from a password (HTTP Basic) and found by secret scanners.
TOKEN_PREFIX = "heron_"
#: Random bytes in a token (256 bits).
TOKEN_BYTES = 32
#: Characters of the secret kept in clear so a user can recognise a token in a list.
HINT_CHARS = 10
#: How stale ``last_used_at`` may get before a use writes it again.
LAST_USED_RESOLUTION = timedelta(seconds=60)
#: Longest note.
MAX_NOTE_CHARS = 255


def hash_secret(secret: str) -> str:
    """The stored form of a token or API key."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as lists show it: never the secret, only its first characters."""

    id: int
    user_id: int
    username: str
    note: str
    hint: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    #: Scopes in Nezha's vocabulary (:mod:`heron.auth.scopes`); None: all of the owner's rights.
    scopes: tuple[str, ...] | None = None


def scopes_of(stored: str | None) -> tuple[str, ...] | None:
    """The scopes kept in a token's ``scopes`` column (comma-separated; NULL means unrestricted)."""
    if stored is None:
        return None
    return tuple(s for s in (p.strip() for p in stored.split(",")) if s)


def _info(token: ApiToken, username: str) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        user_id=token.user_id,
        username=username,
        note=token.note,
        hint=token.hint,
        created_at=aware(token.created_at),
        expires_at=aware(token.expires_at) if token.expires_at else None,
        last_used_at=aware(token.last_used_at) if token.last_used_at else None,
        scopes=scopes_of(token.scopes),
    )


class TokenStore:
    """Create, list, delete and resolve personal API tokens."""

    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta

    def create(
        self,
        user_id: int,
        note: str,
        *,
        expires_at: datetime | None = None,
        scopes: list[str] | tuple[str, ...] | None = None,
    ) -> tuple[TokenInfo, str]:
        """A new token for ``user_id``; the secret is returned here and never again.

        ``scopes`` limits the token (see :mod:`heron.auth.scopes`); None leaves it with all of its owner's rights.
        """
        if len(note) > MAX_NOTE_CHARS:
            raise BadRequest(f"a note may have at most {MAX_NOTE_CHARS} characters")
        if expires_at is not None:
            expires_at = aware(expires_at)
            if expires_at <= datetime.now(UTC):
                raise BadRequest("expires_at must be in the future")
        secret = new_token()
        with self._meta.session() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound(f"user {user_id} does not exist")
            stored = None
            if scopes is not None:
                wanted = list(dict.fromkeys(scopes))
                if not wanted or len(wanted) > MAX_SCOPES:
                    raise BadRequest(
                        f"scopes: give 1 to {MAX_SCOPES} scopes, or leave scopes out for an unrestricted token"
                    )
                bad = invalid_scopes(wanted, is_admin=user.role == "admin")
                if bad:
                    raise BadRequest(
                        f"scopes: {bad[0]!r} is not a scope this user's token may carry; "
                        "expected nezha:<resource>:<read|write|delete|exec|*> (see docs/operations.md)"
                    )
                stored = ",".join(wanted)
            token = ApiToken(
                user_id=user_id,
                note=note,
                secret_hash=hash_secret(secret),
                hint=secret[:HINT_CHARS],
                expires_at=expires_at,
                scopes=stored,
            )
            s.add(token)
            s.flush()
            return _info(token, user.username), secret

    @staticmethod
    def _query(user_id: int | None) -> Select[ApiToken, str]:
        q = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
        return q.where(ApiToken.user_id == user_id) if user_id is not None else q

    def list(self, user_id: int | None, *, offset: int = 0, limit: int = 1000) -> list[TokenInfo]:
        """Tokens of ``user_id``, or of everyone when None (admins), oldest first."""
        with self._meta.session() as s:
            rows = s.execute(self._query(user_id).order_by(ApiToken.id).offset(offset).limit(limit))
            return [_info(t, name) for t, name in rows]

    def count(self, user_id: int | None) -> int:
        with self._meta.session() as s:
            q = select(func.count()).select_from(ApiToken)
            if user_id is not None:
                q = q.where(ApiToken.user_id == user_id)
            return int(s.scalar(q) or 0)

    def get(self, token_id: int) -> TokenInfo:
        with self._meta.session() as s:
            row = s.execute(self._query(None).where(ApiToken.id == token_id)).first()
            if row is None:
                raise NotFound(f"token {token_id} does not exist")
            return _info(row[0], row[1])

    def delete(self, token_id: int) -> None:
        with self._meta.session() as s:
            token = s.get(ApiToken, token_id)
            if token is None:
                raise NotFound(f"token {token_id} does not exist")
            s.delete(token)

    def resolve(self, secret: str) -> tuple[int, int] | None:
        """(user id, token id) for a valid, unexpired token, or None."""
        found = self.resolve_scoped(secret)
        return (found[0], found[1]) if found is not None else None

    def resolve_scoped(self, secret: str) -> tuple[int, int, tuple[str, ...] | None] | None:
        """(user id, token id, scopes) for a valid, unexpired token, or None."""
        now = datetime.now(UTC)
        with self._meta.session() as s:
            token = s.scalar(select(ApiToken).where(ApiToken.secret_hash == hash_secret(secret)))
            if token is None:
                return None
            if token.expires_at is not None and aware(token.expires_at) <= now:
                return None
            if token.last_used_at is None or now - aware(token.last_used_at) > LAST_USED_RESOLUTION:
                token.last_used_at = now
            return token.user_id, token.id, scopes_of(token.scopes)
