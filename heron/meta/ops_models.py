"""The tables of remote operations: cron tasks and their runs, NAT, DDNS, the audit log.

Kept apart from :mod:`heron.meta.models` (same declarative base) so this family's schema
reads in one place; migration ``0008`` creates them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from heron.meta.models import NEVER_REUSED_IDS, Base, utcnow


class AuditRecord(Base):
    """One use of a remote capability or a sensitive change: who, from where, which server, what, outcome.

    ``user_id`` is no foreign key: a user's deletion must not erase what they did.
    ``detail`` is JSON and never holds command output, keystrokes or file contents.
    """

    __tablename__ = "ops_audit"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    username: Mapped[str] = mapped_column(String(64), default="")
    via: Mapped[str] = mapped_column(String(16), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    server_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(1024), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    detail: Mapped[str] = mapped_column(Text, default="{}")


class CronTask(Base):
    """Nezha's cron task: a command run on servers on a schedule (``task_type`` 0) or by alert rules (1)."""

    __tablename__ = "ops_cron"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(255))
    task_type: Mapped[int] = mapped_column(Integer, default=0)
    scheduler: Mapped[str] = mapped_column(String(255), default="")
    command: Mapped[str] = mapped_column(Text, default="")
    servers: Mapped[str] = mapped_column(Text, default="[]")
    cover: Mapped[int] = mapped_column(Integer, default=0)
    push_successful: Mapped[bool] = mapped_column(Boolean, default=False)
    notification_group_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_executed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_result: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class CronRun(Base):
    """One run of a task on one server: its output (up to a limit), exit code and duration, or why it did not run."""

    __tablename__ = "ops_cron_runs"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cron_id: Mapped[int] = mapped_column(ForeignKey("ops_cron.id", ondelete="CASCADE"), index=True)
    server_id: Mapped[int] = mapped_column(Integer)
    server_name: Mapped[str] = mapped_column(String(255), default="")
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")
    status: Mapped[str] = mapped_column(String(16))
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    output: Mapped[str] = mapped_column(Text, default="")
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str] = mapped_column(String(1024), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)


class NatRoute(Base):
    """Nezha's NAT profile: HTTP requests for ``domain`` are carried to ``host`` on the server's network."""

    __tablename__ = "ops_nat"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    server_id: Mapped[int] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"), index=True)
    host: Mapped[str] = mapped_column(String(300))
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class DdnsProfile(Base):
    """Nezha's DDNS profile, plus what RFC 2136 needs (``dns_server``, ``zone``, ``tsig_algorithm``)."""

    __tablename__ = "ops_ddns"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(32))
    enable_ipv4: Mapped[bool] = mapped_column(Boolean, default=True)
    enable_ipv6: Mapped[bool] = mapped_column(Boolean, default=False)
    max_retries: Mapped[int] = mapped_column(Integer, default=3)
    domains: Mapped[str] = mapped_column(Text, default="[]")
    access_id: Mapped[str] = mapped_column(String(255), default="")
    access_secret: Mapped[str] = mapped_column(String(1024), default="")
    webhook_url: Mapped[str] = mapped_column(String(2048), default="")
    webhook_method: Mapped[int] = mapped_column(Integer, default=1)
    webhook_request_type: Mapped[int] = mapped_column(Integer, default=1)
    webhook_request_body: Mapped[str] = mapped_column(Text, default="")
    webhook_headers: Mapped[str] = mapped_column(Text, default="")
    dns_server: Mapped[str] = mapped_column(String(255), default="")
    zone: Mapped[str] = mapped_column(String(255), default="")
    tsig_algorithm: Mapped[str] = mapped_column(String(32), default="hmac-sha256")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ServerDdns(Base):
    """Which DDNS profiles a server uses (Nezha's ``enable_ddns`` / ``ddns_profiles``) and the addresses last set."""

    __tablename__ = "ops_server_ddns"

    server_id: Mapped[int] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    profiles: Mapped[str] = mapped_column(Text, default="[]")
    override_domains: Mapped[str] = mapped_column(Text, default="{}")
    last_ipv4: Mapped[str] = mapped_column(String(64), default="")
    last_ipv6: Mapped[str] = mapped_column(String(64), default="")
