"""``csmatch report equity|utilization|referrals|timeliness`` through the top-level group, writing CSVs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from csmatch import migrate
from csmatch.db import make_engine
from reports.equity import FLAG_COLUMNS, MEASURE_COLUMNS
from reports.oversight import REFERRAL_COLUMNS, TIMELINESS_COLUMNS, UTILIZATION_COLUMNS
from tests.reports.conftest import build_small_plan


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated SQLite file holding the small plan of conftest."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'cli.sqlite'}"
    engine = make_engine(url)
    migrate.upgrade(engine=engine)
    with Session(engine) as session:
        build_small_plan(session)
        session.commit()
    yield url
    engine.dispose()


def run(url: str, *args: str) -> tuple[int, str]:
    from csmatch.cli import main

    result = CliRunner().invoke(main, ["--database-url", url, "report", *args])
    return result.exit_code, result.output


def test_equity_writes_measures_and_flags(cli_db: str, tmp_path: Path) -> None:
    code, output = run(cli_db, "equity", "--quarter", "2026Q4", "--out", str(tmp_path), "--min-group-size", "1")
    assert code == 0, output
    assert "Equity 2026Q4" in output and "Four-fifths: 0 of" in output
    measures = pd.read_csv(tmp_path / "equity_measures.csv").fillna({"stratum_by": "", "stratum": ""})
    assert list(measures.columns) == list(MEASURE_COLUMNS)
    shasta = measures[(measures["dimension"] == "county") & (measures["group"] == "Shasta")].iloc[0]
    assert (shasta["placed"], shasta["unplaced"], shasta["placement_rate"]) == (1, 1, 0.5)
    flags = pd.read_csv(tmp_path / "equity_flags.csv")
    assert list(flags.columns) == list(FLAG_COLUMNS)
    assert set(flags["test"].dropna()) == {"fisher_exact"}  # tiny groups: every test is Fisher's


def test_oversight_reports_write_their_csvs(cli_db: str, tmp_path: Path) -> None:
    period = ["--from", "2026-10-01", "--to", "2026-12-31", "--out", str(tmp_path)]
    assert run(cli_db, "utilization", *period)[0] == 0
    assert run(cli_db, "referrals", *period)[0] == 0
    code, output = run(cli_db, "timeliness", *period, "--as-of", "2026-12-31")
    assert code == 0, output

    expected = {"utilization.csv": UTILIZATION_COLUMNS, "utilization_by_provider.csv": UTILIZATION_COLUMNS,
                "referrals.csv": REFERRAL_COLUMNS, "timeliness.csv": TIMELINESS_COLUMNS}
    frames = {name: pd.read_csv(tmp_path / name) for name in expected}
    for name, columns in expected.items():
        assert list(frames[name].columns) == list(columns), name
    referrals = frames["referrals.csv"]
    assert referrals.groupby("event")["count"].sum().to_dict() == {
        "RECEIVED": 5, "SENT": 3, "ACCEPTED": 2, "DECLINED": 1, "UNPLACED": 2}
    plan = frames["timeliness.csv"].query("dimension == 'all'").iloc[0]
    assert (plan["send_decided"], plan["send_on_time"], plan["as_of"]) == (4, 2, "2026-12-31")
    november = frames["utilization.csv"].query("month == '2026-11' and county == 'Humboldt'")
    assert november.set_index("service").loc["HOUSING_NAV", "utilization_pct"] == 12.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quarter", "2026Q5"], "'2026Q5' is not a quarter such as 2026Q4"),
        (["--quarter", "2026Q4", "--from", "2026-10-01"], "give --quarter or --from/--to, not both"),
        (["--from", "2026-10-01"], "give --quarter, or both --from and --to"),
        (["--from", "2026-12-31", "--to", "2026-10-01"], "period ends (2026-10-01) before it starts (2026-12-31)"),
    ],
)
def test_bad_period_is_refused(cli_db: str, tmp_path: Path, args: list[str], message: str) -> None:
    code, output = run(cli_db, "referrals", *args, "--out", str(tmp_path))
    assert code == 2
    assert message in " ".join(output.split())
    assert not (tmp_path / "referrals.csv").exists()
