"""The web UI's metadata on SQLite and PostgreSQL: status pages, and the first admin's forced password change."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from heron.auth.users import UserDirectory
from heron.core.errors import BadRequest, NotFound, Unauthorized
from heron.meta.db import MetaStore, make_engine, migrate
from heron.meta.models import Server
from heron.statuspage.store import StatusPages


@pytest.fixture
def meta(meta_url: str) -> Iterator[MetaStore]:
    engine = make_engine(meta_url)
    migrate(engine)
    yield MetaStore(engine)
    engine.dispose()


def test_a_generated_admin_password_must_be_changed_and_a_configured_one_need_not(meta: MetaStore) -> None:
    users = UserDirectory(meta)
    password = users.ensure_admin("")
    assert password
    admin_id = users.user_id_of("admin")
    assert admin_id is not None
    assert users.get(admin_id).password_change_required is True
    with pytest.raises(Unauthorized):
        users.change_own_password(admin_id, "wrong-password", "a-new-password")
    assert users.get(admin_id).password_change_required is True
    users.change_own_password(admin_id, password, "a-new-password")
    assert users.get(admin_id).password_change_required is False


def test_a_configured_admin_password_is_not_flagged(meta: MetaStore) -> None:
    users = UserDirectory(meta)
    assert users.ensure_admin("configured-password") is None
    admin_id = users.user_id_of("admin")
    assert admin_id is not None and users.get(admin_id).password_change_required is False


def test_status_pages_keep_their_servers_in_order_and_their_slugs_unique(meta: MetaStore) -> None:
    with meta.session() as s:
        rows = [Server(name=f"srv-{i}") for i in range(3)]
        s.add_all(rows)
        s.flush()
        ids = [r.id for r in rows]
    pages = StatusPages(meta)
    page = pages.create(slug="ops", title="Ops", description="", servers=[ids[2], ids[0], ids[2]], by="alice")
    assert page.servers == [ids[2], ids[0]]
    assert pages.by_slug("ops") == page
    changed = pages.update(page.id, slug="ops-2", title=None, description="d", servers=[ids[1]], by="alice")
    assert (changed.slug, changed.title, changed.description, changed.servers) == ("ops-2", "Ops", "d", [ids[1]])
    assert pages.by_slug("ops") is None
    other = pages.create(slug="other", title="Other", description="", servers=[], by="alice")
    with pytest.raises(BadRequest, match="already used"):
        pages.update(other.id, slug="ops-2", title=None, description=None, servers=None, by="alice")
    with pytest.raises(BadRequest, match="slug"):
        pages.create(slug="-bad", title="x", description="", servers=[], by="alice")
    with pytest.raises(NotFound, match="999999"):
        pages.delete([other.id, 999999])
    assert pages.delete([other.id, page.id]) == [other.id, page.id]
    assert pages.all() == []
