"""One resolver for every credential form: who is asking, decided once per request.

Accepted, in this order (the first one present decides; a wrong one is a ``401``, never a
fall-through to the next, so a typo cannot silently turn a user into a guest):

================================  ===============================================
``Authorization: Bearer <jwt>``    a login token (``POST /api/v1/login``)
``Authorization: Bearer <token>``  a personal API token
``Authorization: Token <token>``   a token (Nezha v0, InfluxDB 2); ``Token user:password`` too
``Authorization: X-OITC-API <k>``  an API key (openITCOCKPIT)
``Authorization: Basic ...``       username and password, or username and token
``Authorization: <token>``         a bare token (Nezha v0's Python example)
``X-User-Token: <token>``          a token (Nightingale)
cookie ``heron_session``           the web UI's login; writes need ``X-CSRF-Token``
``?u=&p=``                         InfluxDB 1.x query credentials
================================  ===============================================

Nothing presented gives ``None``: the caller decides whether that is a guest or a 401. So does
a session cookie alone that has expired or ended: a browser keeps it, and the login page must load.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from heron.auth.apikeys import ApiKeyStore
from heron.auth.jwt import JwtCodec, load_or_create_key, looks_like_jwt
from heron.auth.ratelimit import BLOCK_ID_TOKEN, BLOCK_ID_UNKNOWN_USER, BlockReason, Waf, WafPolicy
from heron.auth.sessions import SessionStore
from heron.auth.site import SiteSettings
from heron.auth.tokens import TokenStore, looks_like_token
from heron.auth.users import Principal, UserDirectory
from heron.core.errors import BadRequest, Forbidden, Unauthorized
from heron.meta.db import MetaStore

SESSION_COOKIE = "heron_session"
CSRF_COOKIE = "heron_csrf"
CSRF_HEADER = "X-CSRF-Token"
#: Methods that change nothing, so a cookie alone may authenticate them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Presented:
    """The credential-bearing parts of a request, lifted out of HTTP by the API layer."""

    authorization: str | None = None
    user_token: str | None = None
    session_cookie: str | None = None
    csrf_header: str | None = None
    query_user: str | None = None
    query_password: str | None = None
    method: str = "GET"
    ip: str = ""
    user_agent: str = ""

    @property
    def anything(self) -> bool:
        return bool(self.authorization or self.user_token or self.session_cookie or self.query_user)


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    expires_at: datetime
    csrf: str
    principal: Principal


def basic_pair(value: str) -> tuple[str, str]:
    """``user``, ``secret`` from the base64 part of a Basic header."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed Basic credentials: expected base64 of 'user:password'") from None
    user, sep, secret = decoded.partition(":")
    if not sep:
        raise Unauthorized("malformed Basic credentials: expected base64 of 'user:password'")
    return user, secret


