"""Plan-wide records: the service catalogue kept as data, and the append-only audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csmatch.db import Base, utcnow


class Service(Base):
    """One Community Support the plan offers (7003 VI.A, VI.F); effective dates are data."""

    __tablename__ = "services"

    key: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    offered_from: Mapped[dt.date]
    offered_until: Mapped[dt.date | None]
    capacity_unit: Mapped[str] = mapped_column(sa.String(60))
    care_setting: Mapped[str] = mapped_column(sa.String(120))
    site_based: Mapped[bool] = mapped_column(default=False)
    limits: Mapped[str] = mapped_column(sa.Text, default="")
    policy_ref: Mapped[str] = mapped_column(sa.String(60), default="")

    codes: Mapped[list[ServiceCode]] = relationship(back_populates="service", cascade="all, delete-orphan")


class ServiceCode(Base):
    """HCPCS code and modifier billed for a service: always key on (code, modifier) (7003 VI.K)."""

    __tablename__ = "service_codes"

    service_key: Mapped[str] = mapped_column(sa.ForeignKey("services.key"), primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(5), primary_key=True)
    modifier: Mapped[str] = mapped_column(sa.String(2), primary_key=True, default="")
    unit: Mapped[str] = mapped_column(sa.String(20))
    description: Mapped[str] = mapped_column(sa.String(200), default="")

    service: Mapped[Service] = relationship(back_populates="codes")


class AuditEvent(Base):
    """Who did what, when and from where. Append-only: triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    entity_type: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[str] = mapped_column(sa.String(60))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (sa.Index("ix_audit_events_entity", "entity_type", "entity_id"),)


# The audit log is append-only in the database itself, not just by convention.
AUDIT_APPEND_ONLY_SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
]
AUDIT_APPEND_ONLY_POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit_events is append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
       FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
]


def record_audit(
    session: sa.orm.Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: object,
    details: dict[str, Any] | None = None,
    remote_addr: str | None = None,
) -> AuditEvent:
    """Add an audit event to the caller's transaction (it commits or rolls back with the change)."""
    event = AuditEvent(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        details=details or {},
        remote_addr=remote_addr,
    )
    session.add(event)
    return event
