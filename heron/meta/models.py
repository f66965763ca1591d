"""The metadata tables.

Time series live in the TSDB; this is what describes them and who may use them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


#: Table options of every table with a generated ``id``: SQLite must never hand out an id again
#: (without AUTOINCREMENT it reuses the highest deleted one), because history kept elsewhere
#: under that id (TSDB rows, events, audit records) would pass to the new object.
#: Migration 0011 gives existing databases the same.
NEVER_REUSED_IDS: dict[str, Any] = {"sqlite_autoincrement": True}


class Tenant(Base):
    """A namespace of databases (CnosDB's tenant); ``cnosdb`` exists from the first start."""

    __tablename__ = "tenants"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    databases: Mapped[list[Database]] = relationship(back_populates="tenant", cascade="all, delete-orphan")


class Database(Base):
    """A database of a tenant; ``ttl_seconds`` 0 keeps data forever."""

    __tablename__ = "databases"
    __table_args__ = (UniqueConstraint("tenant_id", "name"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    ttl_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    # Rollup tiers, as ``heron.tsdb.rollups.parse_rollups`` reads them (storage engine).
    rollups: Mapped[str] = mapped_column(String(255), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    tenant: Mapped[Tenant] = relationship(back_populates="databases")


class User(Base):
    """A person or script; the password is an Argon2 hash, never plaintext."""

    __tablename__ = "users"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="member")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    nickname: Mapped[str] = mapped_column(String(128), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    contacts: Mapped[str] = mapped_column(String(4096), default="{}")
    avatar: Mapped[str] = mapped_column(String(1024), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    updated_by: Mapped[str] = mapped_column(String(64), default="system")
    last_active_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: The password was generated at first start and must be changed (the web UI asks at login).
    password_change_required: Mapped[bool] = mapped_column(Boolean, default=False)


class Server(Base):
    """A host Heron knows of: registered by pushed data (``ident``), a heartbeat, an agent or the API.

    The live state (status, online) is held in memory by the inventory and its history in the
    TSDB; ``host_info`` keeps the agent's last host block (JSON) so it survives a restart.
    ``agent_id`` is the id the agent sends (its machine id), which keeps one record per machine.
    """

    __tablename__ = "servers"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="ident")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_active: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    host_ip: Mapped[str] = mapped_column(String(64), default="")
    os: Mapped[str] = mapped_column(String(64), default="")
    arch: Mapped[str] = mapped_column(String(32), default="")
    cpu_num: Mapped[int] = mapped_column(Integer, default=0)
    agent_version: Mapped[str] = mapped_column(String(64), default="")
    clock_offset_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    labels: Mapped[str] = mapped_column(String(4096), default="{}")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    agent_id: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True, index=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str] = mapped_column(String(4096), default="")
    public_note: Mapped[str] = mapped_column(String(4096), default="")
    display_index: Mapped[int] = mapped_column(Integer, default=0)
    hidden_for_guest: Mapped[bool] = mapped_column(Boolean, default=False)
    host_info: Mapped[str] = mapped_column(String(65536), default="{}")


class ApiToken(Base):
    """A personal API token; only the SHA-256 of the secret is kept, with a short hint to recognise it."""

    __tablename__ = "api_tokens"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    note: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Comma-separated scopes (heron.auth.scopes); NULL: the owner's full rights (tokens made before scopes).
    scopes: Mapped[str | None] = mapped_column(String(2048), nullable=True)


class ApiKey(Base):
    """An openITCOCKPIT-style API key; ``pending`` keys were shown but not yet saved by their owner."""

    __tablename__ = "api_keys"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    pending: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginSession(Base):
    """A login: the JWT names it by a random id whose SHA-256 is kept here, so logout can revoke it."""

    __tablename__ = "login_sessions"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    ip: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WafEntry(Base):
    """Failed credentials from one address (Nezha's WAF); ``blocked_until`` set means banned until then."""

    __tablename__ = "waf_entries"

    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    block_identifier: Mapped[int] = mapped_column(BigInteger)
    block_reason: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SiteSetting(Base):
    """One site setting changed at run time (``PATCH /api/v1/setting``), its value as JSON."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(65536))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))


class SigningKey(Base):
    """A server secret generated at first start (the JWT key), shared by every node of the cluster."""

    __tablename__ = "signing_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ServerGroup(Base):
    """A named set of servers (Nezha's server group), owned by the user who created it."""

    __tablename__ = "server_groups"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ServerGroupMember(Base):
    """One server in one group; both sides cascade, so deleting either removes the membership."""

    __tablename__ = "server_group_servers"

    group_id: Mapped[int] = mapped_column(ForeignKey("server_groups.id", ondelete="CASCADE"), primary_key=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True, index=True)


class Monitor(Base):
    """A service monitor (Nezha's "service"): what to check, how often, and from where.

    ``kind`` is ``http``, ``tcp``, ``icmp``, ``dns`` or ``push``; ``options`` holds the
    kind's own settings as JSON (method, headers, keyword, record type, ...), validated by
    :mod:`heron.probes.kinds`. ``cover`` and ``skip_servers`` choose the agents that run it
    (Nezha's model: 0 = every server but the skipped ones, 1 = only the listed ones);
    ``heron_vantage`` whether the Heron node runs it too. ``push_token`` is the secret part
    of a push monitor's URL, shown to its owner like Healthchecks shows its ping URLs.
    ``notify`` and ``notification_group_id`` are kept for alerting.
    """

    __tablename__ = "monitors"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(2048), default="")
    interval_seconds: Mapped[int] = mapped_column(Integer, default=30)
    timeout_seconds: Mapped[float] = mapped_column(Float, default=10.0)
    retries: Mapped[int] = mapped_column(Integer, default=1)
    min_latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    max_latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    latency_notify: Mapped[bool] = mapped_column(Boolean, default=False)
    notify: Mapped[bool] = mapped_column(Boolean, default=False)
    notification_group_id: Mapped[int] = mapped_column(BigInteger, default=0)
    cover: Mapped[int] = mapped_column(Integer, default=0)
    skip_servers: Mapped[str] = mapped_column(String(65536), default="{}")
    heron_vantage: Mapped[str] = mapped_column(String(16), default="always")
    display_index: Mapped[int] = mapped_column(Integer, default=0)
    hidden_for_guest: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    options: Mapped[str] = mapped_column(String(65536), default="{}")
    push_token: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


# -- web UI: public status pages -----------------------------------------------------------


class StatusPage(Base):
    """A public status page at ``/status/{slug}`` listing chosen servers (and later services)."""

    __tablename__ = "status_pages"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(4096), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="system")


class StatusPageItem(Base):
    """One entry of a status page: a thing of ``kind`` (``server``) and its id, in display order.

    No foreign key on ``ref_id``: the kinds live in different tables; an entry whose thing was
    deleted is skipped when the page is drawn.
    """

    __tablename__ = "status_page_items"

    page_id: Mapped[int] = mapped_column(ForeignKey("status_pages.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    ref_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


# The remote-operations tables share this base; importing them here registers them with it.
from heron.meta import ops_models as _ops_models  # noqa: E402,F401
