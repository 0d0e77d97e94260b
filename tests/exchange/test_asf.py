"""CS-ASF export (7003 VI.H.4; columns of data-exchange.md §2): who is listed, how, and stable bytes."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session

from capacity.models import Contract
from csmatch import migrate
from csmatch.db import make_engine
from csmatch.models import AuditEvent
from exchange.asf import (
    ASF_COLUMNS,
    AsfExportError,
    auth_number,
    export_asf,
    export_asf_all,
    parse_auth_number,
    period_bounds,
)
from exchange.parsing import npi_check_digit
from placement.models import Assignment, AssignmentStatus
from providers.models import Provider
from referrals.models import Referral, ReferralStatus, ReferralStatusChange
from tests.factories import make_assignment, make_contract, make_member, make_provider, make_referral

PERIOD = "202611"
FILE_DATE = dt.date(2026, 11, 25)
PLAN = {"plan_id": "PHC", "plan_name": "Partnership HealthPlan of California"}


def valid_npi(n: int) -> str:
    """A 10-digit NPI with a correct check digit (the factories' NPIs need not have one)."""
    first_nine = f"{123_400_000 + n:09d}"
    return first_nine + str(npi_check_digit(first_nine))


def provider_with_contract(session: Session, n: int, *, capacity: int = 5, **kw: Any) -> tuple[Provider, Contract]:
    provider = make_provider(session, id=f"PRV-X{n}", npi=valid_npi(n), tin=f"{940_000_000 + n}",
                             name=f"Eureka Housing Partners {n}", **kw)
    return provider, make_contract(session, provider, capacity=capacity)


def placed(
    session: Session, contract: Contract, status: AssignmentStatus, referral_status: ReferralStatus, *,
    sent_on: dt.date | None = dt.date(2026, 11, 5), answered_on: dt.date | None = None, **member: Any,
) -> Assignment:
    """A member referred for the contract's service and assigned to ``contract``."""
    referral = make_referral(session, make_member(session, **member), service=contract.service_key,
                             status=referral_status, received_date=dt.date(2026, 10, 1))
    return make_assignment(session, referral, contract, status=status, sent_on=sent_on, answered_on=answered_on)


def step(session: Session, referral: Referral, from_status: ReferralStatus, to: ReferralStatus, on: dt.date) -> None:
    """A history row: the referral moved ``from_status`` -> ``to`` on ``on``."""
    session.add(ReferralStatusChange(referral_id=referral.id, from_status=from_status, to_status=to,
                                     on_date=on, actor="t"))
    session.flush()


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def make_cli_db(tmp_path: Path) -> str:
    """A migrated SQLite file: provider PRV-X41 with two referrals sent and one accepted; PRV-X42 with room."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    engine = make_engine(url)
    migrate.upgrade(engine=engine)
    with Session(engine) as session:
        _, contract = provider_with_contract(session, 41)
        provider_with_contract(session, 42)
        for _ in range(2):
            placed(session, contract, AssignmentStatus.SENT, ReferralStatus.SENT)
        placed(session, contract, AssignmentStatus.ACCEPTED, ReferralStatus.ACCEPTED, answered_on=dt.date(2026, 11, 6))
        session.commit()
    engine.dispose()
    return url


def run(url: str, *args: str) -> tuple[int, str]:
    """``csmatch --database-url URL ARGS`` through the top-level group."""
    from csmatch.cli import main

    result = CliRunner().invoke(main, ["--database-url", url, *args],
                                env={"CSMATCH_ACTOR": "pr@plan.org", "CSMATCH_PLAN_ID": "PHC"})
    return result.exit_code, result.output


@pytest.fixture
def provider_month(db_session: Session) -> dict[str, Assignment]:
    """One provider's November: each kind of assignment the file must list, or leave out."""
    provider, contract = provider_with_contract(db_session, 1)
    _, other = provider_with_contract(db_session, 2)
    s, a = ReferralStatus, AssignmentStatus
    cases = {
        "outreach": placed(db_session, contract, a.SENT, s.SENT, last_name="Nguyen, Jr."),
        "accepted": placed(db_session, contract, a.ACCEPTED, s.ACCEPTED, answered_on=dt.date(2026, 11, 6)),
        "authorized": placed(db_session, contract, a.ACCEPTED, s.AUTHORIZED, answered_on=dt.date(2026, 10, 20),
                             sent_on=dt.date(2026, 10, 15)),
        "ended_in_period": placed(db_session, contract, a.ACCEPTED, s.DISCONTINUED,
                                  answered_on=dt.date(2026, 10, 20), sent_on=dt.date(2026, 10, 15)),
        "ended_before": placed(db_session, contract, a.ACCEPTED, s.DISCONTINUED,
                               answered_on=dt.date(2026, 10, 3), sent_on=dt.date(2026, 10, 2)),
        "proposed": placed(db_session, contract, a.PROPOSED, s.PROPOSED, sent_on=None),
        "sent_next_month": placed(db_session, contract, a.SENT, s.SENT, sent_on=dt.date(2026, 12, 1)),
        "other_provider": placed(db_session, other, a.SENT, s.SENT),
    }
    step(db_session, cases["authorized"].referral, s.TAR_SUBMITTED, s.AUTHORIZED, dt.date(2026, 11, 10))
    step(db_session, cases["ended_in_period"].referral, s.ACCEPTED, s.DISCONTINUED, dt.date(2026, 11, 12))
    step(db_session, cases["ended_before"].referral, s.ACCEPTED, s.DISCONTINUED, dt.date(2026, 10, 25))
    return cases


def test_export_asf_writes_the_columns_of_the_reference_in_order(
    db_session: Session, provider_month: dict[str, Assignment], tmp_path: Path,
) -> None:
    path = export_asf(db_session, "PRV-X1", PERIOD, tmp_path, file_date=FILE_DATE, **PLAN)
    assert path.name == f"CSASF_PHC_{valid_npi(1)}_202611.csv"
    header = path.read_bytes().split(b"\r\n", 1)[0].decode()
    assert tuple(header.split(",")) == ASF_COLUMNS


def test_export_asf_lists_the_providers_members_active_in_the_period(
    db_session: Session, provider_month: dict[str, Assignment], tmp_path: Path,
) -> None:
    rows = read(export_asf(db_session, "PRV-X1", PERIOD, tmp_path, file_date=FILE_DATE, **PLAN))
    listed = {parse_auth_number(r["auth_number"]): r for r in rows}
    expected = {name: a for name, a in provider_month.items()
                if name in ("outreach", "accepted", "authorized", "ended_in_period")}
    assert set(listed) == {a.id for a in expected.values()}
    got = {name: (listed[a.id]["record_type"], listed[a.id]["auth_status"], listed[a.id]["auth_start"],
                  listed[a.id]["auth_end"]) for name, a in expected.items()}
    assert got == {
        "outreach": ("OUTREACH", "PENDING", "", ""),
        "accepted": ("AUTHORIZED", "PENDING", "2026-11-06", ""),
        "authorized": ("AUTHORIZED", "APPROVED", "2026-11-10", ""),
        "ended_in_period": ("AUTHORIZED", "TERMINATED", "2026-10-20", "2026-11-12"),
    }


def test_export_asf_fills_service_code_member_and_provider_columns(
    db_session: Session, provider_month: dict[str, Assignment], tmp_path: Path,
) -> None:
    rows = read(export_asf(db_session, "PRV-X1", PERIOD, tmp_path, file_date=FILE_DATE, **PLAN))
    assignment = provider_month["outreach"]
    row = next(r for r in rows if r["auth_number"] == auth_number(assignment.id))
    member = assignment.referral.member
    assert row == row | {
        "mcp_id": "PHC", "mcp_name": "Partnership HealthPlan of California", "cin": member.cin,
        "last_name": "Nguyen, Jr.", "dob": "1970-05-17", "sex": "U", "state": "CA", "zip": "95501",
        "county": "Humboldt", "homeless_ind": "N", "preferred_language": "English",
        # the first code the catalogue lists for housing navigation (data-exchange.md §5)
        "cs_service": "HOUSING_NAV", "hcpcs": "H0043", "modifier": "U6", "unit": "PER_DIEM",
        "units_authorized": "1", "referral_date": "2026-10-01", "referral_source": "PCP",
        "provider_npi": valid_npi(1), "provider_tin": "940000001", "provider_name": "Eureka Housing Partners 1",
        "file_date": "2026-11-25", "reporting_period": "202611",
    }


def test_export_asf_is_rfc_4180_and_identical_when_rerun(
    db_session: Session, provider_month: dict[str, Assignment], tmp_path: Path,
) -> None:
    first = export_asf(db_session, "PRV-X1", PERIOD, tmp_path / "a", file_date=FILE_DATE, **PLAN).read_bytes()
    second = export_asf(db_session, "PRV-X1", PERIOD, tmp_path / "b", file_date=FILE_DATE, **PLAN).read_bytes()
    assert first == second
    assert b'"Nguyen, Jr."' in first  # a comma in a value is quoted
    assert first.count(b"\r\n") == 5 and b"\n" not in first.replace(b"\r\n", b"")  # header + 4 rows, CRLF
    cins = [r["cin"] for r in read(tmp_path / "a" / f"CSASF_PHC_{valid_npi(1)}_202611.csv")]
    assert cins == sorted(cins)


def test_export_asf_writes_a_header_only_file_for_a_provider_with_nobody(
    db_session: Session, tmp_path: Path,
) -> None:
    provider_with_contract(db_session, 3)
    path = export_asf(db_session, "PRV-X3", PERIOD, tmp_path, file_date=FILE_DATE, **PLAN)
    assert read(path) == [] and path.read_text().startswith("mcp_id,mcp_name,record_type,cin")


def test_export_asf_all_writes_one_file_per_provider_with_members(
    db_session: Session, provider_month: dict[str, Assignment], tmp_path: Path,
) -> None:
    provider_with_contract(db_session, 3)  # nobody assigned: no file
    paths = export_asf_all(db_session, PERIOD, tmp_path, file_date=FILE_DATE, actor="pr@plan.org",
                           plan_id=PLAN["plan_id"], plan_name=PLAN["plan_name"])
    assert [p.name for p in paths] == [f"CSASF_PHC_{valid_npi(1)}_202611.csv", f"CSASF_PHC_{valid_npi(2)}_202611.csv"]
    assert [len(read(p)) for p in paths] == [4, 1]
    audits = db_session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "exchange.asf_export")).all()
    assert sorted(e.entity_id for e in audits) == ["PRV-X1", "PRV-X2"]
    assert audits[0].details["rows"] in (4, 1)


