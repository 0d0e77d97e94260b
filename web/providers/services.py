"""Providers for the roster pages and the API: lists (paginated, filtered in SQL) and details."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from capacity.models import Contract, ContractCounty
from providers.models import Provider
from web.common import Page, PageRequest

__all__ = ["ProviderRow", "get_provider", "list_providers", "provider_choices"]


@dataclass(frozen=True)
class ProviderRow:
    provider: Provider
    services: list[str]
    counties: list[str]


def list_providers(session: Session, page: PageRequest, *, county: str | None = None, service: str | None = None,
                   q: str | None = None, provider_id: str | None = None) -> Page[ProviderRow]:
    """Providers by name; ``county``/``service`` keep those with a contract there; ``provider_id``
    scopes the list to one organisation (a provider user's own)."""
    stmt = sa.select(Provider)
    if provider_id:
        stmt = stmt.where(Provider.id == provider_id)
    if q:
        stmt = stmt.where(sa.or_(Provider.name.ilike(f"%{q}%"), Provider.id == q, Provider.npi == q))
    if county or service:
        contract = sa.select(Contract.id).where(Contract.provider_id == Provider.id)
        if service:
            contract = contract.where(Contract.service_key == service)
        if county:
            contract = contract.where(sa.exists().where(ContractCounty.contract_id == Contract.id,
                                                        ContractCounty.county == county))
        stmt = stmt.where(contract.exists())
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    providers = list(session.scalars(stmt.options(selectinload(Provider.sites))
                                     .order_by(Provider.name, Provider.id).limit(page.per_page).offset(page.offset)))
    ids = [p.id for p in providers]
    services: dict[str, set[str]] = {i: set() for i in ids}
    counties: dict[str, set[str]] = {i: set() for i in ids}
    for pid, key, county_name in session.execute(
        sa.select(Contract.provider_id, Contract.service_key, ContractCounty.county)
        .outerjoin(ContractCounty, ContractCounty.contract_id == Contract.id)
        .where(Contract.provider_id.in_(ids))
    ):
        services[pid].add(key)
        if county_name:
            counties[pid].add(county_name)
    items = [ProviderRow(p, sorted(services[p.id]), sorted(counties[p.id])) for p in providers]
    return Page(items=items, page=page.page, per_page=page.per_page, total=total)


def get_provider(session: Session, provider_id: str) -> Provider | None:
    """Return the provider with its sites, or None if there is no provider with that id."""
    return session.scalar(sa.select(Provider).where(Provider.id == provider_id)
                          .options(selectinload(Provider.sites)))


def provider_choices(session: Session) -> list[tuple[str, str]]:
    """(id, name) of every provider, for filters."""
    return [(i, n) for i, n in session.execute(sa.select(Provider.id, Provider.name).order_by(Provider.name))]