class Authenticator:
    """The stores that prove identities, and the rules that combine them."""

    def __init__(
        self,
        meta: MetaStore,
        users: UserDirectory,
        *,
        policy: WafPolicy,
        session_ttl_seconds: float,
    ) -> None:
        self.users = users
        self.tokens = TokenStore(meta)
        self.apikeys = ApiKeyStore(meta)
        self.sessions = SessionStore(meta)
        self.site = SiteSettings(meta)
        self.waf = Waf(meta, policy)
        self.jwt = JwtCodec(load_or_create_key(meta))
        self.session_ttl_seconds = session_ttl_seconds

    # -- resolving ----------------------------------------------------------------------------

    def resolve(self, presented: Presented) -> Principal | None:
        """The principal ``presented`` proves, None when it presents nothing; 401/403 when it is wrong."""
        if not presented.anything:
            return None
        self.waf.check(presented.ip)
        try:
            principal = self._resolve(presented)
        except Unauthorized:
            explicit = presented.authorization or presented.user_token or presented.query_user
            if presented.session_cookie and not explicit:
                # A stale cookie is ambient, not a claim: the visitor is a guest, so public pages still load.
                return None
            raise
        if principal.is_user:
            self.users.touch(principal.user_id)
        return principal

    def _resolve(self, p: Presented) -> Principal:
        if p.authorization:
            scheme, _, value = p.authorization.strip().partition(" ")
            value, kind = value.strip(), scheme.lower()
            if kind == "bearer" and value:
                return self._jwt(p, value, via="jwt") if looks_like_jwt(value) else self._token(p, value)
            if kind == "token" and value:
                if ":" in value:  # InfluxDB 1.8's v2 compatibility: "Token username:password"
                    user, _, password = value.partition(":")
                    return self._password(p, user, password)
                return self._token(p, value)
            if kind == "x-oitc-api" and value:
                return self._apikey(p, value)
            if kind == "basic" and value:
                return self._password(p, *basic_pair(value))
            if not value:
                return self._jwt(p, scheme, via="jwt") if looks_like_jwt(scheme) else self._token(p, scheme)
            raise Unauthorized(f"unsupported Authorization scheme '{scheme}'; see /swagger/index.html for the forms")
        if p.user_token:
            return self._token(p, p.user_token.strip())
        if p.session_cookie:
            return self._jwt(p, p.session_cookie, via="cookie")
        return self._password(p, p.query_user or "", p.query_password or "")

    def _fail(self, p: Presented, reason: BlockReason, identifier: int, message: str) -> Unauthorized:
        self.waf.record_failure(p.ip, reason, identifier)
        return Unauthorized(message)

    def _token(self, p: Presented, secret: str) -> Principal:
        found = self.tokens.resolve_scoped(secret)
        principal = self.users.principal_of(found[0], via="token") if found else None
        if principal is None or found is None:
            raise self._fail(
                p, BlockReason.BRUTE_FORCE_TOKEN, BLOCK_ID_TOKEN, "the token is not valid (unknown, revoked or expired)"
            )
        return dataclasses.replace(principal, scopes=found[2]) if found[2] is not None else principal

    def _apikey(self, p: Presented, key: str) -> Principal:
        found = self.apikeys.resolve(key)
        principal = self.users.principal_of(found[0], via="apikey") if found else None
        if principal is None:
            raise self._fail(p, BlockReason.BRUTE_FORCE_TOKEN, BLOCK_ID_TOKEN, "the API key is not valid")
        return principal

    def _password(self, p: Presented, username: str, secret: str) -> Principal:
        """A username with its password, or with one of its tokens (Basic auth for scripts)."""
        if looks_like_token(secret):
            owner = self._token(p, secret)
            if owner.username != username:
                raise Unauthorized("the token belongs to another user than the one named")
            return owner
        principal = self.users.authenticate(username, secret)
        if principal is None:
            user_id = self.users.user_id_of(username)
            identifier = user_id if user_id is not None else BLOCK_ID_UNKNOWN_USER
            raise self._fail(p, BlockReason.LOGIN_FAIL, identifier, "username or password is incorrect")
        return principal

    def _jwt(self, p: Presented, token: str, *, via: str) -> Principal:
        claims = self.jwt.decode(token)
        session_id = self.sessions.validate(claims.session_secret)
        principal = (
            self.users.principal_of(claims.user_id, via=via, session_id=session_id) if session_id is not None else None
        )
        if principal is None:
            raise Unauthorized("the login session has ended; log in again (POST /api/v1/login)")
        if via == "cookie" and p.method.upper() not in SAFE_METHODS:
            sent = p.csrf_header or ""
            if not sent or not hmac.compare_digest(sent.encode(), claims.csrf.encode()):
                raise Forbidden(
                    f"a write authenticated by the session cookie needs the {CSRF_HEADER} header "
                    f"with the value of the {CSRF_COOKIE} cookie"
                )
        return principal

    # -- logging in ---------------------------------------------------------------------------

    def login(self, username: str, password: str, *, ip: str, user_agent: str) -> Login:
        """Check a password under the rate limit and the WAF, open a session, issue its JWT."""
        self.waf.check(ip)
        self.waf.check_login_rate(ip, username)
        if not username or not password:
            raise BadRequest("username and password are required")
        principal = self.users.authenticate(username, password)
        if principal is None:
            user_id = self.users.user_id_of(username)
            identifier = user_id if user_id is not None else BLOCK_ID_UNKNOWN_USER
            self.waf.record_failure(ip, BlockReason.LOGIN_FAIL, identifier)
            raise Unauthorized("username or password is incorrect")
        self.waf.record_success(ip)
        session_id, secret, expires = self.sessions.open(
            principal.user_id, ip=ip, user_agent=user_agent, ttl_seconds=self.session_ttl_seconds
        )
        self.users.touch(principal.user_id)
        return self._issue(principal, session_id, secret, expires)

    def refresh(self, principal: Principal, presented: Presented) -> Login:
        """A new JWT for the same session, with a new expiry (only a JWT can be refreshed)."""
        if principal.session_id is None:
            raise BadRequest("only a login token can be refreshed; tokens and API keys do not expire this way")
        header = (presented.authorization or "").split(" ", 1)[-1]
        raw = presented.session_cookie if principal.via == "cookie" else header
        claims = self.jwt.decode((raw or "").strip())
        expires = self.sessions.extend(principal.session_id, self.session_ttl_seconds)
        return self._issue(principal, principal.session_id, claims.session_secret, expires)

    def _issue(self, principal: Principal, session_id: int, secret: str, expires: datetime) -> Login:
        csrf = secrets.token_urlsafe(24)
        token = self.jwt.issue(user_id=principal.user_id, session_secret=secret, csrf=csrf, expires_at=expires)
        return Login(token=token, expires_at=expires, csrf=csrf, principal=principal)
