"""The access stores on SQLite and on the real PostgreSQL: tokens, API keys, sessions, the WAF, settings, keys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from heron.auth.apikeys import ApiKeyStore
from heron.auth.jwt import load_or_create_key
from heron.auth.ratelimit import BLOCK_ID_TOKEN, BlockReason, Waf, WafPolicy
from heron.auth.sessions import SessionStore
from heron.auth.site import SiteSettings
from heron.auth.tokens import TokenStore
from heron.auth.users import UserDirectory
from heron.core.errors import BadRequest, Blocked, NotFound
from heron.meta.db import MetaStore, make_engine, migrate


@pytest.fixture
def meta(meta_url: str) -> Iterator[MetaStore]:
    engine = make_engine(meta_url)
    migrate(engine)
    yield MetaStore(engine)
    engine.dispose()


def test_tokens_resolve_until_deleted_or_expired(meta: MetaStore) -> None:
    users, tokens = UserDirectory(meta), TokenStore(meta)
    grace = users.create("grace", "grace-password", email="g@example.org", contacts={"slack": "@grace"})
    info, secret = tokens.create(grace.user_id, "ci")
    assert tokens.resolve(secret) == (grace.user_id, info.id)
    assert tokens.get(info.id).last_used_at is not None
    assert tokens.resolve(secret + "x") is None
    assert [t.id for t in tokens.list(grace.user_id)] == [info.id] and tokens.count(None) == 1
    with pytest.raises(BadRequest):
        tokens.create(grace.user_id, "old", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    tokens.delete(info.id)
    assert tokens.resolve(secret) is None
    with pytest.raises(NotFound):
        tokens.delete(info.id)
    assert users.get(grace.user_id).contacts == {"slack": "@grace"}


def test_api_keys_are_staged_confirmed_regenerated(meta: MetaStore) -> None:
    users, keys = UserDirectory(meta), ApiKeyStore(meta)
    heidi = users.create("heidi", "heidi-password")
    staged = keys.stage(heidi.user_id)
    assert len(staged) == 160 and keys.resolve(staged) is None, "a staged key does not work before it is saved"
    saved = keys.confirm(heidi.user_id, "phone")
    assert keys.resolve(staged) == (heidi.user_id, saved.id)
    with pytest.raises(BadRequest, match="generate one first"):
        keys.confirm(heidi.user_id, "again")
    _, rotated = keys.regenerate(saved.id)
    assert keys.resolve(staged) is None and keys.resolve(rotated) == (heidi.user_id, saved.id)
    users.delete(heidi.user_id)
    assert keys.resolve(rotated) is None, "deleting a user deletes their keys"


def test_sessions_open_validate_and_end(meta: MetaStore) -> None:
    users, sessions = UserDirectory(meta), SessionStore(meta)
    ivan = users.create("ivan", "ivan-password")
    sid, secret, expires = sessions.open(ivan.user_id, ip="192.0.2.1", user_agent="pytest", ttl_seconds=60)
    assert sessions.validate(secret) == sid and expires > datetime.now(UTC)
    assert [s.username for s in sessions.list_active(offset=0, limit=10)] == ["ivan"]
    assert sessions.end_from(["192.0.2.1"]) == 1
    assert sessions.validate(secret) is None


def test_the_waf_bans_after_the_limit_and_lifts(meta: MetaStore) -> None:
    waf = Waf(meta, WafPolicy(max_failures=3, failure_window_seconds=60, ban_seconds=60, login_attempts_per_minute=5))
    assert [waf.record_failure("192.0.2.9", BlockReason.BRUTE_FORCE_TOKEN, BLOCK_ID_TOKEN) for _ in range(3)] == [
        False,
        False,
        True,
    ]
    with pytest.raises(Blocked):
        waf.check("192.0.2.9")
    other = Waf(meta, waf.policy)
    with pytest.raises(Blocked):
        other.check("192.0.2.9")
    assert waf.lift(["192.0.2.9"]) == 1
    waf.check("192.0.2.9")


def test_site_settings_and_the_signing_key_are_shared(meta: MetaStore) -> None:
    site = SiteSettings(meta)
    assert site.get().site_name == "Heron"
    site.update({"site_name": "Ops", "force_auth": True}, by="alice")
    assert SiteSettings(meta).get().force_auth is True
    with pytest.raises(BadRequest, match="unknown setting"):
        site.update({"colour": "blue"}, by="alice")
    with pytest.raises(BadRequest, match="true or false"):
        site.update({"force_auth": "yes"}, by="alice")
    key = load_or_create_key(meta)
    assert len(key) == 64 and load_or_create_key(meta) == key
    with meta.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM signing_keys")).scalar() == 1
