"""The monthly CS Authorization Status File (CS-ASF), plan to provider (7003 VI.H.4).

Each month the plan sends every contracted provider the members it has authorized and the members
referred to it for outreach (data-exchange.md §1: Health Net's CSASF "lists authorized members and
potential members for outreach"). The DHCS guidance that defines the file was not available, so
the columns are csmatch's design, in the order of data-exchange.md §2 (status **A** unless noted):
UTF-8, comma, RFC 4180 quoting with CRLF line ends, one header row, dates ``YYYY-MM-DD``, named
``CSASF_<plan>_<providerNPI>_<YYYYMM>.csv``.

Which assignments a file lists
    The provider's assignments that were sent on or before the last day of the period and had not
    ended before its first day: ``SENT`` ones as ``OUTREACH`` (``auth_status`` ``PENDING``),
    ``ACCEPTED`` ones as ``AUTHORIZED`` (``APPROVED`` once the referral is ``AUTHORIZED`` or
    ``IN_SERVICE``, else ``PENDING`` while the TAR is pending), and those that ended during or after
    the period (the assignment ``ENDED`` or the referral ``DISCONTINUED``) as ``TERMINATED`` with
    ``auth_end``. Proposals the lead has not sent yet are not the provider's business.

Authorization number
    csmatch has no authorization number column yet; ``auth_number`` is derived from the assignment
    id as ``CSA-<id>`` (:func:`auth_number`), stable for the life of the assignment, and the CS-RTF
    import reads it back with :func:`parse_auth_number`.

HCPCS code
    The *first* code-modifier pair the service catalogue lists for the service
    (``csmatch/data/hcpcs_codes.csv``, data-exchange.md §5, status P2), with its unit; a unit outside
    the §2 list (``PER_SESSION``, ``UNKNOWN``) is left blank rather than guessed.

The rows are sorted (CIN, service, authorization number), so exporting twice gives the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from csmatch.catalog import BillingUnit, ServiceDefinition, load_service_catalog
from csmatch.models import ServiceCode, record_audit
from exchange.parsing import parse_identifier
from placement.models import Assignment, AssignmentStatus
from providers.models import Provider
from referrals.models import Member, Referral, ReferralStatus

__all__ = [
    "ASF_COLUMNS",
    "ASF_UNITS",
    "AsfExportError",
    "AsfRecordType",
    "AuthStatus",
    "asf_file_name",
    "asf_rows",
    "auth_number",
    "export_asf",
    "export_asf_all",
    "parse_auth_number",
    "parse_period",
    "period_bounds",
    "write_csv",
]

#: data-exchange.md §2, in order (all status A; see the module docstring).
ASF_COLUMNS: tuple[str, ...] = (
    "mcp_id", "mcp_name",
    "record_type",
    "cin",
    "last_name", "first_name", "dob", "sex",
    "address", "city", "state", "zip", "county",
    "phone", "preferred_language", "homeless_ind",
    "cs_service",
    "hcpcs", "modifier",
    "auth_number", "auth_status",
    "auth_start", "auth_end",
    "units_authorized", "unit",
    "referral_date", "referral_source",
    "provider_npi", "provider_tin", "provider_name",
    "file_date", "reporting_period",
)  # fmt: skip

#: The ``unit`` values §2 allows; other catalogue units are written blank.
ASF_UNITS = frozenset({"PER_DIEM", "PER_15_MIN", "PER_MONTH", "PER_MEAL", "PER_SERVICE", "PER_VISIT"})

#: Members live in California: the plan's service area is 24 Northern California counties.
STATE = "CA"

_PERIOD = re.compile(r"^(\d{4})(\d{2})$")
_AUTH_NUMBER = re.compile(r"^CSA-?0*(\d{1,18})$")
_SEX_CODES = frozenset({"F", "M", "X", "U"})


class AsfRecordType(StrEnum):
    """``record_type`` (§2 row 2; the idea P2 from Health Net, the codes A)."""

    AUTHORIZED = "AUTHORIZED"
    OUTREACH = "OUTREACH"  # a potential member: sent to the provider, not yet accepted


class AuthStatus(StrEnum):
    """``auth_status`` (§2 row 9, A). csmatch writes APPROVED, PENDING and TERMINATED."""

    APPROVED = "APPROVED"
    PENDING = "PENDING"
    DENIED = "DENIED"
    MODIFIED = "MODIFIED"
    TERMINATED = "TERMINATED"


class AsfExportError(ValueError):
    """An export that cannot be made; ``field`` names the argument, the message the value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


# Identifiers and periods ----------------------------------------------------------------------


def auth_number(assignment_id: int) -> str:
    """The authorization number csmatch writes for an assignment (derived: no column holds one yet).

    >>> auth_number(42)
    'CSA-42'
    """
    return f"CSA-{assignment_id}"