@pytest.mark.parametrize(
    ("provider_id", "period", "plan_id", "field", "message"),
    [
        ("NOPE", PERIOD, "PHC", "provider", "no provider 'NOPE'"),
        ("PRV-X1", "2026-11", "PHC", "period", "'2026-11' is not a reporting period (YYYYMM)"),
        ("PRV-X1", "202613", "PHC", "period", "'202613' is not a reporting period"),
        ("PRV-X1", PERIOD, "P/H", "plan_id", "'P/H' is not an identifier"),
    ],
)
def test_export_asf_refuses_bad_arguments_naming_them(
    db_session: Session, tmp_path: Path, provider_id: str, period: str, plan_id: str, field: str, message: str,
) -> None:
    provider_with_contract(db_session, 1)
    with pytest.raises(AsfExportError, match=f"^{field}: {re.escape(message)}") as caught:
        export_asf(db_session, provider_id, period, tmp_path, plan_id=plan_id, plan_name="Plan", file_date=FILE_DATE)
    assert caught.value.field == field
    assert list(tmp_path.iterdir()) == []


def test_auth_numbers_read_back_and_periods_have_their_last_day() -> None:
    assert parse_auth_number(auth_number(1234)) == 1234
    with pytest.raises(ValueError, match="'1234' is not a csmatch authorization number"):
        parse_auth_number("1234")
    assert period_bounds("202612") == (dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    assert period_bounds("202802") == (dt.date(2028, 2, 1), dt.date(2028, 2, 29))


def test_cli_asf_writes_one_providers_file(tmp_path: Path) -> None:
    url = make_cli_db(tmp_path)
    code, output = run(url, "exchange", "asf", "--provider", "PRV-X41", "--period", "202611",
                       "--out", str(tmp_path / "out"), "--file-date", "2026-11-25")
    path = tmp_path / "out" / f"CSASF_PHC_{valid_npi(41)}_202611.csv"
    assert (code, output.strip()) == (0, f"Wrote {path} (3 members).")
    assert [r["record_type"] for r in read(path)].count("OUTREACH") == 2


def test_cli_asf_all_writes_every_provider_with_members(tmp_path: Path) -> None:
    url = make_cli_db(tmp_path)
    code, output = run(url, "exchange", "asf-all", "--period", "202611", "--out", str(tmp_path / "out"))
    assert code == 0, output
    assert output.splitlines()[-1] == f"Wrote 1 CS-ASF files into {tmp_path / 'out'}."


@pytest.mark.parametrize(
    ("args", "hint"),
    [(["--provider", "PRV-X41", "--period", "2026-11"], "'--period'"),
     (["--provider", "NOPE", "--period", "202611"], "'--provider'")],
)
def test_cli_asf_names_the_bad_option(tmp_path: Path, args: list[str], hint: str) -> None:
    url = make_cli_db(tmp_path)
    code, output = run(url, "exchange", "asf", *args, "--out", str(tmp_path / "out"))
    assert code == 2 and f"Invalid value for {hint}" in output
