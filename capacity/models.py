"""Contracts, contracted capacity and the capacity reports providers send (7003 VI.E.6)."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csmatch.calendar import span_covers
from csmatch.db import Base, utcnow
from providers.models import Provider, ProviderSite


class Contract(Base):
    """A provider's contract for one service: its dates, counties and contracted capacity.

    Committed units are never stored here: the ledger derives them from active assignments, so
    there is no counter to drift. Writers lock this row (``SELECT ... FOR UPDATE``) before
    committing units, which serialises two coordinators placing into the same contract.
    """

    __tablename__ = "contracts"

    id: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    service_key: Mapped[str] = mapped_column(sa.ForeignKey("services.key"), index=True)
    effective_start: Mapped[dt.date]
    effective_end: Mapped[dt.date | None]
    contracted_capacity: Mapped[int]
    service_radius_miles: Mapped[float | None]
    # 7003 VI.E.5: a provider may keep a waitlist only with the plan's recorded consent.
    waitlist_consent: Mapped[bool] = mapped_column(default=False)
    waitlist_consent_date: Mapped[dt.date | None]

    provider: Mapped[Provider] = relationship()
    counties: Mapped[list[ContractCounty]] = relationship(
        back_populates="contract", cascade="all, delete-orphan", order_by="ContractCounty.county"
    )
    sites: Mapped[list[ContractSite]] = relationship(back_populates="contract", cascade="all, delete-orphan")
    reports: Mapped[list[CapacityReport]] = relationship(
        back_populates="contract", order_by="CapacityReport.reported_date"
    )

    __table_args__ = (
        sa.CheckConstraint("contracted_capacity >= 0", name="capacity_not_negative"),
        sa.CheckConstraint(
            "effective_end IS NULL OR effective_end >= effective_start", name="dates_in_order"
        ),
        sa.CheckConstraint("service_radius_miles IS NULL OR service_radius_miles > 0", name="radius_positive"),
    )

    @property
    def county_names(self) -> list[str]:
        return [c.county for c in self.counties]

    def is_effective(self, on: dt.date) -> bool:
        return span_covers(self.effective_start, self.effective_end, on)


class ContractCounty(Base):
    """A county the contract serves for its service (the member must live in one of them)."""

    __tablename__ = "contract_counties"

    contract_id: Mapped[str] = mapped_column(sa.ForeignKey("contracts.id", ondelete="CASCADE"), primary_key=True)
    county: Mapped[str] = mapped_column(sa.String(40), primary_key=True, index=True)

    contract: Mapped[Contract] = relationship(back_populates="counties")


class ContractSite(Base):
    """A site that delivers the contract's service, with optional site-level capacity."""

    __tablename__ = "contract_sites"

    contract_id: Mapped[str] = mapped_column(sa.ForeignKey("contracts.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[str] = mapped_column(sa.ForeignKey("provider_sites.id"), primary_key=True)
    site_capacity: Mapped[int | None]

    contract: Mapped[Contract] = relationship(back_populates="sites")
    site: Mapped[ProviderSite] = relationship()

    __table_args__ = (
        sa.CheckConstraint("site_capacity IS NULL OR site_capacity >= 0", name="site_capacity_not_negative"),
    )


class CapacityReportKind(enum.StrEnum):
    FULL = "FULL"
    REOPENED = "REOPENED"
    NEW_CAPACITY = "NEW_CAPACITY"
    STAFFING_CHANGE = "STAFFING_CHANGE"


class CapacityReport(Base):
    """A provider's report of a capacity or staffing change, kept as an event (7003 VI.E.6).

    ``change_date`` is when the change happened, ``reported_date`` when the plan heard of it: more
    than 5 business days apart is late.
    """

    __tablename__ = "capacity_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[str] = mapped_column(sa.ForeignKey("contracts.id"), index=True)
    kind: Mapped[CapacityReportKind]
    new_capacity: Mapped[int | None]
    staffing_change: Mapped[str | None] = mapped_column(sa.String(200))
    change_date: Mapped[dt.date]
    reported_date: Mapped[dt.date]
    reported_by: Mapped[str] = mapped_column(sa.String(120))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    contract: Mapped[Contract] = relationship(back_populates="reports")

    __table_args__ = (
        sa.CheckConstraint("new_capacity IS NULL OR new_capacity >= 0", name="new_capacity_not_negative"),
        sa.CheckConstraint(
            "kind <> 'NEW_CAPACITY' OR new_capacity IS NOT NULL", name="new_capacity_given"
        ),
    )
