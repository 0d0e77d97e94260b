"""The nightly rebalance: every open, not-yet-accepted referral re-solved against current capacity.

One transaction: killed at any point, the database is as before. Two overlapping runs cannot both
write: the first holds a lock (a PostgreSQL advisory lock, or a file lock beside the SQLite
database) and the second is refused with a clear message instead of waiting.
"""

from __future__ import annotations

import csv
import ctypes
import datetime as dt
import fcntl
import html
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.orm import Session

from csmatch.changes import prune_changes
from placement.models import RunTrigger
from placement.services import RunOutcome, solve_open_referrals, write_outcome

# Any 64-bit constant, the same in every process: "csmatch rebalance".
ADVISORY_LOCK_KEY = 0x63736D6174636872


#: SQLite page cache for a rebalance, as PRAGMA cache_size takes it (negative: KiB).
REBALANCE_CACHE_KIB = -256 * 1024


#: glibc's ``mallopt`` parameter for the mmap threshold (``M_MMAP_THRESHOLD`` in malloc.h).
_M_MMAP_THRESHOLD = -3
#: Blocks from this size up get a mapping of their own, returned to the OS as soon as they are freed.
RELEASE_FROM_BYTES = 1 << 20


def release_big_blocks_when_freed() -> bool:
    """Have glibc map every block of :data:`RELEASE_FROM_BYTES` or more on its own (the nightly
    process only; it is process-wide). Returns whether the setting took (False off glibc).

    By default glibc raises that threshold each time it frees a big block, up to 32 MB, so the
    solver's mid-sized arrays for one service land in the heap, where a live block above them
    keeps the freed pages resident while the next service is built: the statewide run's peak
    varied by 700 MB from run to run. A threshold set by hand is never raised.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):  # pragma: no cover - not glibc
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, RELEASE_FROM_BYTES))


class RebalanceRunning(RuntimeError):
    """Another rebalance holds the lock; this one writes nothing."""


def pause_point(name: str) -> None:
    """Fault-injection point for the kill tests: ``CSMATCH_PAUSE_AT=name:seconds`` sleeps here."""
    spec = os.environ.get("CSMATCH_PAUSE_AT", "")
    if spec.startswith(name + ":"):
        print(f"paused at {name}", flush=True)
        time.sleep(float(spec.split(":", 1)[1]))


@contextmanager
def rebalance_lock(session: Session) -> Iterator[None]:
    """Hold the rebalance lock for the life of the transaction, or raise :class:`RebalanceRunning`."""
    if session.get_bind().dialect.name == "postgresql":
        got = session.scalar(sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        if not got:
            raise RebalanceRunning("another rebalance is running against this database; nothing was written")
        yield  # released when the transaction ends, committed or not (or the process dies)
        return
    database = session.get_bind().engine.url.database or ""
    path = Path(database + ".rebalance.lock") if database not in ("", ":memory:") else Path("instance/rebalance.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = open(path, "a+")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise RebalanceRunning(
                f"another rebalance is running ({holder}); nothing was written"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {dt.datetime.now().isoformat(timespec='seconds')}")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock; the kernel releases it if the process dies


@contextmanager
def _sqlite_pages_for_run(session: Session) -> Iterator[Callable[[], None]]:
    """On SQLite, read the file page by page for this run instead of through the memory map the
    dashboard uses: a statewide run reads most of the file once, and every mapped page it touched
    would stay in the process's resident memory (hundreds of MB) for the whole solve.

    The page cache keeps its small default while the plan is read and solved (the read touches
    every page, and a big cache would hold them all through the solve: 250 MB at state scale);
    the function yielded grows it to :data:`REBALANCE_CACHE_KIB` for the write's index updates.
    Both settings are restored at the end.
    """
    if session.get_bind().dialect.name != "sqlite":
        yield lambda: None
        return
    cache = session.execute(sa.text("PRAGMA cache_size")).scalar_one()
    mapped = session.execute(sa.text("PRAGMA mmap_size")).scalar_one()
    session.execute(sa.text("PRAGMA mmap_size=0"))

    def for_write() -> None:
        session.execute(sa.text(f"PRAGMA cache_size={REBALANCE_CACHE_KIB}"))

    try:
        yield for_write
    finally:
        session.execute(sa.text(f"PRAGMA cache_size={int(cache)}"))
        session.execute(sa.text(f"PRAGMA mmap_size={int(mapped)}"))


def rebalance(
    session: Session,
    *,
    on_date: dt.date,
    actor: str = "nightly",
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda stage: None,
) -> RunOutcome:
    """Re-solve every open, not-yet-accepted referral with the stable re-solve (7003 VI.E.5)."""
    with rebalance_lock(session), _sqlite_pages_for_run(session) as for_write:
        progress("solving")
        outcome = solve_open_referrals(session, on_date=on_date, lock=not dry_run)
        if dry_run:
            progress("diff ready")
            return outcome
        for_write()
        # the referral change log is cut here (csmatch.changes): the run touches most open
        # referrals, so kept report rows are read afresh after it anyway
        prune_changes(session.connection())
        write_outcome(session, outcome, actor=actor, trigger=RunTrigger.NIGHTLY)
        progress("written")
        pause_point("after-write")
        return outcome


REPORT_COLUMNS = ["referral_id", "change", "from_provider", "to_provider", "reason"]


def write_run_report(outcome: RunOutcome, out_dir: Path, *, dry_run: bool) -> tuple[Path, Path]:
    """The run report: every change as CSV, and a short HTML page with the figures."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"rebalance-{outcome.snapshot.on_date.isoformat()}-{'dry-run' if dry_run else f'run-{outcome.run_id}'}"
    csv_path, html_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.html"
    interesting = [c for c in outcome.changes if c.kind != "KEPT"]
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        for c in sorted(interesting, key=lambda c: (c.kind, c.referral_id)):
            writer.writerow([c.referral_id, c.kind, c.from_provider or "", c.to_provider or "", c.reason])
    s = outcome.solution
    summary = outcome.summary
    rows = "".join(f"<tr><th>{html.escape(k.replace('_', ' ').lower())}</th><td>{v}</td></tr>"
                   for k, v in summary.items())
    timings = ", ".join(f"{k} {v:.2f} s" for k, v in outcome.seconds.items())
    html_path.write_text(
        "<!doctype html><meta charset='utf-8'><title>csmatch rebalance</title>"
        f"<h1>Nightly rebalance {outcome.snapshot.on_date.isoformat()}{' (dry run)' if dry_run else ''}</h1>"
        f"<p>{len(outcome.snapshot.data.referrals)} open referrals; {s.placed} placed, {len(s.unplaced)} unplaced; "
        f"solver {html.escape(s.solver)} status {html.escape(str(s.status))}, gap {s.gap:.4f}; {timings}.</p>"
        f"<table>{rows}</table><p>Every change, with its reason: <a href='{csv_path.name}'>{csv_path.name}</a></p>",
        encoding="utf-8",
    )
    return csv_path, html_path