def parse_auth_number(raw: str) -> int:
    """Read an authorization number back to the assignment id (``CSA-42``; ``csa42`` is tolerated).

    >>> parse_auth_number("CSA-42"), parse_auth_number("csa-0042")
    (42, 42)
    """
    match = _AUTH_NUMBER.match(raw.strip().upper())
    if not match:
        raise ValueError(f"{raw!r} is not a csmatch authorization number (CSA-<number>)")
    return int(match[1])


def parse_period(raw: str) -> str:
    """A reporting period ``YYYYMM`` (data-exchange.md §2 row 14, A).

    >>> parse_period("202611")
    '202611'
    """
    match = _PERIOD.match(raw.strip())
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
        raise ValueError(f"{raw!r} is not a reporting period (YYYYMM)")
    return match[0]


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a ``YYYYMM`` period.

    >>> period_bounds("202602")
    (datetime.date(2026, 2, 1), datetime.date(2026, 2, 28))
    """
    period = parse_period(period)
    first = dt.date(int(period[:4]), int(period[4:]), 1)
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def asf_file_name(plan_id: str, provider_npi: str, period: str) -> str:
    """``CSASF_<plan>_<providerNPI>_<YYYYMM>.csv`` (data-exchange.md §1, A)."""
    return f"CSASF_{plan_id}_{provider_npi}_{period}.csv"


# Building rows ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Code:
    code: str
    modifier: str
    unit: str


def _first_codes(session: Session, catalog: dict[str, ServiceDefinition]) -> dict[str, _Code]:
    """Service key -> the first HCPCS code of the catalogue (the database's codes if not in the file)."""
    codes = {key: _Code(d.codes[0].code, d.codes[0].modifier, _unit(d.codes[0].unit))
             for key, d in catalog.items() if d.codes}
    stmt = sa.select(ServiceCode).order_by(ServiceCode.service_key, ServiceCode.code, ServiceCode.modifier)
    for row in session.scalars(stmt):
        codes.setdefault(row.service_key, _Code(row.code, row.modifier, _unit(row.unit)))
    return codes


def _unit(unit: str | BillingUnit) -> str:
    value = str(unit)
    return value if value in ASF_UNITS else ""


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def _language(member: Member) -> str:
    if member.required_language:
        return member.required_language
    return member.spoken_languages[0] if member.spoken_languages else ""


def _status_date(referral: Referral, status: ReferralStatus) -> dt.date | None:
    """The date the referral last moved to ``status`` (None if it never did)."""
    dates = [c.on_date for c in referral.history if c.to_status is status and c.from_status is not status]
    return max(dates) if dates else None


def _end_date(assignment: Assignment) -> dt.date | None:
    """When the provider stopped holding the referral: the assignment ended or the referral was discontinued."""
    ends = []
    if assignment.status is AssignmentStatus.ENDED:
        ends.append(assignment.ended_at.date() if assignment.ended_at else assignment.created_at.date())
    referral = assignment.referral
    if referral.status is ReferralStatus.DISCONTINUED:
        ends.append(_status_date(referral, ReferralStatus.DISCONTINUED) or referral.updated_at.date())
    return min(ends) if ends else None


def _listed(assignment: Assignment, first: dt.date, last: dt.date) -> bool:
    """Whether the provider held the assignment at some point of the period (module docstring)."""
    sent = assignment.sent_on or assignment.created_at.date()
    if sent > last:
        return False
    if assignment.status is AssignmentStatus.SENT and assignment.referral.status is not ReferralStatus.DISCONTINUED:
        return True
    end = _end_date(assignment)
    return end is None or end >= first


def _record(assignment: Assignment) -> tuple[AsfRecordType, AuthStatus, dt.date | None, dt.date | None]:
    referral = assignment.referral
    accepted = assignment.status is AssignmentStatus.ACCEPTED or assignment.answered_on is not None
    record_type = AsfRecordType.AUTHORIZED if accepted else AsfRecordType.OUTREACH
    end = _end_date(assignment)
    if end is not None:
        status = AuthStatus.TERMINATED
    elif referral.status in (ReferralStatus.AUTHORIZED, ReferralStatus.IN_SERVICE):
        status = AuthStatus.APPROVED
    else:
        status = AuthStatus.PENDING
    start = None
    if accepted:
        start = _status_date(referral, ReferralStatus.AUTHORIZED) or assignment.answered_on
    return record_type, status, start, end


def asf_rows(
    session: Session, provider: Provider, period: str, *, plan_id: str, plan_name: str, file_date: dt.date,
) -> list[dict[str, str]]:
    """The CS-ASF rows for one provider and period, sorted; each a dict keyed by :data:`ASF_COLUMNS`."""
    first, last = period_bounds(period)
    catalog = load_service_catalog()
    codes = _first_codes(session, catalog)
    assignments = session.scalars(
        sa.select(Assignment)
        .where(
            Assignment.provider_id == provider.id,
            Assignment.status.in_((AssignmentStatus.SENT, AssignmentStatus.ACCEPTED, AssignmentStatus.ENDED)),
        )
        .options(
            selectinload(Assignment.referral).selectinload(Referral.history),
            selectinload(Assignment.referral).selectinload(Referral.member).selectinload(Member.demographics),
        )
    ).all()
    rows: list[dict[str, str]] = []
    for a in assignments:
        if not _listed(a, first, last):
            continue
        referral, member = a.referral, a.referral.member
        record_type, status, start, end = _record(a)
        code = codes.get(referral.service_key, _Code("", "", ""))
        sex = member.demographics.sex if member.demographics is not None else "U"
        rows.append({
            "mcp_id": plan_id,
            "mcp_name": plan_name,
            "record_type": record_type.value,
            "cin": member.cin,
            "last_name": member.last_name,
            "first_name": member.first_name,
            "dob": _date(member.dob),
            "sex": sex if sex in _SEX_CODES else "U",
            "address": member.address,
            "city": member.city,
            "state": STATE,
            "zip": member.zip,
            "county": member.county,
            "phone": member.phone,
            "preferred_language": _language(member),
            "homeless_ind": "Y" if member.homeless else "N",
            "cs_service": referral.service_key,
            "hcpcs": code.code,
            "modifier": code.modifier,
            "auth_number": auth_number(a.id),
            "auth_status": status.value,
            "auth_start": _date(start),
            "auth_end": _date(end),
            "units_authorized": str(a.units),
            "unit": code.unit,
            "referral_date": _date(referral.received_date),
            "referral_source": str(referral.source),
            "provider_npi": provider.npi,
            "provider_tin": provider.tin,
            "provider_name": provider.name,
            "file_date": _date(file_date),
            "reporting_period": period,
        })
    rows.sort(key=lambda r: (r["cin"], r["cs_service"], parse_auth_number(r["auth_number"])))
    return rows


# Writing ----------------------------------------------------------------------------------------


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, str]]) -> Path:
    """Write an RFC 4180 CSV (UTF-8, CRLF, minimal quoting, header row), atomically.

    The file appears complete or not at all (written beside it, then renamed), so an sFTP pick-up
    never reads half a file.
    """
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\r\n", extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(buffer.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _check_arguments(period: str, plan_id: str, plan_name: str) -> str:
    try:
        period = parse_period(period)
    except ValueError as exc:
        raise AsfExportError("period", str(exc)) from None
    try:
        parse_identifier(20)(plan_id)
    except ValueError as exc:
        raise AsfExportError("plan_id", str(exc)) from None
    if not plan_name.strip():
        raise AsfExportError("plan_name", "give the plan's name")
    return period


