"""Contracted Community Supports providers and the sites they work from."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csmatch.db import Base


class Provider(Base):
    """A provider organisation (one NPI), as the plan's provider relations staff keep it."""

    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    npi: Mapped[str] = mapped_column(sa.String(10), unique=True)
    tin: Mapped[str] = mapped_column(sa.String(9))
    name: Mapped[str] = mapped_column(sa.String(200))
    phone: Mapped[str] = mapped_column(sa.String(10), default="")
    staff_languages: Mapped[list[str]] = mapped_column(default=list)
    cultural_competencies: Mapped[list[str]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)

    sites: Mapped[list[ProviderSite]] = relationship(back_populates="provider", order_by="ProviderSite.id")


class ProviderSite(Base):
    """A place a provider delivers care from; coordinates come from the ZIP centroid when not given."""

    __tablename__ = "provider_sites"

    id: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(80))
    zip: Mapped[str] = mapped_column(sa.String(5))
    county: Mapped[str] = mapped_column(sa.String(40), index=True)
    latitude: Mapped[float]
    longitude: Mapped[float]

    provider: Mapped[Provider] = relationship(back_populates="sites")
