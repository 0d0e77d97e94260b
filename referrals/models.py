"""Members, their referrals for Community Supports, and each referral's status history."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csmatch.calendar import span_covers
from csmatch.db import Base, utcnow
from csmatch.models import Service
from providers.models import Provider


class Member(Base):
    """A Medi-Cal member, as the matcher may know them.

    Demographics used only by the equity report live in :class:`MemberDemographics`, a separate
    table the matcher's adapter never reads (7003 VI.B.4). Date of birth stays here because it
    feeds an eligibility gate (sobering centers are 18+), and only that gate.
    """

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    cin: Mapped[str] = mapped_column(sa.String(9), unique=True)
    last_name: Mapped[str] = mapped_column(sa.String(80))
    first_name: Mapped[str] = mapped_column(sa.String(80))
    dob: Mapped[dt.date]
    address: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(80))
    zip: Mapped[str] = mapped_column(sa.String(5))
    county: Mapped[str] = mapped_column(sa.String(40), index=True)
    latitude: Mapped[float]
    longitude: Mapped[float]
    phone: Mapped[str] = mapped_column(sa.String(10), default="")
    homeless: Mapped[bool] = mapped_column(default=False)
    spoken_languages: Mapped[list[str]] = mapped_column(default=list)
    # An interpreter-level need: matched as a hard rule, never as a preference.
    required_language: Mapped[str | None] = mapped_column(sa.String(40))
    cultural_preferences: Mapped[list[str]] = mapped_column(default=list)
    eligibility_start: Mapped[dt.date]
    eligibility_end: Mapped[dt.date | None]
    ecm_enrolled: Mapped[bool] = mapped_column(default=False)
    lead_care_manager: Mapped[str] = mapped_column(sa.String(120), default="")

    demographics: Mapped[MemberDemographics | None] = relationship(
        back_populates="member", cascade="all, delete-orphan"
    )
    prior_providers: Mapped[list[MemberPriorProvider]] = relationship(
        back_populates="member", cascade="all, delete-orphan"
    )

    def is_eligible_on(self, on: dt.date) -> bool:
        return span_covers(self.eligibility_start, self.eligibility_end, on)


class MemberDemographics(Base):
    """Race/ethnicity and sex, kept only for the equity report; the matcher never reads them."""

    __tablename__ = "member_demographics"

    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    race_ethnicity: Mapped[str] = mapped_column(sa.String(60), default="Unknown")
    sex: Mapped[str] = mapped_column(sa.String(1), default="U")

    member: Mapped[Member] = relationship(back_populates="demographics")

    __table_args__ = (sa.CheckConstraint("sex IN ('F', 'M', 'X', 'U')", name="sex_code"),)


class MemberPriorProvider(Base):
    """A CS provider that served the member before: continuity of care (7003 VI.G.3)."""

    __tablename__ = "member_prior_providers"

    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("providers.id"), primary_key=True)
    service_key: Mapped[str] = mapped_column(sa.ForeignKey("services.key"), primary_key=True)

    member: Mapped[Member] = relationship(back_populates="prior_providers")


class ReferralSource(enum.StrEnum):
    """Who referred the member (7003 VI.C.1-2)."""

    PLAN = "PLAN"
    PCP = "PCP"
    ECM = "ECM"
    CBO = "CBO"
    MEMBER = "MEMBER"
    OTHER = "OTHER"


class ReferralStatus(enum.StrEnum):
    """States of the referral life cycle (7003 VI.C-VI.E); transitions live in ``referrals.lifecycle``."""

    RECEIVED = "RECEIVED"
    INFO_REQUESTED = "INFO_REQUESTED"
    READY = "READY"
    PROPOSED = "PROPOSED"
    SENT = "SENT"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    UNPLACED = "UNPLACED"
    ENGAGED = "ENGAGED"
    TAR_SUBMITTED = "TAR_SUBMITTED"
    AUTHORIZED = "AUTHORIZED"
    IN_SERVICE = "IN_SERVICE"
    DISCONTINUED = "DISCONTINUED"


class Referral(Base):
    """A member's referral for one Community Support, with what the matcher needs to place it."""

    __tablename__ = "referrals"

    id: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"), index=True)
    service_key: Mapped[str] = mapped_column(sa.ForeignKey("services.key"), index=True)
    source: Mapped[ReferralSource]
    received_date: Mapped[dt.date] = mapped_column(index=True)
    units_needed: Mapped[int] = mapped_column(default=1)
    status: Mapped[ReferralStatus] = mapped_column(default=ReferralStatus.RECEIVED, index=True)
    # Urgency: a hospital or facility discharge date makes a referral post-discharge.
    discharge_date: Mapped[dt.date | None]
    discharge_from: Mapped[str | None] = mapped_column(sa.String(40))
    # Inputs to the eligibility gates of 7003 VI.F (see referrals.eligibility).
    qualifying_condition: Mapped[str | None] = mapped_column(sa.String(60))
    ihss_status: Mapped[str | None] = mapped_column(sa.String(30))
    hours_per_day: Mapped[float | None]
    housing_support_plan: Mapped[bool] = mapped_column(default=False)
    housing_nav_start: Mapped[dt.date | None]
    documented_change: Mapped[bool] = mapped_column(default=False)
    transferring_from_plan: Mapped[str | None] = mapped_column(sa.String(60))
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    member: Mapped[Member] = relationship()
    service: Mapped[Service] = relationship()
    preferences: Mapped[list[ReferralPreference]] = relationship(
        back_populates="referral", cascade="all, delete-orphan", order_by="ReferralPreference.rank"
    )
    exclusions: Mapped[list[ReferralExclusion]] = relationship(
        back_populates="referral", cascade="all, delete-orphan"
    )
    history: Mapped[list[ReferralStatusChange]] = relationship(
        back_populates="referral", cascade="all, delete-orphan", order_by="ReferralStatusChange.id"
    )

    __table_args__ = (
        sa.CheckConstraint("units_needed >= 1", name="units_positive"),
        sa.Index("ix_referrals_status_service", "status", "service_key"),
        # the overdue filter, the aging chart and the unplaced list: a status, then receipt order
        sa.Index("ix_referrals_status_received_date", "status", "received_date", "id"),
    )


