"""The nightly rebalance: one transaction, dry run writes nothing, killed leaves no trace, one at a time."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from csmatch.cli import main
from placement.models import Assignment, SolverRun
from referrals.models import ReferralStatus, ReferralStatusChange
from tests.factories import make_contract, make_member, make_provider, make_referral


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _seed(engine: Engine, referrals: int = 4) -> None:
    with Session(engine) as session:
        make_contract(session, make_provider(session), capacity=2)
        make_contract(session, make_provider(session), capacity=1)
        for i in range(referrals):
            make_referral(session, make_member(session), status=ReferralStatus.READY,
                          received_date=dt.date(2026, 11, 2) + dt.timedelta(days=i))
        session.commit()


def _counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (
            conn.scalar(sa.select(sa.func.count()).select_from(SolverRun)) or 0,
            conn.scalar(sa.select(sa.func.count()).select_from(Assignment)) or 0,
            conn.scalar(sa.select(sa.func.count()).select_from(ReferralStatusChange)) or 0,
        )


def test_dry_run_prints_the_diff_and_writes_nothing(committing_engine: Engine, tmp_path: Path) -> None:
    _seed(committing_engine)
    before = _counts(committing_engine)
    result = CliRunner().invoke(main, ["--database-url", _url(committing_engine), "rebalance", "--dry-run",
                                       "--on", "2026-11-25", "--report-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Dry run, nothing written" in result.output
    assert result.output.count("NEWLY_PLACED") == 3 and result.output.count("NEWLY_UNPLACED") == 1
    assert _counts(committing_engine) == before
    report = next(tmp_path.glob("*.csv")).read_text().splitlines()
    assert report[0] == "referral_id,change,from_provider,to_provider,reason" and len(report) == 5


def test_rebalance_commits_one_run_and_a_rerun_moves_nobody(committing_engine: Engine, tmp_path: Path) -> None:
    _seed(committing_engine)
    args = ["--database-url", _url(committing_engine), "rebalance", "--on", "2026-11-25", "--report-dir",
            str(tmp_path)]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "newly placed 3" in first.output and "newly unplaced 1" in first.output
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0, second.output
    assert "moved 0" in second.output and "newly placed 0" in second.output and "kept 3" in second.output
    assert _counts(committing_engine)[:2] == (2, 3)


def _start_paused(engine: Engine, tmp_path: Path, seconds: float = 60) -> subprocess.Popen[str]:
    env = dict(os.environ, CSMATCH_PAUSE_AT=f"after-write:{seconds}")
    process = subprocess.Popen(
        [sys.executable, "-m", "csmatch", "--database-url", _url(engine), "rebalance", "--on", "2026-11-25",
         "--report-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    for line in process.stdout:
        if "paused at after-write" in line:
            return process
        if time.monotonic() > deadline:
            break
    _stop(process)
    pytest.fail("the rebalance never reached its pause point")


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGKILL: no handler, no cleanup, no commit; then close our end of the pipe."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    if process.stdout is not None:
        process.stdout.close()


def test_a_rebalance_killed_mid_run_leaves_the_database_unchanged(committing_engine: Engine, tmp_path: Path) -> None:
    _seed(committing_engine)
    before = _counts(committing_engine)
    process = _start_paused(committing_engine, tmp_path)  # everything written, not committed
    _stop(process)
    assert _counts(committing_engine) == before


def test_a_second_concurrent_rebalance_is_refused(committing_engine: Engine, tmp_path: Path) -> None:
    _seed(committing_engine)
    first = _start_paused(committing_engine, tmp_path, seconds=30)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "csmatch", "--database-url", _url(committing_engine), "rebalance",
             "--on", "2026-11-25", "--report-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=60,
        )
        assert second.returncode != 0
        assert "another rebalance is running" in second.stderr
    finally:
        _stop(first)


# Freed mid-sized blocks with a live block above them: resident after free unless each had its own mapping.
_FREED_BLOCKS_SCRIPT = """
import sys
from placement.rebalance import release_big_blocks_when_freed

def resident_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) // 1024

if sys.argv[1] == "release" and not release_big_blocks_when_freed():
    sys.exit(3)
big = bytearray(16 << 20)
del big  # glibc now serves blocks below 16 MB from the heap, unless the threshold was set
blocks, pins = [], []
for _ in range(100):
    blocks.append(bytearray(2 << 20))
    pins.append(bytearray(256 << 10))  # live heap blocks after each: the heap cannot shrink under them
before = resident_mb()
del blocks
print(before - resident_mb())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings")
def test_the_nightly_process_returns_freed_solver_blocks_to_the_os() -> None:
    def returned_mb(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", _FREED_BLOCKS_SCRIPT, mode], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parents[2])
        return int(done.stdout)

    assert returned_mb("default") < 50  # the problem: 200 MB freed, still resident
    assert returned_mb("release") >= 150