def _write(
    session: Session, provider: Provider, period: str, out_dir: str | Path, rows: list[dict[str, str]], *,
    plan_id: str, actor: str | None,
) -> Path:
    path = write_csv(Path(out_dir) / asf_file_name(plan_id, provider.npi, period), ASF_COLUMNS, rows)
    if actor is not None:
        record_audit(
            session, actor=actor, action="exchange.asf_export", entity_type="provider", entity_id=provider.id,
            details={"file": path.name, "period": period, "rows": len(rows),
                     "authorizations": [r["auth_number"] for r in rows]},
        )
    return path


def export_asf(
    session: Session,
    provider_id: str,
    period: str,
    out_dir: str | Path,
    *,
    plan_id: str,
    plan_name: str,
    file_date: dt.date,
    actor: str | None = None,
) -> Path:
    """Write one provider's CS-ASF for ``period`` (``YYYYMM``) into ``out_dir`` and return its path.

    The file is written even when the provider has nobody to list (a header row only), so "no file"
    never has to be told from "nothing for you this month". With ``actor``, the disclosure is
    recorded in the audit log (the file carries members' PHI).

    :raise AsfExportError: an unknown provider, a period that is not ``YYYYMM``, a ``plan_id`` that
        cannot go in a file name, or an empty ``plan_name``.
    """
    period = _check_arguments(period, plan_id, plan_name)
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise AsfExportError("provider", f"no provider {provider_id!r}")
    rows = asf_rows(session, provider, period, plan_id=plan_id, plan_name=plan_name, file_date=file_date)
    return _write(session, provider, period, out_dir, rows, plan_id=plan_id, actor=actor)


def export_asf_all(
    session: Session,
    period: str,
    out_dir: str | Path,
    *,
    plan_id: str,
    plan_name: str,
    file_date: dt.date,
    actor: str | None = None,
    include_empty: bool = False,
) -> list[Path]:
    """Write the CS-ASF of every provider with someone to list in ``period`` (of every active
    provider with ``include_empty``), in provider id order, and return the paths.

    :raise AsfExportError: as :func:`export_asf`.
    """
    period = _check_arguments(period, plan_id, plan_name)
    paths = []
    for provider in session.scalars(sa.select(Provider).order_by(Provider.id)).all():
        rows = asf_rows(session, provider, period, plan_id=plan_id, plan_name=plan_name, file_date=file_date)
        if rows or (include_empty and provider.active):
            paths.append(_write(session, provider, period, out_dir, rows, plan_id=plan_id, actor=actor))
    return paths