class ReferralPreference(Base):
    """A provider the member asked for, by rank (1 = first choice)."""

    __tablename__ = "referral_preferences"

    referral_id: Mapped[str] = mapped_column(sa.ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("providers.id"))

    referral: Mapped[Referral] = relationship(back_populates="preferences")
    provider: Mapped[Provider] = relationship()

    __table_args__ = (
        sa.CheckConstraint("rank >= 1", name="rank_positive"),
        sa.UniqueConstraint("referral_id", "provider_id", name="uq_referral_preferences_provider"),
    )


class ExclusionReason(enum.StrEnum):
    DECLINED = "DECLINED"
    MEMBER_REFUSED = "MEMBER_REFUSED"


class ReferralExclusion(Base):
    """A provider this referral is never sent to again: it declined, or the member refused it."""

    __tablename__ = "referral_exclusions"

    referral_id: Mapped[str] = mapped_column(sa.ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True)
    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("providers.id"), primary_key=True)
    reason: Mapped[ExclusionReason]
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    referral: Mapped[Referral] = relationship(back_populates="exclusions")


class ReferralStatusChange(Base):
    """One step of a referral's life cycle: the full history is kept, never edited."""

    __tablename__ = "referral_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[str] = mapped_column(sa.ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[ReferralStatus | None]
    to_status: Mapped[ReferralStatus]
    on_date: Mapped[dt.date]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(120))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    reason_code: Mapped[str | None] = mapped_column(sa.String(30))

    referral: Mapped[Referral] = relationship(back_populates="history")

    __table_args__ = (
        # The overdue filter reads only the changes since a cutoff date, from this index alone. It
        # leads with the date on purpose: an index leading with to_status or reason_code (a handful
        # of values) looks selective to SQLite, which has no statistics, and it then prefers it to
        # the referral_id index for one referral's history.
        sa.Index("ix_referral_status_changes_recent", "on_date", "to_status", "reason_code", "from_status",
                 "referral_id"),
    )
