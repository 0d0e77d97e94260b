"""Import a provider's CS Return Transmission File (CS-RTF), provider to plan (7003 VI.H.4).

The RTF is the provider's answer to the monthly CS-ASF and, by DHCS's closed-loop referral FAQ, the
*only* channel a plan may require for referral-tracking data (data-exchange.md §1, P). Its columns
are those of data-exchange.md §3, read by name (order does not matter; unknown columns are a
warning). Which columns are published and which are csmatch's design is marked there: the status
values other than ``DECLINED``, the decline reasons, the outreach columns, the two-digit
discontinuation codes (§4) and ``members_able_to_serve`` as a capacity figure are all **A**.

All or nothing, in two phases (STYLE.md habit 10):

1. **Validate** every row: each cell is parsed (:mod:`exchange.parsing`), then each row is checked
   against the database: the member (CIN), the authorization number (``CSA-<assignment id>``, see
   :mod:`exchange.asf`), that both belong to the file's provider, and that the status is one the
   referral may take from where it is now (:data:`referrals.lifecycle.TRANSITIONS`), with the
   reasons the life cycle needs (7003 VI.C.3, VI.D). Every problem is collected as a
   :class:`~exchange.errors.RosterError` (file, line, column, message).
2. If there is any error, :class:`RtfImportError` lists them all and **nothing** is written.
   Otherwise the rows are applied in the caller's transaction, inside a savepoint.

Applying a row:

* ``ACCEPTED`` on a ``SENT`` authorization: :func:`placement.services.accept_assignment`.
* ``DECLINED``: :func:`placement.services.decline_assignment` with ``decline_reason``
  (``AT_CAPACITY`` is also a FULL capacity report and re-solves the provider's referrals there).
* ``CLOSED``: the referral is discontinued (:func:`referrals.lifecycle.transition`) with the §4
  code, and the assignment ends (``ENDED``), so its units are free again.
* ``outreach_attempts`` is the provider's running count: the attempts beyond those recorded are
  recorded (:func:`referrals.lifecycle.record_outreach_attempt`) on ``last_outreach_date``.
* ``members_able_to_serve``, when it differs from the contract's capacity in force, becomes a
  ``NEW_CAPACITY`` report (7003 VI.E.6), only for services whose capacity counts members (caseload
  slots, beds, seats, members per month). Like ``csmatch capacity report`` it goes through
  :func:`placement.services.report_capacity`, which re-solves the contract's referrals at once when
  the open units change.

Rows whose status is already applied (an accepted authorization accepted again, a discontinued
referral closed again) change nothing, so importing the same file twice changes nothing the second
time. Each import records one audit event naming the file and its SHA-256.

Order of application: acceptances, closures and outreach notes first, capacity figures next,
declines last (``AT_CAPACITY`` ones at the very end), so a re-solve triggered by a capacity figure
or a decline never moves a referral the same file accepted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from capacity.ledger import effective_capacity
from capacity.models import CapacityReportKind, Contract
from csmatch.catalog import CapacityUnit, load_service_catalog
from csmatch.db import utcnow
from csmatch.models import ServiceCode, record_audit
from exchange.asf import auth_number, parse_auth_number, parse_period
from exchange.errors import RosterError, RosterImportError
from exchange.parsing import (
    Column,
    parse_bool,
    parse_cin,
    parse_date,
    parse_enum,
    parse_int,
    parse_npi,
    parse_phone,
    parse_text,
    parse_tin,
    read_table,
)
from placement.models import Assignment, AssignmentStatus
from placement.services import accept_assignment, decline_assignment, report_capacity
from providers.models import Provider
from referrals.lifecycle import (
    MIN_OUTREACH_ATTEMPTS,
    DeclineReason,
    DiscontinuationReason,
    can_transition,
    outreach_attempts,
    record_outreach_attempt,
    transition,
)
from referrals.models import Member, Referral, ReferralStatus

__all__ = [
    "MEMBER_COUNTED_UNITS",
    "RTF_COLUMNS",
    "LoopClosureReason",
    "RtfImportError",
    "RtfPlan",
    "RtfStatus",
    "RtfSummary",
    "import_rtf",
    "parse_discontinuation_code",
    "rtf_file_name",
    "validate_rtf",
]

#: data-exchange.md §3, in order.
RTF_COLUMNS: tuple[str, ...] = (
    "mcp_id", "mcp_name", "cin", "last_name", "first_name", "dob",
    "new_address_ind", "homeless_ind", "address", "city", "state", "zip", "new_phone_ind", "phone",
    "cs_service", "hcpcs", "modifier", "auth_number",
    "referral_status",
    "referral_status_date",
    "loop_closure_reason",
    "decline_reason",
    "service_start_date", "last_service_date",
    "outreach_attempts", "last_outreach_date",
    "discontinuation_date", "discontinuation_reason_code", "discontinuation_reason",
    "members_able_to_serve",
    "file_date", "reporting_period", "provider_name", "provider_npi", "provider_tin", "provider_phone",
)  # fmt: skip

#: Capacity units that count members, so ``members_able_to_serve`` can stand for the contract's number.
MEMBER_COUNTED_UNITS = frozenset(
    {CapacityUnit.CASELOAD_SLOT, CapacityUnit.MEMBER_PER_MONTH, CapacityUnit.BED, CapacityUnit.PROGRAM_SEAT}
)

_FILE_NAME = re.compile(r"^CSRTF_(\d{10})_([A-Za-z0-9._-]+)_(\d{6})\.csv$", re.IGNORECASE)
_ZIP5 = re.compile(r"^\d{5}$")


class RtfStatus(StrEnum):
    """``referral_status``: the element is P (DHCS CLR FAQ), ``DECLINED`` P, the other values A."""

    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    CLOSED = "CLOSED"


class LoopClosureReason(StrEnum):
    """``loop_closure_reason``: the element P, ``SERVICES_RECEIVED`` P, the others A. Kept as text."""

    SERVICES_RECEIVED = "SERVICES_RECEIVED"
    MEMBER_DECLINED = "MEMBER_DECLINED"
    UNABLE_TO_CONTACT = "UNABLE_TO_CONTACT"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    PROVIDER_AT_CAPACITY = "PROVIDER_AT_CAPACITY"
    OTHER = "OTHER"


class RtfImportError(RosterImportError):
    """The RTF was rejected and nothing was applied; ``errors`` lists every problem (file, line, column)."""


def rtf_file_name(provider_npi: str, plan_id: str, period: str) -> str:
    """``CSRTF_<providerNPI>_<plan>_<YYYYMM>.csv`` (data-exchange.md §1, A)."""
    return f"CSRTF_{provider_npi}_{plan_id}_{period}.csv"


def parse_discontinuation_code(raw: str) -> DiscontinuationReason:
    """A two-digit code of data-exchange.md §4; ``3`` is read as ``03`` (spreadsheets drop the zero).

    >>> parse_discontinuation_code("3"), parse_discontinuation_code("99")
    (<DiscontinuationReason.UNRESPONSIVE: '03'>, <DiscontinuationReason.OTHER: '99'>)
    """
    value = raw.strip()
    if value.isdigit() and len(value) < 2:
        value = value.zfill(2)
    try:
        return DiscontinuationReason(value)
    except ValueError:
        codes = ", ".join(r.value for r in DiscontinuationReason)
        raise ValueError(f"{raw!r} is not a discontinuation reason code ({codes})") from None


def _parse_zip5(raw: str) -> str:
    if not _ZIP5.match(raw):
        raise ValueError(f"{raw!r} is not a 5-digit ZIP code")
    return raw


def _columns() -> list[Column]:
    service_keys = sorted(load_service_catalog())

    def service(raw: str) -> str:
        value = raw.upper()
        if value not in service_keys:
            raise ValueError(f"{raw!r} is not a service key ({', '.join(service_keys)})")
        return value

    text = {"mcp_id": 30, "mcp_name": 120, "last_name": 80, "first_name": 80, "address": 200, "city": 80,
            "state": 2, "hcpcs": 5, "modifier": 2, "discontinuation_reason": 500, "provider_name": 200}
    parsers: dict[str, Any] = {name: parse_text(size) for name, size in text.items()}
    parsers |= {
        "cin": parse_cin,
        "dob": parse_date,
        "new_address_ind": parse_bool,
        "homeless_ind": parse_bool,
        "new_phone_ind": parse_bool,
        "zip": _parse_zip5,
        "phone": parse_phone,
        "cs_service": service,
        "auth_number": parse_auth_number,
        "referral_status": parse_enum(RtfStatus),
        "referral_status_date": parse_date,
        "loop_closure_reason": parse_enum(LoopClosureReason),
        "decline_reason": parse_enum(DeclineReason),
        "service_start_date": parse_date,
        "last_service_date": parse_date,
        "outreach_attempts": parse_int(0, "outreach attempts"),
        "last_outreach_date": parse_date,
        "discontinuation_date": parse_date,
        "discontinuation_reason_code": parse_discontinuation_code,
        "members_able_to_serve": parse_int(0, "members able to serve"),
        "file_date": parse_date,
        "reporting_period": parse_period,
        "provider_npi": parse_npi,
        "provider_tin": parse_tin,
        "provider_phone": parse_phone,
    }
    required = {"cin", "auth_number", "referral_status", "referral_status_date", "provider_npi"}
    return [Column(name, parsers[name], required=name in required) for name in RTF_COLUMNS]


# Validation --------------------------------------------------------------------------------------


@dataclass
class _Action:
    """What one valid row will do."""

    line: int
    assignment_id: int
    referral_id: str
    status: RtfStatus
    kind: str  # accept | decline | close | note (nothing but outreach attempts) | none (already applied)
    on_date: dt.date
    reason: str = ""
    decline_reason: DeclineReason | None = None
    close_code: DiscontinuationReason | None = None
    new_attempts: int = 0
    attempts_from: int = 0
    attempts_date: dt.date | None = None


@dataclass
class _CapacityFigure:
    line: int
    contract_id: str
    value: int
    change_date: dt.date


@dataclass
class RtfPlan:
    """A validated file: what importing it will do (:func:`validate_rtf`)."""

    file: str
    sha256: str
    provider_id: str | None
    rows: int
    actions: list[_Action]
    capacity: list[_CapacityFigure]
    warnings: list[RosterError]
    reported_changes: list[str]


@dataclass
class RtfSummary:
    """What an import did. Lists hold referral ids; ``unchanged`` counts rows already applied."""

    file: str
    provider_id: str | None
    rows: int
    accepted: list[str] = field(default_factory=list)
    declined: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    pending: int = 0
    unchanged: int = 0
    outreach_attempts: int = 0
    capacity_reports: list[int] = field(default_factory=list)
    re_solved: list[str] = field(default_factory=list)
    reported_changes: list[str] = field(default_factory=list)
    warnings: list[RosterError] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.accepted or self.declined or self.closed or self.outreach_attempts or self.capacity_reports)


class _Checker:
    """Checks parsed rows against the database, adding to ``errors`` and building the actions."""

    def __init__(
        self, session: Session, file: str, rows: list[dict[str, Any]], errors: list[RosterError],
        warnings: list[RosterError], *, plan_id: str | None, today: dt.date,
    ) -> None:
        self.session, self.file, self.rows = session, file, rows
        self.errors, self.warnings = errors, warnings
        self.plan_id, self.today = plan_id, today
        self.bad = {(e.line, e.field) for e in errors}
        self.catalog = load_service_catalog()
        self.actions: list[_Action] = []
        self.capacity: dict[str, _CapacityFigure] = {}
        self.reported_changes: list[str] = []
        self._load()

    # -- look-ups, in bulk ----------------------------------------------------------------------

    def _load(self) -> None:
        cins = {r["cin"] for r in self.rows if r["cin"]}
        ids = {r["auth_number"] for r in self.rows if r["auth_number"] is not None}
        npis = {r["provider_npi"] for r in self.rows if r["provider_npi"]}
        name = _FILE_NAME.match(self.file)
        self.name_npi = name[1] if name else None
        self.name_period = name[3] if name else None
        if self.name_npi:
            npis.add(self.name_npi)
        self.members: dict[str, int] = {}
        for chunk in _chunks(sorted(cins)):
            self.members.update(self.session.execute(
                sa.select(Member.cin, Member.id).where(Member.cin.in_(chunk))).tuples().all())
        self.assignments: dict[int, Assignment] = {}
        for id_chunk in _chunks(sorted(ids)):
            for a in self.session.scalars(
                sa.select(Assignment).where(Assignment.id.in_(id_chunk)).options(
                    selectinload(Assignment.referral).selectinload(Referral.history),
                    selectinload(Assignment.contract).selectinload(Contract.reports),
                )
            ):
                self.assignments[a.id] = a
        self.providers = {p.npi: p for p in self.session.scalars(sa.select(Provider).where(Provider.npi.in_(npis)))}
        db_codes: dict[str, set[tuple[str, str]]] = {}
        for service_key, code, modifier in self.session.execute(
            sa.select(ServiceCode.service_key, ServiceCode.code, ServiceCode.modifier)
        ).tuples():
            db_codes.setdefault(service_key, set()).add((code, modifier))
        self.codes = {key: {(c.code, c.modifier) for c in d.codes} for key, d in self.catalog.items()}
        for key, pairs in db_codes.items():
            self.codes.setdefault(key, set()).update(pairs)

    # -- helpers ----------------------------------------------------------------------------------

    def error(self, line: int, column: str, message: str) -> None:
        self.errors.append(RosterError(self.file, line, column, message))

    def warn(self, line: int, column: str, message: str) -> None:
        self.warnings.append(RosterError(self.file, line, column, message))

    def ok(self, row: dict[str, Any], column: str) -> bool:
        """The cell parsed and holds a value."""
        return (row["line"], column) not in self.bad and row[column] is not None

    # -- the checks -----------------------------------------------------------------------------

    def file_provider(self) -> Provider | None:
        """The provider whose file this is: the NPI of the file name, else of the first row."""
        npi = self.name_npi
        if npi is None:
            npi = next((r["provider_npi"] for r in self.rows if self.ok(r, "provider_npi")), None)
        if npi is None:
            return None
        provider = self.providers.get(npi)
        if provider is None and npi == self.name_npi:
            self.error(0, "provider_npi", f"the file name names NPI {npi}, and no provider has it")
        return provider

    def run(self) -> Provider | None:
        provider = self.file_provider()
        seen: dict[int, int] = {}
        for row in self.rows:
            self.check_row(row, provider, seen)
        self.check_capacity()
        return provider

    def check_row(self, row: dict[str, Any], provider: Provider | None, seen: dict[int, int]) -> None:
        line = row["line"]
        if self.ok(row, "provider_npi") and provider is not None and row["provider_npi"] != provider.npi:
            self.error(line, "provider_npi", f"{row['provider_npi']} is not the file's provider "
                                             f"({provider.npi}): one file per provider")
        elif self.ok(row, "provider_npi") and row["provider_npi"] not in self.providers:
            self.error(line, "provider_npi", f"no provider has NPI {row['provider_npi']}")
        if self.plan_id and self.ok(row, "mcp_id") and row["mcp_id"] != self.plan_id:
            self.error(line, "mcp_id", f"{row['mcp_id']!r} is not this plan ({self.plan_id!r})")
        if self.name_period and self.ok(row, "reporting_period") and row["reporting_period"] != self.name_period:
            self.error(line, "reporting_period",
                       f"{row['reporting_period']} differs from the file name's period {self.name_period}")
        if self.ok(row, "new_address_ind") and row["new_address_ind"]:
            self.reported_changes.append(f"line {line}: new address reported")
        if self.ok(row, "new_phone_ind") and row["new_phone_ind"]:
            self.reported_changes.append(f"line {line}: new phone number reported")

        member_id = None
        if self.ok(row, "cin"):
            member_id = self.members.get(row["cin"])
            if member_id is None:
                self.error(line, "cin", f"no member has CIN {row['cin']}")
        if not self.ok(row, "auth_number"):
            return
        number = auth_number(row["auth_number"])
        if row["auth_number"] in seen:
            self.error(line, "auth_number", f"{number} is also on line {seen[row['auth_number']]}")
            return
        seen[row["auth_number"]] = line
        a = self.assignments.get(row["auth_number"])
        if a is None:
            self.error(line, "auth_number", f"no authorization {number}")
            return
        problems = len(self.errors)
        if member_id is not None and a.referral.member_id != member_id:
            self.error(line, "auth_number", f"{number} is not for the member with CIN {row['cin']}")
        if provider is not None and a.provider_id != provider.id:
            self.error(line, "auth_number", f"{number} is not an authorization of provider {provider.npi}")
        service_key = a.referral.service_key
        if self.ok(row, "cs_service") and row["cs_service"] != service_key:
            self.error(line, "cs_service", f"{number} is for {service_key}, not {row['cs_service']}")
        if self.ok(row, "hcpcs") and service_key in self.codes:
            pair = (row["hcpcs"].upper(), (row["modifier"] or "").upper())
            if pair not in self.codes[service_key]:
                self.error(line, "hcpcs", f"{pair[0]}-{pair[1]} is not a code of {service_key}")
        if len(self.errors) > problems or member_id is None:
            return
        if self.ok(row, "referral_status") and self.ok(row, "referral_status_date"):
            self.check_status(row, a)
        if self.ok(row, "members_able_to_serve"):
            self.check_capacity_figure(row, a)

    def check_status(self, row: dict[str, Any], a: Assignment) -> None:
        line, status, on_date = row["line"], row["referral_status"], row["referral_status_date"]
        referral = a.referral
        number = auth_number(a.id)
        if self.ok(row, "file_date") and on_date > row["file_date"]:
            self.error(line, "referral_status_date", f"{on_date} is after the file date {row['file_date']}")
            return
        text = (row["discontinuation_reason"] or "").strip()
        if self.ok(row, "decline_reason") and status is not RtfStatus.DECLINED:
            self.error(line, "decline_reason", f"given with referral_status {status}: only a DECLINED row has one")
        for column in ("discontinuation_reason_code", "discontinuation_date"):
            if self.ok(row, column) and status is not RtfStatus.CLOSED:
                self.error(line, column, f"given with referral_status {status}: only a CLOSED row has one")

        existing = outreach_attempts(self.session, referral.id)
        reported = row["outreach_attempts"] if self.ok(row, "outreach_attempts") else None
        new = max(0, reported - existing) if reported is not None else 0
        attempts_date = row["last_outreach_date"] if self.ok(row, "last_outreach_date") else on_date
        if new and referral.status is ReferralStatus.DISCONTINUED:
            self.warn(line, "outreach_attempts",
                      f"referral {referral.id} is already discontinued: {new} more attempts not recorded")
            new = 0
        if new and attempts_date < referral.received_date:
            self.error(line, "last_outreach_date" if self.ok(row, "last_outreach_date") else "referral_status_date",
                       f"{attempts_date} is before the referral was received on {referral.received_date}")
            return
        loop = row["loop_closure_reason"]
        reason = f"CS-RTF {self.file} line {line}" + (f": {loop}" if loop else "") + (f": {text}" if text else "")
        action = _Action(line, a.id, referral.id, status, "none", on_date, reason=reason, new_attempts=new,
                         attempts_from=existing, attempts_date=attempts_date)
        last_step = max((c.on_date for c in referral.history), default=None)

        def dated(when: dt.date, column: str, *, after_attempts: bool) -> bool:
            floor = [(referral.received_date, "the referral was received")]
            if last_step is not None:
                floor.append((last_step, "the referral's last recorded step"))
            if after_attempts and new:
                floor.append((attempts_date, "the last outreach attempt"))
            for bound, what in floor:
                if when < bound:
                    self.error(line, column, f"{when} is before {what} on {bound}")
                    return False
            return True

        if status is RtfStatus.PENDING:
            if a.status is not AssignmentStatus.SENT:
                self.error(line, "referral_status", _cannot(number, a, "be PENDING"))
                return
            action.kind = "note"
        elif status is RtfStatus.ACCEPTED:
            if a.status is AssignmentStatus.ACCEPTED:
                action.kind = "none"
            elif a.status is not AssignmentStatus.SENT:
                self.error(line, "referral_status", _cannot(number, a, "be accepted"))
                return
            elif not can_transition(referral.status, ReferralStatus.ACCEPTED):
                self.error(line, "referral_status",
                           f"referral {referral.id} is {referral.status}: it cannot be accepted now")
                return
            elif not dated(on_date, "referral_status_date", after_attempts=False):
                return
            else:
                action.kind = "accept"
        elif status is RtfStatus.DECLINED:
            decline = row["decline_reason"] if self.ok(row, "decline_reason") else None
            if decline is None:
                if (line, "decline_reason") not in self.bad:
                    allowed = ", ".join(DeclineReason)
                    self.error(line, "decline_reason", f"a DECLINED row needs a decline reason ({allowed})")
                return
            if decline is DeclineReason.OTHER and not text:
                self.error(line, "discontinuation_reason",
                           "decline reason OTHER needs the reason in words (in discontinuation_reason)")
                return
            action.decline_reason = decline
            if a.status is AssignmentStatus.DECLINED:
                action.kind = "none"
            elif a.status is AssignmentStatus.ACCEPTED:
                self.error(line, "referral_status",
                           f"{number} was accepted on {a.answered_on}: it cannot be declined now; to stop "
                           "serving the member send CLOSED with discontinuation code 08")
                return
            elif a.status is not AssignmentStatus.SENT:
                self.error(line, "referral_status", _cannot(number, a, "be declined"))
                return
            elif not can_transition(referral.status, ReferralStatus.DECLINED):
                self.error(line, "referral_status",
                           f"referral {referral.id} is {referral.status}: it cannot be declined now")
                return
            elif not dated(on_date, "referral_status_date", after_attempts=True):
                return
            else:
                action.kind = "decline"
        else:  # CLOSED
            code = row["discontinuation_reason_code"] if self.ok(row, "discontinuation_reason_code") else None
            if code is None:
                if (line, "discontinuation_reason_code") not in self.bad:
                    codes = "; ".join(f"{r.value} {r.description}" for r in DiscontinuationReason)
                    self.error(line, "discontinuation_reason_code",
                               f"a CLOSED row needs a discontinuation reason code (7003 VI.D): {codes}")
                return
            if code is DiscontinuationReason.OTHER and not text:
                self.error(line, "discontinuation_reason", "code 99 (other) needs the reason in words")
                return
            if code is DiscontinuationReason.UNRESPONSIVE and max(existing, reported or 0) < MIN_OUTREACH_ATTEMPTS:
                self.error(line, "discontinuation_reason_code",
                           f"03 (unresponsive) needs at least {MIN_OUTREACH_ATTEMPTS} outreach attempts "
                           f"(7003 VI.D.1.c): {reported or 0} in outreach_attempts, {existing} recorded")
                return
            action.close_code = code
            close_date = row["discontinuation_date"] if self.ok(row, "discontinuation_date") else on_date
            column = "discontinuation_date" if self.ok(row, "discontinuation_date") else "referral_status_date"
            action.on_date = close_date
            if referral.status is ReferralStatus.DISCONTINUED:
                action.kind = "none"
            elif a.status not in (AssignmentStatus.SENT, AssignmentStatus.ACCEPTED):
                self.error(line, "referral_status", _cannot(number, a, "be closed"))
                return
            elif not can_transition(referral.status, ReferralStatus.DISCONTINUED):
                self.error(line, "referral_status",
                           f"referral {referral.id} is {referral.status}: it cannot be discontinued now")
                return
            elif not dated(close_date, column, after_attempts=True):
                return
            else:
                action.kind = "close"
        self.actions.append(action)

    def check_capacity_figure(self, row: dict[str, Any], a: Assignment) -> None:
        line, value = row["line"], row["members_able_to_serve"]
        contract = a.contract
        definition = self.catalog.get(contract.service_key)
        if definition is None or definition.capacity_unit not in MEMBER_COUNTED_UNITS:
            unit = definition.capacity_unit if definition else "an unknown unit"
            self.warn(line, "members_able_to_serve",
                      f"ignored: contract {contract.id} counts {unit}, not members")
            return
        earlier = self.capacity.get(contract.id)
        if earlier is not None:
            if earlier.value != value:
                self.error(line, "members_able_to_serve",
                           f"{value} differs from {earlier.value} on line {earlier.line} for contract {contract.id}")
            return
        change_date = row["file_date"] if self.ok(row, "file_date") else self.today
        self.capacity[contract.id] = _CapacityFigure(line, contract.id, value, change_date)

    def check_capacity(self) -> None:
        for figure in list(self.capacity.values()):
            contract = next(a.contract for a in self.assignments.values() if a.contract_id == figure.contract_id)
            if not contract.is_effective(figure.change_date):
                self.error(figure.line, "members_able_to_serve",
                           f"contract {contract.id} is not in effect on {figure.change_date}")
                del self.capacity[figure.contract_id]
            elif effective_capacity(contract, figure.change_date) == figure.value:
                del self.capacity[figure.contract_id]  # nothing new


def _cannot(number: str, a: Assignment, what: str) -> str:
    why = {
        AssignmentStatus.PROPOSED: "it was never sent to the provider",
        AssignmentStatus.SUPERSEDED: "the referral was moved to another provider",
        AssignmentStatus.WITHDRAWN: "the referral was withdrawn",
        AssignmentStatus.DECLINED: f"the provider declined it on {a.answered_on}",
        AssignmentStatus.ENDED: "it has ended",
        AssignmentStatus.ACCEPTED: f"the provider accepted it on {a.answered_on}",
        AssignmentStatus.SENT: "the provider has not answered it",
    }[a.status]
    return f"{number} is {a.status}: {why}; it cannot {what}"


def _chunks(items: list[Any], size: int = 1000) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def validate_rtf(
    session: Session, path: str | Path, *, plan_id: str | None = None, today: dt.date | None = None,
) -> RtfPlan:
    """Parse and check a CS-RTF against the database without writing anything.

    ``plan_id``, when given, must match every row's ``mcp_id``. ``today`` is the date the plan
    received the file (default: today): the ``reported_date`` of capacity reports.

    :raise RtfImportError: listing every problem by file, line and column.
    """
    path = Path(path)
    today = today or dt.date.today()
    errors: list[RosterError] = []
    warnings: list[RosterError] = []
    table = read_table(path, _columns(), errors, warnings)
    if any(e.line <= 1 for e in errors):  # no header, or required columns missing: rows cannot be judged
        raise RtfImportError(sorted(errors))
    checker = _Checker(session, path.name, table.rows, errors, warnings, plan_id=plan_id, today=today)
    provider = checker.run()
    if errors:
        raise RtfImportError(sorted(errors))
    return RtfPlan(
        file=path.name, sha256=_sha256(path), provider_id=provider.id if provider else None, rows=len(table.rows),
        actions=checker.actions, capacity=list(checker.capacity.values()), warnings=warnings,
        reported_changes=checker.reported_changes,
    )


# Applying ----------------------------------------------------------------------------------------

_ORDER = {"accept": 0, "close": 1, "note": 2, "none": 2, "decline": 3}


def _order(action: _Action) -> tuple[int, int, int]:
    at_capacity = action.kind == "decline" and action.decline_reason is DeclineReason.AT_CAPACITY
    return _ORDER[action.kind], int(at_capacity), action.line


def _record_attempts(session: Session, referral: Referral, action: _Action, *, actor: str, file: str) -> int:
    assert action.attempts_date is not None
    for n in range(action.new_attempts):
        record_outreach_attempt(
            session, referral, actor=actor, on_date=action.attempts_date,
            note=f"CS-RTF {file} line {action.line}: attempt {action.attempts_from + n + 1}",
        )
    return action.new_attempts


def _apply(
    session: Session, plan: RtfPlan, *, actor: str, today: dt.date, summary: RtfSummary,
) -> None:
    actions = sorted(plan.actions, key=_order)
    declines = [a for a in actions if a.kind == "decline"]
    for action in (a for a in actions if a.kind != "decline"):
        assignment = session.get(Assignment, action.assignment_id)
        assert assignment is not None
        referral = assignment.referral
        if action.kind == "accept":
            accept_assignment(session, assignment.id, actor=actor, on_date=action.on_date)
            summary.accepted.append(referral.id)
            summary.outreach_attempts += _record_attempts(session, referral, action, actor=actor, file=plan.file)
        elif action.kind == "close":
            assert action.close_code is not None
            summary.outreach_attempts += _record_attempts(session, referral, action, actor=actor, file=plan.file)
            transition(session, referral, ReferralStatus.DISCONTINUED, actor=actor, on_date=action.on_date,
                       reason=action.reason, reason_code=action.close_code.value)
            assignment.status = AssignmentStatus.ENDED
            assignment.ended_at = utcnow()
            summary.closed.append(referral.id)
        else:
            summary.outreach_attempts += _record_attempts(session, referral, action, actor=actor, file=plan.file)
            if action.kind == "note":
                summary.pending += 1
            else:
                summary.unchanged += 1
    for figure in plan.capacity:
        outcome = report_capacity(
            session, figure.contract_id, CapacityReportKind.NEW_CAPACITY, figure.change_date, today, actor,
            new_capacity=figure.value, note=f"members_able_to_serve in CS-RTF {plan.file} line {figure.line}",
        )
        summary.capacity_reports.append(outcome.recorded.report.id)
        if outcome.resolve is not None:
            summary.re_solved.append(figure.contract_id)
    for action in declines:
        assignment = session.get(Assignment, action.assignment_id)
        assert assignment is not None and action.decline_reason is not None
        if assignment.status is not AssignmentStatus.SENT:
            # an AT_CAPACITY decline earlier in this file re-solved the provider's referrals
            summary.warnings.append(RosterError(
                plan.file, action.line, "referral_status",
                f"{auth_number(assignment.id)} was already moved by the re-solve of an earlier row; not declined",
            ))
            continue
        summary.outreach_attempts += _record_attempts(session, assignment.referral, action, actor=actor,
                                                      file=plan.file)
        decline_assignment(session, assignment.id, reason_code=action.decline_reason.value, actor=actor,
                           on_date=action.on_date, reason=action.reason)
        summary.declined.append(action.referral_id)


def import_rtf(
    session: Session, path: str | Path, *, actor: str, plan_id: str | None = None, today: dt.date | None = None,
) -> RtfSummary:
    """Validate a provider's CS-RTF, then apply it in the caller's transaction (module docstring).

    Nothing is written unless every row is valid; applying runs in a savepoint, so an unexpected
    failure part-way leaves the session as it was. The caller commits.

    :raise RtfImportError: listing every problem by file, line and column; nothing was applied.
    :raise ValueError: if ``actor`` is empty.
    """
    if not actor.strip():
        raise ValueError("actor: say who imports the file")
    today = today or dt.date.today()
    plan = validate_rtf(session, path, plan_id=plan_id, today=today)
    summary = RtfSummary(file=plan.file, provider_id=plan.provider_id, rows=plan.rows,
                         reported_changes=plan.reported_changes, warnings=list(plan.warnings))
    with session.begin_nested():
        _apply(session, plan, actor=actor, today=today, summary=summary)
        record_audit(
            session, actor=actor, action="exchange.rtf_import", entity_type="file", entity_id=plan.file[:60],
            details={
                "sha256": plan.sha256, "provider_id": plan.provider_id, "rows": plan.rows,
                "accepted": summary.accepted, "declined": summary.declined, "closed": summary.closed,
                "pending": summary.pending, "unchanged": summary.unchanged,
                "outreach_attempts": summary.outreach_attempts, "capacity_reports": summary.capacity_reports,
                "re_solved": summary.re_solved, "warnings": [str(w) for w in summary.warnings],
            },
        )
    return summary
