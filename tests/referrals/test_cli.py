"""``csmatch referral show|transition|outreach|update|clocks|unplaced`` through the top-level group."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from csmatch import migrate
from csmatch.db import make_engine
from referrals.models import Referral, ReferralStatus
from tests.factories import make_member, make_referral


@pytest.fixture
def cli_db(tmp_path: Path) -> Iterator[str]:
    """A migrated SQLite file with referral R-CLI received the day before Thanksgiving, and an accepted one."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    engine = make_engine(url)
    migrate.upgrade(engine=engine)
    with Session(engine) as session:
        make_referral(session, make_member(session), id="R-CLI", received_date=dt.date(2026, 11, 25))
        make_referral(session, make_member(session), id="R-OLD", received_date=dt.date(2026, 11, 2),
                      status=ReferralStatus.ACCEPTED)
        session.commit()
    yield url
    engine.dispose()


def run(url: str, *args: str) -> tuple[int, str]:
    from csmatch.cli import main

    result = CliRunner().invoke(main, ["--database-url", url, *args], env={"CSMATCH_ACTOR": "cc@plan.org"})
    return result.exit_code, result.output


def _status(url: str, referral_id: str) -> ReferralStatus:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            referral = session.get(Referral, referral_id)
            assert referral is not None
            return referral.status
    finally:
        engine.dispose()


def test_transition_moves_the_referral(cli_db: str) -> None:
    code, output = run(cli_db, "referral", "transition", "R-CLI", "ready", "--on-date", "2026-11-30")
    assert (code, output.strip()) == (0, "Referral R-CLI: RECEIVED -> READY.")
    assert _status(cli_db, "R-CLI") is ReferralStatus.READY


def test_illegal_transition_is_refused_and_nothing_changes(cli_db: str) -> None:
    code, output = run(cli_db, "referral", "transition", "R-CLI", "IN_SERVICE", "--on-date", "2026-11-30")
    assert code == 2
    assert "Invalid value for 'STATUS': referral 'R-CLI' cannot go from RECEIVED to IN_SERVICE" in output
    assert _status(cli_db, "R-CLI") is ReferralStatus.RECEIVED


@pytest.mark.parametrize(
    ("args", "hint", "message"),
    [
        ([], "'--reason-code'", "discontinuing needs a reason_code"),
        (["--reason-code", "99"], "'--reason'", "needs the reason in words"),
        (["--reason-code", "03"], "'STATUS'", "at least 3 outreach attempts, 0 recorded"),
    ],
)
def test_discontinuation_reason_is_checked(cli_db: str, args: list[str], hint: str, message: str) -> None:
    code, output = run(cli_db, "referral", "transition", "R-OLD", "DISCONTINUED", "--on-date", "2026-11-30", *args)
    assert code == 2 and hint in output and message in output


def test_three_outreach_attempts_then_unresponsive(cli_db: str) -> None:
    for day in ("2026-11-20", "2026-11-23", "2026-11-24"):
        code, output = run(cli_db, "referral", "outreach", "R-OLD", "--on-date", day, "--note", "phone")
        assert code == 0, output
    assert "outreach attempt 3 recorded" in output
    code, output = run(cli_db, "referral", "transition", "R-OLD", "DISCONTINUED", "--reason-code", "03",
                       "--on-date", "2026-11-30")
    assert code == 0, output
    assert _status(cli_db, "R-OLD") is ReferralStatus.DISCONTINUED


def test_unknown_referral_is_named(cli_db: str) -> None:
    code, output = run(cli_db, "referral", "show", "R-NOPE")
    assert code == 2 and "no referral 'R-NOPE'" in output


def test_show_gives_status_history_clock_and_gates(cli_db: str) -> None:
    run(cli_db, "referral", "transition", "R-CLI", "READY", "--on-date", "2026-11-30", "--reason", "complete")
    code, output = run(cli_db, "referral", "show", "R-CLI", "--as-of", "2026-12-10")
    assert code == 0, output
    assert "Status: READY" in output
    assert "2026-11-30  RECEIVED -> READY  by cc@plan.org: complete" in output
    assert "Clock: send due 2026-12-11 (1 left; 7003 VI.C.3)" in output
    assert "Eligibility: all gates pass." in output


def test_clocks_lists_overdue_only_on_request(cli_db: str) -> None:
    code, output = run(cli_db, "referral", "clocks", "--as-of", "2026-12-14")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].startswith("R-OLD") and "update due 2026-11-09" in lines[0]
    assert lines[1].startswith("R-CLI") and "send due 2026-12-11 (overdue by 1" in lines[1]
    code, output = run(cli_db, "referral", "clocks", "--overdue", "--as-of", "2026-12-10")
    assert [line.split()[0] for line in output.splitlines()] == ["R-OLD"]


def test_provider_update_restarts_the_weekly_clock(cli_db: str) -> None:
    code, output = run(cli_db, "referral", "update", "R-OLD", "--on-date", "2026-12-09", "--note", "voicemail")
    assert code == 0, output
    code, output = run(cli_db, "referral", "clocks", "--overdue", "--as-of", "2026-12-10")
    assert output.strip() == "No overdue referrals."


def test_unplaced_lists_the_escalations(cli_db: str) -> None:
    run(cli_db, "referral", "transition", "R-CLI", "READY", "--on-date", "2026-11-30")
    run(cli_db, "referral", "transition", "R-CLI", "UNPLACED", "--on-date", "2026-11-30",
        "--reason-code", "ALL_IN_AREA_FULL")
    code, output = run(cli_db, "referral", "unplaced", "--as-of", "2026-12-14")
    assert code == 0, output
    assert output.startswith("R-CLI  Humboldt  HOUSING_NAV  ALL_IN_AREA_FULL (network gap)  waiting 11 business days")
    assert "due 2026-12-11 OVERDUE" in output
