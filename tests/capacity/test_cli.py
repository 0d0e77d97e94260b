"""``csmatch capacity report|show`` through the top-level group, on a migrated SQLite file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session

from capacity.models import CapacityReport
from csmatch import migrate
from csmatch.db import make_engine
from placement.models import AssignmentStatus
from tests.factories import make_assignment, make_contract, make_member, make_provider, make_referral


@pytest.fixture
def cli_db(tmp_path: Path) -> Iterator[str]:
    """A migrated SQLite file with one provider, a 5-unit contract and 2 units committed."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    engine = make_engine(url)
    migrate.upgrade(engine=engine)
    with Session(engine) as session:
        provider = make_provider(session, id="PRV-CLI")
        contract = make_contract(session, provider, id="C-CLI", capacity=5, counties=("Humboldt", "Shasta"))
        make_assignment(session, make_referral(session, make_member(session), units_needed=2), contract,
                        status=AssignmentStatus.ACCEPTED)
        session.commit()
    yield url
    engine.dispose()


def run(url: str, *args: str) -> tuple[int, str]:
    from csmatch.cli import main

    result = CliRunner().invoke(main, ["--database-url", url, *args], env={"CSMATCH_ACTOR": "pr@plan.org"})
    return result.exit_code, result.output


def _reports(url: str) -> list[CapacityReport]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return list(session.scalars(sa.select(CapacityReport)))
    finally:
        engine.dispose()


def test_report_full_records_and_says_a_resolve_is_needed(cli_db: str) -> None:
    code, output = run(cli_db, "capacity", "report", "--contract", "C-CLI", "--kind", "full",
                       "--change-date", "2026-11-20", "--reported-date", "2026-12-02")
    assert code == 0, output
    assert "Recorded FULL for contract C-CLI (changed 2026-11-20, reported 2026-12-02: late: 6 business days, " \
           "due 2026-12-01)." in output
    assert "committed 2, open 0, reported full." in output
    # The accepted referral keeps its place: nothing else was at this provider to move.
    assert "Re-solved at once (run 1): moved 0, newly placed 0, newly unplaced 0, kept 0." in output
    [report] = _reports(cli_db)
    assert (report.reported_by, report.change_date) == ("pr@plan.org", dt.date(2026, 11, 20))


def test_report_new_capacity(cli_db: str) -> None:
    code, output = run(cli_db, "capacity", "report", "--contract", "C-CLI", "--kind", "NEW_CAPACITY",
                       "--change-date", "2026-11-20", "--reported-date", "2026-11-20", "--new-capacity", "8")
    assert code == 0, output
    assert "Capacity 5 -> 8, committed 2, open 6." in output
    # More room is a re-solve too: members left unplaced in its counties may now get in.
    assert "Re-solved at once (run 1)" in output


@pytest.mark.parametrize(
    ("args", "hint", "message"),
    [
        (["--kind", "NEW_CAPACITY"], "'--new-capacity'", "required for a NEW_CAPACITY report"),
        (["--kind", "STAFFING_CHANGE"], "'--staffing'", "required for a STAFFING_CHANGE report"),
        (["--kind", "FULL", "--new-capacity", "3"], "'--new-capacity'", "only given with NEW_CAPACITY"),
        (["--kind", "FULL", "--contract", "C-NOPE"], "'--contract'", "no contract 'C-NOPE'"),
        (["--kind", "EMPTY"], "'--kind'", "'EMPTY' is not one of"),
    ],
)
def test_bad_report_is_refused_naming_the_option(cli_db: str, args: list[str], hint: str, message: str) -> None:
    base = ["capacity", "report", "--change-date", "2026-11-20"]
    if "--contract" not in args:
        base += ["--contract", "C-CLI"]
    code, output = run(cli_db, *base, *args)
    assert code == 2
    assert hint in output and message in output
    assert _reports(cli_db) == []


def test_show_lists_positions_filtered_by_county(cli_db: str) -> None:
    code, output = run(cli_db, "capacity", "show", "--county", "Shasta", "--as-of", "2026-11-25")
    assert code == 0, output
    header, row = output.splitlines()
    assert header.split()[:7] == ["contract", "provider", "service", "contracted", "capacity", "committed", "open"]
    assert row.split()[:8] == ["C-CLI", "PRV-CLI", "HOUSING_NAV", "5", "5", "2", "3", "no"]
    code, output = run(cli_db, "capacity", "show", "--county", "Modoc")
    assert (code, output.strip()) == (0, "No contracts match.")
