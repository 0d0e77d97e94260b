"""Capacity pages: the board (positions from :mod:`capacity.ledger`), history, and reports.

Recording a report goes through :func:`capacity.services.record_capacity_report`; when it says a
re-solve is needed (a FULL report, or capacity cut), the re-solve runs in the same transaction
through :mod:`web.domain`, and :class:`ReportOutcome` says what happened in words.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from capacity.ledger import CapacityPoint, CapacityPosition, capacity_history, capacity_positions
from capacity.models import CapacityReport, CapacityReportKind, Contract, ContractCounty
from capacity.services import STAFFING_CHANGE_MAX_LENGTH, RecordedReport, record_capacity_report
from csmatch.models import Service
from placement.models import Assignment, AssignmentStatus
from providers.models import Provider
from referrals.models import Referral
from web import domain
from web.charts import Series, step_chart
from web.common import Page, PageRequest
from web.queue.services import overdue_branches

__all__ = [
    "BOARD_SHOW",
    "Board",
    "BoardRow",
    "ReportInput",
    "ReportOutcome",
    "board",
    "board_page",
    "history_charts",
    "parse_report",
    "report_timeline",
    "submit_report",
]


@dataclass(frozen=True)
class BoardRow:
    """One provider × service line of the capacity board."""

    provider_id: str
    provider_name: str
    service_key: str
    service_name: str
    capacity_unit: str
    position: CapacityPosition
    overdue_answers: int
    overdue_updates: int

    @property
    def silent(self) -> bool:
        """The provider owes an answer (2 business days) or a weekly update (7003 VI.C.3, VI.E.2)."""
        return self.overdue_answers + self.overdue_updates > 0


def overdue_by_provider(session: Session, as_of: dt.date, provider_id: str | None = None,
                        ) -> dict[str, tuple[int, int]]:
    """Per provider (or for one): (referrals sent and not answered in time, accepted ones with no
    weekly update)."""
    # One query per clock, each driven from the referrals' (status, received_date) index: only SENT
    # referrals have an answer clock and only ACCEPTED ones an update clock.
    branches = overdue_branches(as_of)
    waiting = [AssignmentStatus.SENT, AssignmentStatus.ACCEPTED]
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for clock in ("answer", "update"):
        stmt = (
            sa.select(Assignment.provider_id, Assignment.status, sa.func.count())
            .select_from(Referral)
            .join(Assignment, sa.and_(Assignment.referral_id == Referral.id, Assignment.status.in_(waiting)))
            .where(branches[clock])
            .group_by(Assignment.provider_id, Assignment.status)
        )
        if provider_id is not None:
            stmt = stmt.where(Assignment.provider_id == provider_id)
        for provider, status, n in session.execute(stmt):
            found[provider][0 if status == AssignmentStatus.SENT else 1] += n
    return {k: (v[0], v[1]) for k, v in found.items()}


def board(session: Session, as_of: dt.date, *, county: str | None = None, service: str | None = None,
          provider_id: str | None = None) -> list[BoardRow]:
    """The board: every contract in effect, one aggregate query, silent providers flagged."""
    positions = capacity_positions(session, county=county, service_key=service, provider_id=provider_id,
                                   effective_only=True, as_of=as_of)
    providers = dict(session.execute(sa.select(Provider.id, Provider.name)).tuples().all())
    catalogue = {k: (n, u) for k, n, u in session.execute(sa.select(Service.key, Service.name, Service.capacity_unit))}
    overdue = overdue_by_provider(session, as_of, provider_id)
    rows = [
        BoardRow(
            provider_id=p.provider_id, provider_name=providers.get(p.provider_id, p.provider_id),
            service_key=p.service_key, service_name=catalogue.get(p.service_key, (p.service_key, ""))[0],
            capacity_unit=catalogue.get(p.service_key, ("", ""))[1], position=p,
            overdue_answers=overdue.get(p.provider_id, (0, 0))[0],
            overdue_updates=overdue.get(p.provider_id, (0, 0))[1],
        )
        for p in positions
    ]
    return sorted(rows, key=lambda r: (r.provider_name, r.service_name))


# ?show= on the board: every contract, the full ones, those of silent providers, or either
BOARD_SHOW = {"full": "reported full", "silent": "provider silent", "attention": "full or silent"}


@dataclass(frozen=True)
class Board:
    """One page of the board, and the counts of the whole filtered board for its cards."""

    page: Page[BoardRow]
    contracts: int
    full: int
    silent_providers: int


def _needs_attention(row: BoardRow) -> bool:
    return row.silent or row.position.reported_full


def board_page(session: Session, as_of: dt.date, page: PageRequest, *, county: str | None = None,
               service: str | None = None, provider_id: str | None = None, show: str | None = None) -> Board:
    """The board as the capacity page shows it: filtered, the rows that need someone (a silent
    provider, a contract reported full) first, then by provider and service; one page of rows.

    Every contract in effect is still read (3,000 at 100,000 referrals: one aggregate query and one
    per clock); only a page is drawn.

    :raise ValueError: for a ``show`` not in :data:`BOARD_SHOW`.
    """
    if show is not None and show not in BOARD_SHOW:
        raise ValueError(f"show must be one of {', '.join(BOARD_SHOW)}, not {show!r}")
    rows = board(session, as_of, county=county, service=service, provider_id=provider_id)
    if show == "full":
        rows = [r for r in rows if r.position.reported_full]
    elif show == "silent":
        rows = [r for r in rows if r.silent]
    elif show == "attention":
        rows = [r for r in rows if _needs_attention(r)]
    rows.sort(key=lambda r: not _needs_attention(r))  # stable: by provider and service within each part
    return Board(
        page=Page(items=rows[page.offset:page.offset + page.per_page], page=page.page, per_page=page.per_page,
                  total=len(rows)),
        contracts=len(rows), full=sum(1 for r in rows if r.position.reported_full),
        silent_providers=len({r.provider_id for r in rows if r.silent}),
    )


def history_charts(session: Session, *, provider_id: str | None = None, county: str | None = None,
                   start: dt.date | None = None, end: dt.date | None = None) -> list[tuple[str, Any]]:
    """One step chart per service of capacity, committed and open units over time."""
    points = capacity_history(session, provider_id=provider_id, county=county, start=start, end=end)
    by_service: dict[str, list[CapacityPoint]] = defaultdict(list)
    for p in points:
        by_service[p.service_key].append(p)
    names = dict(session.execute(sa.select(Service.key, Service.name)).tuples().all())
    charts = []
    for key, series in sorted(by_service.items()):
        title = f"{names.get(key, key)}: capacity over time"
        chart = step_chart([
            Series("contracted", [(p.date, p.contracted) for p in series], dashed=True),
            Series("capacity in force", [(p.date, p.capacity) for p in series]),
            Series("committed", [(p.date, p.committed) for p in series]),
            Series("open", [(p.date, p.open) for p in series]),
        ], title=title, start=start, end=end)
        charts.append((title, chart))
    return charts


def report_timeline(session: Session, page: PageRequest, *, provider_id: str | None = None,
                    county: str | None = None) -> Page[CapacityReport]:
    """Capacity and staffing reports, newest change first, of one provider, one county, or all."""
    stmt = sa.select(CapacityReport).join(Contract, Contract.id == CapacityReport.contract_id)
    if provider_id:
        stmt = stmt.where(Contract.provider_id == provider_id)
    if county:
        stmt = stmt.where(sa.exists().where(ContractCounty.contract_id == Contract.id,
                                            ContractCounty.county == county))
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    items = list(session.scalars(
        stmt.options(joinedload(CapacityReport.contract).joinedload(Contract.provider))
        .order_by(CapacityReport.change_date.desc(), CapacityReport.id.desc())
        .limit(page.per_page).offset(page.offset)
    ))
    return Page(items=items, page=page.page, per_page=page.per_page, total=total)


@dataclass(frozen=True)
class ReportInput:
    """A capacity or staffing report as submitted (a form or a JSON body), already typed."""

    contract_id: str
    kind: CapacityReportKind
    change_date: dt.date
    new_capacity: int | None
    staffing_change: str | None
    note: str


def parse_report(data: Mapping[str, Any], as_of: dt.date) -> tuple[ReportInput | None, list[dict[str, str]]]:
    """Type-check every field and return the input, or None and *all* the errors found.

    Each error is ``{"pointer": "#/field", "detail": message}``; ``change_date`` defaults to
    ``as_of`` and may not be later than 60 days after it.
    """
    errors: list[dict[str, str]] = []

    def error(name: str, message: str) -> None:
        errors.append({"pointer": f"#/{name}", "detail": message})

    contract_id = str(data.get("contract_id") or "").strip()
    if not contract_id:
        error("contract_id", "required")
    kind = None
    raw_kind = str(data.get("kind") or "").strip()
    try:
        kind = CapacityReportKind(raw_kind)
    except ValueError:
        error("kind", f"must be one of {', '.join(k.value for k in CapacityReportKind)}, not {raw_kind!r}")
    change_date = as_of
    raw_date = data.get("change_date")
    if raw_date not in (None, ""):
        try:
            change_date = dt.date.fromisoformat(str(raw_date))
        except ValueError:
            error("change_date", f"must be a date YYYY-MM-DD, not {raw_date!r}")
        else:
            if change_date > as_of + dt.timedelta(days=60):
                error("change_date", f"at most 60 days ahead ({(as_of + dt.timedelta(days=60)).isoformat()})")
    new_capacity = None
    raw_capacity = data.get("new_capacity")
    if raw_capacity not in (None, ""):
        if isinstance(raw_capacity, bool) or not str(raw_capacity).strip().lstrip("-").isdigit():
            error("new_capacity", f"must be a whole number, not {raw_capacity!r}")
        else:
            new_capacity = int(str(raw_capacity).strip())
            if new_capacity < 0:
                error("new_capacity", f"must be 0 or more, not {new_capacity}")
    if kind is CapacityReportKind.NEW_CAPACITY and raw_capacity in (None, ""):
        error("new_capacity", "required for a NEW_CAPACITY report")
    staffing = str(data.get("staffing_change") or "").strip() or None
    if staffing and len(staffing) > STAFFING_CHANGE_MAX_LENGTH:
        error("staffing_change", f"at most {STAFFING_CHANGE_MAX_LENGTH} characters, got {len(staffing)}")
    if kind is CapacityReportKind.STAFFING_CHANGE and not staffing:
        error("staffing_change", "required for a STAFFING_CHANGE report: say what changed")
    note = str(data.get("note") or "").strip()
    if errors or kind is None:
        return None, errors
    return ReportInput(contract_id, kind, change_date, new_capacity, staffing, note), []


@dataclass(frozen=True)
class ReportOutcome:
    """What recording a report did: the report, and the re-solve if one ran."""

    recorded: RecordedReport
    run: Any | None
    resolve_pending: bool

    def message(self) -> str:
        r = self.recorded
        text = f"{r.report.kind.value.replace('_', ' ').lower()} report recorded for contract {r.report.contract_id}"
        if r.late:
            text += f" (late: due {r.due_date.isoformat()}, 7003 VI.E.6)"
        text += f"; open units {r.before.open} → {r.after.open}."
        if self.run is not None:
            text += (f" Re-solve run {self.run.id}: {self.run.moved} referral(s) moved to other providers, "
                     f"{self.run.newly_placed} newly placed, {self.run.unplaced} unplaced.")
        elif self.resolve_pending:
            text += " The referrals it displaces still need a re-solve (the placement service is not available)."
        return text


class NotYourContract(LookupError):
    """A provider user named a contract of another organisation (or none): answered as 404."""


def submit_report(session: Session, data: ReportInput, *, actor: str, as_of: dt.date,
                  provider_id: str | None = None) -> ReportOutcome:
    """Record the report; re-solve when it displaces referrals.

    :raise NotYourContract: if ``provider_id`` is given and the contract is not that provider's.
    :raise capacity.services.CapacityReportError: naming the field the ledger refused.
    :raise capacity.ledger.UnknownContract: if no contract has that id.
    """
    if provider_id is not None:
        owner = session.scalar(sa.select(Contract.provider_id).where(Contract.id == data.contract_id))
        if owner != provider_id:
            raise NotYourContract(data.contract_id)
    recorded = record_capacity_report(
        session, data.contract_id, data.kind, data.change_date, as_of, actor,
        new_capacity=data.new_capacity, staffing_change=data.staffing_change, note=data.note,
    )
    run, pending = None, False
    if recorded.resolve_needed:
        try:
            run = domain.resolve_after_capacity_report(session, data.contract_id, recorded.report.id, actor=actor,
                                                       as_of=as_of)
        except domain.ServiceUnavailable:
            pending = True
    return ReportOutcome(recorded=recorded, run=run, resolve_pending=pending)


def contracts_of(session: Session, provider_id: str | None = None) -> list[Contract]:
    """Contracts (with provider and service), of one provider or all, for the report form."""
    stmt = sa.select(Contract).options(joinedload(Contract.provider)).order_by(Contract.provider_id, Contract.id)
    if provider_id:
        stmt = stmt.where(Contract.provider_id == provider_id)
    return list(session.scalars(stmt))
