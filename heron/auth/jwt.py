"""JSON Web Tokens for logins, signed with a key generated at first start.

The key is 64 random bytes stored in the metadata database (table ``signing_keys``), never a
default and never in the configuration: every node of a cluster shares it, and a new
installation cannot be forged with a key someone read in the source. A token carries the user
id, a login-session id (``sid``, checked against the database so logout revokes it), a CSRF
value for cookie-authenticated writes, and its expiry. HS256 is enough because only Heron
both issues and verifies these tokens.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt as pyjwt
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from heron.core.errors import Unauthorized
from heron.meta.db import MetaStore
from heron.meta.models import SigningKey

ALGORITHM = "HS256"
ISSUER = "heron"
#: Row name of the JWT key in ``signing_keys``.
JWT_KEY_NAME = "jwt"
#: Random bytes of a signing key.
KEY_BYTES = 64


def load_or_create_key(meta: MetaStore, name: str = JWT_KEY_NAME) -> bytes:
    """The stored key ``name``; created on first use. Two nodes starting at once agree on one key."""
    with meta.session() as s:
        found = s.scalar(select(SigningKey.secret).where(SigningKey.name == name))
    if found is not None:
        return bytes.fromhex(found)
    try:
        with meta.session() as s:
            s.add(SigningKey(name=name, secret=secrets.token_hex(KEY_BYTES)))
    except IntegrityError:
        pass  # another node created it between our read and write; use theirs
    with meta.session() as s:
        stored = s.scalar(select(SigningKey.secret).where(SigningKey.name == name))
    assert stored is not None
    return bytes.fromhex(stored)


def looks_like_jwt(value: str) -> bool:
    """Three base64url parts, the first a JSON object: ``eyJ...`` is ``{"`` encoded."""
    return value.startswith("eyJ") and value.count(".") == 2


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: int
    session_secret: str
    csrf: str
    expires_at: datetime


class JwtCodec:
    """Issue and verify Heron's login tokens."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self, *, user_id: int, session_secret: str, csrf: str, expires_at: datetime) -> str:
        now = datetime.now(UTC)
        claims = {
            "iss": ISSUER,
            "sub": str(user_id),
            "sid": session_secret,
            "csrf": csrf,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
        }
        return pyjwt.encode(claims, self._key, algorithm=ALGORITHM)

    def decode(self, token: str) -> Claims:
        """The claims of a valid token; :class:`Unauthorized` naming why otherwise."""
        try:
            claims = pyjwt.decode(
                token, self._key, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub", "sid"]}
            )
        except pyjwt.ExpiredSignatureError:
            raise Unauthorized("the login token has expired; log in again (POST /api/v1/login)") from None
        except pyjwt.InvalidTokenError:
            raise Unauthorized("the login token is not valid") from None
        try:
            return Claims(
                user_id=int(claims["sub"]),
                session_secret=str(claims["sid"]),
                csrf=str(claims.get("csrf", "")),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
        except (TypeError, ValueError):
            raise Unauthorized("the login token is not valid") from None
