"""Users and API tokens.

A user has exactly one role. A ``provider`` user belongs to one provider organisation and sees only
its referrals; every other role is plan staff and has no organisation. Passwords are stored as
scrypt hashes, API tokens as SHA-256 digests: neither can be read back.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csmatch.db import Base, utcnow
from providers.models import Provider


class Role(enum.StrEnum):
    """What a user does in csmatch (DOMAIN.md, "Who uses csmatch")."""

    COORDINATOR = "coordinator"
    PROVIDER_RELATIONS = "provider_relations"
    PROVIDER = "provider"
    COMPLIANCE = "compliance"
    ADMIN = "admin"


# Plan staff see plan-wide data; a provider user sees its own organisation's only.
PLAN_ROLES = frozenset({Role.COORDINATOR, Role.PROVIDER_RELATIONS, Role.COMPLIANCE, Role.ADMIN})


class User(Base):
    """A person who signs in; ``email`` is stored lower-case and is unique."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role]
    provider_id: Mapped[str | None] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]

    provider: Mapped[Provider | None] = relationship()
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", order_by="ApiToken.id")

    __table_args__ = (
        # A provider user is scoped to exactly one organisation; plan staff to none.
        sa.CheckConstraint(
            "(role = 'provider' AND provider_id IS NOT NULL) OR (role <> 'provider' AND provider_id IS NULL)",
            name="provider_scope",
        ),
    )

    @property
    def is_plan_staff(self) -> bool:
        return self.role in PLAN_ROLES


class ApiToken(Base):
    """A bearer token for scripts. Only its SHA-256 digest is kept; ``prefix`` helps people tell
    tokens apart in a list without revealing them."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(80), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
