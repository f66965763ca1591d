"""The metadata tables of alerting: rules, events, the delivery outbox, methods, silences, groups.

Kept beside :mod:`heron.meta.models` on the same declarative base. JSON-valued columns are
text holding JSON (SQLite and PostgreSQL alike); the modules of :mod:`heron.alerts` encode
and decode them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from heron.meta.models import NEVER_REUSED_IDS, Base, utcnow


class Notification(Base):
    """A notification method (Nezha's ``Notification``): a webhook, an SMTP mailbox or apprise URLs.

    ``config`` holds the kind's non-secret settings, ``secrets`` the ones never shown back
    (SMTP password, apprise URLs); the webhook URL and headers are secret too.
    """

    __tablename__ = "notifications"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default="webhook")
    url: Mapped[str] = mapped_column(Text, default="")
    request_method: Mapped[int] = mapped_column(Integer, default=2)
    request_type: Mapped[int] = mapped_column(Integer, default=1)
    request_header: Mapped[str] = mapped_column(Text, default="")
    request_body: Mapped[str] = mapped_column(Text, default="")
    verify_tls: Mapped[bool] = mapped_column(Boolean, default=True)
    format_metric_units: Mapped[bool] = mapped_column(Boolean, default=False)
    preset: Mapped[str] = mapped_column(String(32), default="")
    config: Mapped[str] = mapped_column(Text, default="{}")
    secrets: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class NotificationGroup(Base):
    """Nezha's notification group, and Alertmanager's route: who is told, and how alerts are batched."""

    __tablename__ = "notification_groups"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(255))
    group_by: Mapped[str] = mapped_column(Text, default='["alertname"]')
    group_wait_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    group_interval_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    repeat_interval_seconds: Mapped[float] = mapped_column(Float, default=3600.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class NotificationGroupMember(Base):
    __tablename__ = "notification_group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("notification_groups.id", ondelete="CASCADE"), primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AlertRule(Base):
    """A rule of any source: ``server`` (Nezha's conditions), ``sql`` (a query rule), ``promql``
    (Nightingale's, stored until the PromQL engine evaluates it). ``spec`` is the source's JSON."""

    __tablename__ = "alert_rules"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    busi_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("busi_groups.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    notification_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_groups.id", ondelete="SET NULL"), nullable=True
    )
    trigger_mode: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[str] = mapped_column(String(32), default="warning")
    spec: Mapped[str] = mapped_column(Text, default="{}")
    fail_trigger_tasks: Mapped[str] = mapped_column(Text, default="[]")
    recover_trigger_tasks: Mapped[str] = mapped_column(Text, default="[]")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class AlertEvent(Base):
    """One alert of one rule, keyed by its labels (``fingerprint``): pending, firing, then resolved."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_state_fingerprint", "state", "fingerprint"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="SET NULL"), nullable=True, index=True
    )
    rule_name: Mapped[str] = mapped_column(String(255))
    rule_kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    busi_group_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    labels: Mapped[str] = mapped_column(Text, default="{}")
    annotations: Mapped[str] = mapped_column(Text, default="{}")
    severity: Mapped[str] = mapped_column(String(32), default="warning")
    state: Mapped[str] = mapped_column(String(16))
    server_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    values: Mapped[str] = mapped_column(Text, default="[]")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    silenced: Mapped[bool] = mapped_column(Boolean, default=False)
    acked_by: Mapped[str] = mapped_column(String(64), default="")
    acked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    notify_count: Mapped[int] = mapped_column(Integer, default=0)


class AlertDelivery(Base):
    """The outbox: one message to send for one event state to one notification method.

    Written in the transaction that changes the event, so what is acknowledged as an event
    is never lost; ``idempotency_key`` (event, state, repeat, method) makes it sent once.
    """

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index("ix_alert_deliveries_status_next", "status", "next_attempt_at"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id", ondelete="CASCADE"), index=True)
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL"), nullable=True, index=True
    )
    notification_group_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    group_key: Mapped[str] = mapped_column(String(512), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class AlertDeliveryAttempt(Base):
    """One try of a delivery and what the far end answered."""

    __tablename__ = "alert_delivery_attempts"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("alert_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int] = mapped_column(Integer, default=0)
    response: Mapped[str] = mapped_column(Text, default="")


class Silence(Base):
    """Alertmanager's silence (and Nightingale's mute): label matchers over a time window."""

    __tablename__ = "silences"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    busi_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("busi_groups.id", ondelete="CASCADE"), nullable=True, index=True
    )
    matchers: Mapped[str] = mapped_column(Text, default="[]")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str] = mapped_column(Text, default="")
    extra: Mapped[str] = mapped_column(Text, default="{}")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class MaintenanceWindow(Base):
    """A recurring window (a cron expression for its start, a length) in which alerts of its
    servers are recorded and not sent."""

    __tablename__ = "maintenance_windows"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(255))
    cron: Mapped[str] = mapped_column(String(255))
    duration_seconds: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    server_ids: Mapped[str] = mapped_column(Text, default="[]")
    server_group_ids: Mapped[str] = mapped_column(Text, default="[]")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class UserGroup(Base):
    """Nightingale's team: business groups grant rights to teams, not to users."""

    __tablename__ = "user_groups"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class UserGroupMember(Base):
    __tablename__ = "user_group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class BusiGroup(Base):
    """Nightingale's business group: hosts and rules that teams see (``ro``) or manage (``rw``)."""

    __tablename__ = "busi_groups"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    label_enable: Mapped[int] = mapped_column(Integer, default=0)
    label_value: Mapped[str] = mapped_column(String(255), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class BusiGroupMember(Base):
    __tablename__ = "busi_group_members"
    __table_args__ = (UniqueConstraint("busi_group_id", "user_group_id"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    busi_group_id: Mapped[int] = mapped_column(ForeignKey("busi_groups.id", ondelete="CASCADE"), index=True)
    user_group_id: Mapped[int] = mapped_column(ForeignKey("user_groups.id", ondelete="CASCADE"), index=True)
    perm_flag: Mapped[str] = mapped_column(String(8))


class ServerBusiGroup(Base):
    """A server (Nightingale's target) in a business group."""

    __tablename__ = "server_busi_groups"

    server_id: Mapped[int] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True)
    busi_group_id: Mapped[int] = mapped_column(
        ForeignKey("busi_groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )
