"""End-to-end service benchmarks, through the database (issue 4, 5 and 6 targets).

Each measurement runs in its own subprocess (clean peak memory), on generated statewide-shaped
roster files loaded with the real importer:

- ``resolve``: a provider reports FULL -> its unaccepted referrals re-solved -> committed, in a
  plan with 20,000 open referrals (target <= 1 s). Baseline named: re-solving every open referral
  (the nightly rebalance) on the same database.
- ``nightly``: ``rebalance`` over 250,000 referrals, first run (places everyone) and a second,
  stable run (target <= 120 s each, peak memory < 4 GB).
- ``pages``: every dashboard page and API list with 100,000 referrals (target < 500 ms each): after
  the first solve, a week of work (part of the proposal sent, answered, updated; a few declines and
  capacity reports), then every argument-less GET route and the pages with an id or a filter (the
  busiest county, provider, run and referral) as plan staff, and the portal as a provider user.
  Each page is read three times (the median, and the first read: the process's first, after the
  week's changes), then once more right after a committed write to one referral, and once after a
  write to 1,000 of the newest referrals (the report pages keep their results while the data are
  unchanged, and their rows per referral: those reads recompute them from the referrals read again,
  in a warm process).

Run: ``.venv/bin/python -m bench.bench_service [--resolve-referrals 20000] [--nightly-referrals 250000]
[--page-referrals 100000] [--database sqlite|postgresql] [--only resolve,nightly,pages]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

AS_OF = dt.date(2026, 11, 20)
POSTGRES_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _prepare(url: str, referrals: int, workdir: Path, *, first_solve: bool = True) -> dict[str, float]:
    """Generate, migrate, load and (with ``first_solve``) solve once; return the timings of each step."""
    from sqlalchemy.orm import Session

    from csmatch import migrate
    from csmatch.db import make_engine
    from csmatch.seed import sync_services
    from exchange.roster import load_roster
    from fixtures.generate import generate
    from placement.models import RunTrigger
    from placement.services import run_solver

    timings: dict[str, float] = {}
    roster = workdir / f"roster-{referrals}"
    t = time.perf_counter()
    if not (roster / "referrals.csv").exists():
        generate(roster, referrals=referrals, providers=max(60, referrals // 50), seed=7, as_of=AS_OF)
    timings["generate_s"] = time.perf_counter() - t
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    migrate.upgrade(engine=engine)
    with Session(engine) as session:
        sync_services(session)
        session.commit()
    t = time.perf_counter()
    with Session(engine) as session:
        load_roster(session, roster, today=AS_OF)
        session.commit()
    timings["load_s"] = time.perf_counter() - t
    if first_solve:
        t = time.perf_counter()
        with Session(engine) as session:
            run_solver(session, on_date=AS_OF, actor="bench", trigger=RunTrigger.MANUAL)
            session.commit()
        timings["first_solve_s"] = time.perf_counter() - t
    engine.dispose()
    return timings


def _warm_up() -> None:
    """A service process is long-lived: its ZIP table, tier table and calendar are loaded once."""
    from csmatch.calendar import default_calendar
    from geo.standards import travel_standard

    travel_standard("Humboldt")
    default_calendar()


def measure_resolve(url: str, referrals: int, workdir: Path) -> dict[str, Any]:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from capacity.models import CapacityReportKind
    from csmatch.db import make_engine
    from placement.models import Assignment, AssignmentStatus, RunTrigger
    from placement.services import report_capacity, run_solver

    prep = _prepare(url, referrals, workdir)
    _warm_up()
    engine = make_engine(url)
    with Session(engine) as session:
        busiest = session.execute(
            sa.select(Assignment.contract_id, sa.func.count()).where(Assignment.status == AssignmentStatus.PROPOSED)
            .group_by(Assignment.contract_id).order_by(sa.func.count().desc()).limit(3)
        ).all()
    runs: list[float] = []
    details: list[dict[str, Any]] = []
    for contract_id, proposals in busiest:  # three different providers report full, one after another
        t = time.perf_counter()
        with Session(engine) as session:
            outcome = report_capacity(session, contract_id, CapacityReportKind.FULL, AS_OF, AS_OF, "bench")
            session.commit()
        runs.append(time.perf_counter() - t)
        assert outcome.resolve is not None
        details.append({"contract": contract_id, "proposals_there": proposals, "seconds": round(runs[-1], 3),
                        "considered": len(outcome.resolve.snapshot.data.referrals), **outcome.resolve.summary,
                        "stages": {k: round(v, 3) for k, v in outcome.resolve.seconds.items()}})
    detail: dict[str, Any] = {"runs": details}
    # Baseline: the whole plan re-solved (what a re-solve without scoping would cost).
    t = time.perf_counter()
    with Session(engine) as session:
        whole = run_solver(session, on_date=AS_OF, actor="bench", trigger=RunTrigger.NIGHTLY)
        session.commit()
    baseline = time.perf_counter() - t
    engine.dispose()
    return {"referrals": referrals, "prepare": prep, "full_report_to_commit_s": statistics.median(runs),
            "whole_plan_resolve_s": baseline, "whole_plan_considered": len(whole.snapshot.data.referrals),
            "detail": detail, "peak_mb": _peak_mb()}


def measure_nightly(url: str, referrals: int, workdir: Path) -> dict[str, Any]:
    """Load the plan, then two ``rebalance`` runs, each in a fresh process (its own peak memory, not
    the importer's): the first places everyone, the second is the stable nightly re-solve."""
    prep = _prepare(url, referrals, workdir, first_solve=False)
    runs = {name: _run_child("nightly-run", url, offset, workdir)
            for name, offset in (("first_run", 0), ("stable_rerun", 3))}
    for name, run in runs.items():
        if "error" in run:
            raise RuntimeError(f"{name} failed: {run['error']}")
    first, second = runs["first_run"], runs["stable_rerun"]
    return {"referrals": referrals, "prepare": prep, "first_run_s": first["seconds"],
            "stable_rerun_s": second["seconds"], "first_run": first, "summary": second["summary"],
            "stages": second["stages"], "peak_mb": max(first["peak_mb"], second["peak_mb"]),
            "first_run_peak_mb": first["peak_mb"], "stable_rerun_peak_mb": second["peak_mb"],
            "load_avg": os.getloadavg()}


def measure_nightly_run(url: str, days_after: int, workdir: Path) -> dict[str, Any]:
    """One ``rebalance`` (what cron runs), ``days_after`` business days into the plan."""
    from sqlalchemy.orm import Session

    from csmatch.db import make_engine
    from placement.rebalance import rebalance, release_big_blocks_when_freed

    release_big_blocks_when_freed()  # as ``csmatch rebalance`` does
    _warm_up()
    engine = make_engine(url)
    t = time.perf_counter()
    with Session(engine) as session:
        outcome = rebalance(session, on_date=AS_OF + dt.timedelta(days=days_after))
        session.commit()
    seconds = time.perf_counter() - t
    engine.dispose()
    return {"seconds": seconds, "summary": outcome.summary,
            "stages": {k: round(v, 2) for k, v in outcome.seconds.items()}, "peak_mb": _peak_mb()}


# The pages step's week: the first proposal was made on AS_OF (a Friday); the lead sends part of it
# that day and on the next business days, providers answer and send weekly updates, a few decline,
# and some report capacity. The pages are read on PAGES_TODAY, with clocks of every kind running,
# due and overdue.
PAGES_TODAY = dt.date(2026, 12, 1)
SEND_DAYS = (AS_OF, dt.date(2026, 11, 23), dt.date(2026, 11, 24), dt.date(2026, 11, 30))


def _work_the_week(url: str) -> dict[str, int]:
    """Send, answer and update in bulk (the rows the life-cycle services write: statuses, dates, one
    history row per step); declines and capacity reports go through the services (they re-solve)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from capacity.models import CapacityReportKind, Contract
    from csmatch.db import make_engine
    from placement.models import Assignment, AssignmentStatus
    from placement.services import decline_assignment, report_capacity
    from referrals.lifecycle import PROVIDER_UPDATE, DeclineReason
    from referrals.models import Referral, ReferralStatus, ReferralStatusChange

    engine = make_engine(url)
    counts = {"sent": 0, "accepted": 0, "updates": 0, "declined": 0, "reports": 0}
    with Session(engine) as session:
        proposed = session.execute(
            sa.select(Assignment.id, Assignment.referral_id).where(Assignment.status == AssignmentStatus.PROPOSED)
            .order_by(Assignment.id)
        ).all()
        # 60% of the proposal is sent over four days; 60% of what was sent before the last day is accepted on
        # the next business day; half of those get a weekly update on 2026-11-30.
        history: list[dict[str, Any]] = []
        sent_on: dict[str, dt.date] = {}
        assignment_of: dict[str, int] = {}
        for i, (aid, rid) in enumerate(proposed):
            if i % 10 < 6:
                day = SEND_DAYS[i % 10 % 4]
                sent_on[rid] = day
                assignment_of[rid] = aid
        for day in SEND_DAYS:
            ids = [assignment_of[r] for r, d in sent_on.items() if d == day]
            rids = [r for r, d in sent_on.items() if d == day]
            for chunk in range(0, len(ids), 5000):
                session.execute(sa.update(Assignment).where(Assignment.id.in_(ids[chunk:chunk + 5000]))
                                .values(status=AssignmentStatus.SENT, sent_on=day))
                session.execute(sa.update(Referral).where(Referral.id.in_(rids[chunk:chunk + 5000]))
                                .values(status=ReferralStatus.SENT))
            history += [{"referral_id": r, "from_status": ReferralStatus.PROPOSED, "to_status": ReferralStatus.SENT,
                         "on_date": day, "actor": "bench", "reason": "sent", "reason_code": None} for r in rids]
        next_day = dict(zip(SEND_DAYS[:-1], SEND_DAYS[1:], strict=True))
        accepted = [r for i, (r, d) in enumerate(sent_on.items()) if d in next_day and i % 5 < 3]
        for day in SEND_DAYS[:-1]:
            rids = [r for r in accepted if sent_on[r] == day]
            answered = next_day[day]
            for chunk in range(0, len(rids), 5000):
                part = rids[chunk:chunk + 5000]
                session.execute(sa.update(Assignment).where(Assignment.id.in_([assignment_of[r] for r in part]))
                                .values(status=AssignmentStatus.ACCEPTED, answered_on=answered))
                session.execute(sa.update(Referral).where(Referral.id.in_(part)).values(status=ReferralStatus.ACCEPTED))
            history += [{"referral_id": r, "from_status": ReferralStatus.SENT, "to_status": ReferralStatus.ACCEPTED,
                         "on_date": answered, "actor": "bench", "reason": "", "reason_code": None} for r in rids]
        updated = accepted[::2]
        history += [{"referral_id": r, "from_status": ReferralStatus.ACCEPTED, "to_status": ReferralStatus.ACCEPTED,
                     "on_date": SEND_DAYS[-1], "actor": "bench", "reason": "weekly update",
                     "reason_code": PROVIDER_UPDATE} for r in updated]
        session.execute(sa.insert(ReferralStatusChange), history)
        session.commit()
        counts.update(sent=len(sent_on), accepted=len(accepted), updates=len(updated))
        # Providers decline a few (a re-referral each) and report capacity (a re-solve for each change).
        still_sent = [r for r, d in sent_on.items() if d == SEND_DAYS[-1]][:5]
        for rid in still_sent:
            decline_assignment(session, assignment_of[rid], reason_code=DeclineReason.OTHER.value, actor="bench",
                               on_date=PAGES_TODAY, reason="member moved out of the area")
            session.commit()
            counts["declined"] += 1
        busiest = list(session.scalars(
            sa.select(Assignment.contract_id).where(Assignment.status == AssignmentStatus.SENT)
            .group_by(Assignment.contract_id).order_by(sa.func.count().desc(), Assignment.contract_id).limit(30)
        ))
        for i, contract_id in enumerate(busiest):
            contract = session.get(Contract, contract_id)
            assert contract is not None
            if i < 3:
                report_capacity(session, contract_id, CapacityReportKind.FULL, PAGES_TODAY, PAGES_TODAY, "bench")
            elif i < 6:
                report_capacity(session, contract_id, CapacityReportKind.NEW_CAPACITY, SEND_DAYS[-1], PAGES_TODAY,
                                "bench", new_capacity=contract.contracted_capacity + 5)
            else:
                report_capacity(session, contract_id, CapacityReportKind.STAFFING_CHANGE, SEND_DAYS[i % 4],
                                SEND_DAYS[i % 4], "bench", staffing_change="a case manager left")
            session.commit()
            counts["reports"] += 1
    if engine.dialect.name == "postgresql":
        # Autovacuum vacuums and analyzes a table within a minute or so of a bulk change; the pages
        # are read seconds after it, so do it now rather than measure plans made without statistics
        # (or index-only scans refused for want of a visibility map).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return counts


def _page_ids(url: str) -> dict[str, str]:
    """Real ids for the pages with an argument: the busiest of each kind (the dearest page)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from capacity.models import ContractCounty
    from csmatch.db import make_engine
    from placement.models import Assignment, AssignmentStatus, SolverRun
    from referrals.models import ReferralStatusChange

    engine = make_engine(url)
    with Session(engine) as session:
        county = session.scalar(sa.select(ContractCounty.county).group_by(ContractCounty.county)
                                .order_by(sa.func.count().desc(), ContractCounty.county).limit(1))
        provider = session.scalar(sa.select(Assignment.provider_id).group_by(Assignment.provider_id)
                                  .order_by(sa.func.count().desc(), Assignment.provider_id).limit(1))
        sent_provider = session.scalar(
            sa.select(Assignment.provider_id).where(Assignment.status == AssignmentStatus.SENT)
            .group_by(Assignment.provider_id).order_by(sa.func.count().desc(), Assignment.provider_id).limit(1))
        referral = session.scalar(sa.select(ReferralStatusChange.referral_id).group_by(ReferralStatusChange.referral_id)
                                  .order_by(sa.func.count().desc(), ReferralStatusChange.referral_id).limit(1))
        portal_referral = session.scalar(
            sa.select(Assignment.referral_id).where(Assignment.provider_id == sent_provider,
                                                    Assignment.sent_on.is_not(None))
            .order_by(Assignment.id).limit(1))
        run = session.scalar(sa.select(Assignment.solver_run_id).where(Assignment.solver_run_id.is_not(None))
                             .group_by(Assignment.solver_run_id).order_by(sa.func.count().desc()).limit(1))
        last_run = session.scalar(sa.select(sa.func.max(SolverRun.id)))
        assignment = session.scalar(sa.select(Assignment.id).where(Assignment.referral_id == referral)
                                    .order_by(Assignment.id.desc()).limit(1))
    engine.dispose()
    return {"county": str(county), "provider": str(provider), "sent_provider": str(sent_provider),
            "referral": str(referral), "portal_referral": str(portal_referral), "run": str(run),
            "last_run": str(last_run), "assignment": str(assignment)}


def _argument_pages(ids: dict[str, str]) -> list[str]:
    """Pages with an argument or a filter, as plan staff (the portal's are in :func:`_portal_pages`)."""
    return [
        "/queue/?overdue=1", f"/queue/?county={ids['county']}", "/queue/?status=SENT&overdue=1",
        "/queue/?page=1000", f"/queue/referrals/{ids['referral']}", f"/queue/proposals/{ids['run']}",
        f"/queue/proposals/{ids['last_run']}", f"/runs/{ids['run']}", f"/runs/{ids['last_run']}",
        f"/providers/{ids['provider']}", f"/providers/?county={ids['county']}",
        f"/capacity/?county={ids['county']}", "/capacity/?page=20", "/capacity/?show=attention",
        f"/capacity/changes?county={ids['county']}",
        f"/capacity/changes?provider={ids['provider']}", "/reports/timeliness?by=county",
        "/reports/timeliness?by=service", "/reports/timeliness?by=provider", "/reports/equity?page=10",
        f"/reports/equity?county={ids['county']}", "/reports/utilization?by=provider", "/reports/referrals?by=provider",
        f"/reports/gaps?county={ids['county']}",
        "/reports/gaps?page=100", "/api/v1/referrals?overdue=1", f"/api/v1/referrals/{ids['referral']}",
        f"/api/v1/providers/{ids['provider']}", f"/api/v1/runs/{ids['run']}",
        f"/api/v1/assignments?provider={ids['provider']}", f"/api/v1/assignments/{ids['assignment']}",
        f"/api/v1/capacity/positions?county={ids['county']}",
    ]


def _portal_pages(ids: dict[str, str]) -> list[str]:
    return ["/portal/", "/portal/?show=all", "/portal/?overdue=1", "/portal/capacity",
            f"/portal/referrals/{ids['portal_referral']}", "/api/v1/referrals"]


def _bench_users(url: str, provider_id: str) -> None:
    """Plan staff (admin) and the intake worker of ``provider_id``, once."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from accounts.models import User
    from accounts.services import create_user
    from csmatch.db import make_engine

    engine = make_engine(url)
    with Session(engine) as session:
        for email, role, provider in (("bench@plan.org", "admin", None),
                                      ("intake@provider.org", "provider", provider_id)):
            if session.scalar(sa.select(User.id).where(User.email == email)) is None:
                create_user(session, email, role, password="bench-password-123", provider_id=provider)
        session.commit()
    engine.dispose()


def _touch(engine: Any, referral_ids: list[str]) -> None:
    """A committed write that changes no figure but moves the data-changes counter
    (:mod:`csmatch.dataversion`) and logs the referrals as changed (:mod:`csmatch.changes`): every
    kept report result is retired and those referrals' rows are read again, as after a real change."""
    import sqlalchemy as sa

    from referrals.models import Referral

    with engine.begin() as conn:
        conn.execute(sa.update(Referral).where(Referral.id.in_(referral_ids)).values(notes=Referral.notes))


def time_pages(url: str, repeats: int = 3) -> dict[str, Any]:
    """Sign in as plan staff (admin) and as the busiest provider's intake worker, GET every page
    ``repeats`` times, then once more right after a data change, and after a change to 1,000
    referrals; return per page its status, the median, the first read (the process's first: SQL
    compiled, templates loaded, every report row read) and the reads after the changes (a warm
    process, no result kept: what a user sees after someone else's write)."""
    import sqlalchemy as sa

    from csmatch.db import make_engine
    from referrals.models import Referral
    from web import create_app, freeze_startup_objects

    ids = _page_ids(url)
    _bench_users(url, ids["sent_provider"])
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "WTF_CSRF_ENABLED": False,
                      "TODAY": PAGES_TODAY})
    freeze_startup_objects()  # as the server does before serving (csmatch demo)
    writer = make_engine(url)
    with writer.connect() as conn:  # the newest referrals: in every report's default period
        newest = list(conn.execute(sa.select(Referral.id).order_by(Referral.received_date.desc(), Referral.id)
                                   .limit(1000)).scalars())
    plain = [rule.rule for rule in app.url_map.iter_rules()
             if "GET" in (rule.methods or set()) and not rule.arguments and not rule.rule.startswith("/static")
             and not rule.rule.startswith("/portal")]
    results: dict[str, Any] = {}
    for email, pages in (("bench@plan.org", sorted(plain) + _argument_pages(ids)),
                         ("intake@provider.org", _portal_pages(ids))):
        client = app.test_client()
        token = _csrf(client.get("/auth/login").get_data(as_text=True))
        client.post("/auth/login", data={"email": email, "password": "bench-password-123", "csrf_token": token})
        for page in pages:
            times = []
            status = 0
            for _ in range(repeats):
                t = time.perf_counter()
                try:
                    status = client.get(page).status_code
                except Exception:  # noqa: BLE001 - a page that fails is reported, the others still measured
                    status = 500
                times.append(time.perf_counter() - t)
            _touch(writer, [ids["referral"]])
            t = time.perf_counter()
            client.get(page)
            after_change = time.perf_counter() - t
            _touch(writer, newest)
            t = time.perf_counter()
            client.get(page)
            after_many = time.perf_counter() - t
            key = page if email.startswith("bench") or page.startswith("/portal") else f"{page} (provider)"
            # first: the process's first read of the page, also the first after the week's changes (the
            # report pages keep their results while the data are unchanged, web.cache); median: the page
            # read again; after_change: read again right after a write to one referral, in the warm
            # process; after_1000: after a write to 1,000 referrals
            results[key] = {"status": status, "median_ms": round(statistics.median(times) * 1000, 1),
                            "max_ms": round(max(times) * 1000, 1), "first_ms": round(times[0] * 1000, 1),
                            "after_change_ms": round(after_change * 1000, 1),
                            "after_1000_ms": round(after_many * 1000, 1)}
    app.extensions["csmatch.engine"].dispose()
    warmer = _time_warmer(url, writer, newest[0])
    writer.dispose()
    return {"ids": ids, "pages": results, "warmer": warmer, "load_avg": os.getloadavg()}


# what the report warmer computes (web.cache.warm_reports): the report pages as they first open
WARMED_PAGES = ["/reports/equity", "/reports/utilization", "/reports/referrals", "/reports/referrals.csv",
                "/reports/timeliness"]


def _time_warmer(url: str, writer: Any, referral_id: str) -> dict[str, Any]:
    """A new app (a server's start: nothing kept), one warmer pass, then each report page's first read;
    then a write to one referral, a second pass, and the pages again."""
    from web import create_app
    from web.cache import warm_reports

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "WTF_CSRF_ENABLED": False,
                      "TODAY": PAGES_TODAY})
    client = app.test_client()
    token = _csrf(client.get("/auth/login").get_data(as_text=True))
    client.post("/auth/login", data={"email": "bench@plan.org", "password": "bench-password-123", "csrf_token": token})
    found: dict[str, Any] = {}
    for step in ("start", "after_write"):
        if step == "after_write":
            _touch(writer, [referral_id])
        found[f"{step}_pass_s"] = round(warm_reports(app), 3)
        for page in WARMED_PAGES:
            t = time.perf_counter()
            client.get(page)
            found.setdefault(page, {})[f"{step}_ms"] = round((time.perf_counter() - t) * 1000, 1)
    app.extensions["csmatch.engine"].dispose()
    return found


def measure_pages(url: str, referrals: int, workdir: Path) -> dict[str, Any]:
    prep = _prepare(url, referrals, workdir)
    t = time.perf_counter()
    week = _work_the_week(url)
    prep["week_s"] = time.perf_counter() - t
    # The pages are timed in a fresh process, as a web worker serves them: not in this one, which
    # still holds the generator's, the importer's and the solver's leftovers (gigabytes to collect).
    timed = _run_child("page_times", url, referrals, workdir)
    if "error" in timed:
        raise RuntimeError(timed["error"])
    return {"referrals": referrals, "prepare": prep, "week": week, **timed}


def measure_page_times(url: str, referrals: int, workdir: Path) -> dict[str, Any]:
    return {**time_pages(url), "peak_mb": _peak_mb()}


def _csrf(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.find(marker)
    return html[start + len(marker): html.find('"', start + len(marker))] if start >= 0 else ""


MEASURES = {"resolve": measure_resolve, "nightly": measure_nightly, "nightly-run": measure_nightly_run,
            "pages": measure_pages,
            "page_times": measure_page_times}
TARGETS = {"resolve": ("full_report_to_commit_s", 1.0), "nightly": ("stable_rerun_s", 120.0)}


def _run_child(step: str, url: str, referrals: int, workdir: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.bench_service", "--child", step, "--url", url, "--n", str(referrals),
           "--workdir", str(workdir)]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr[-2000:], "wall_s": time.perf_counter() - started}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolve-referrals", type=int, default=20_000)
    parser.add_argument("--nightly-referrals", type=int, default=250_000)
    parser.add_argument("--page-referrals", type=int, default=100_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--only", default="resolve,nightly,pages")
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("--n", type=int)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(MEASURES[args.child](args.url, args.n, args.workdir), default=str))
        return
    workdir = Path(tempfile.mkdtemp(prefix="csmatch-bench-"))
    sizes = {"resolve": args.resolve_referrals, "nightly": args.nightly_referrals, "pages": args.page_referrals}
    results: dict[str, Any] = {}
    for step in args.only.split(","):
        url = POSTGRES_URL if args.database == "postgresql" else f"sqlite:///{workdir}/{step}.sqlite"
        print(f"== {step}: {sizes[step]:,} referrals on {args.database}", flush=True)
        result = _run_child(step, url, sizes[step], workdir)
        results[step] = result
        if "error" in result:
            print(f"   FAILED: {result['error']}")
            continue
        print(f"   prepare: {json.dumps({k: round(v, 2) for k, v in result['prepare'].items()})}")
        if step == "resolve":
            r = result
            print(f"   full report -> committed re-solve (median of 3 providers): {r['full_report_to_commit_s']:.3f} s "
                  f"(target 1.0 s: {r['full_report_to_commit_s'] / 1.0:.2f}x of target); "
                  f"baseline whole-plan re-solve {r['whole_plan_resolve_s']:.2f} s "
                  f"({r['whole_plan_considered']:,} referrals): ratio "
                  f"{r['full_report_to_commit_s'] / r['whole_plan_resolve_s']:.3f}")
            for run in r["detail"]["runs"]:
                print(f"   {run}")
        elif step == "nightly":
            r = result
            print(f"   first run (places everyone): {r['first_run_s']:.1f} s "
                  f"(target 120 s: {r['first_run_s'] / 120:.2f}x), "
                  f"peak {r['first_run_peak_mb']:.0f} MB; stages {r['first_run']['stages']}")
            print(f"   stable rerun: {r['stable_rerun_s']:.1f} s (target 120 s: {r['stable_rerun_s'] / 120:.2f}x), "
                  f"peak {r['stable_rerun_peak_mb']:.0f} MB (target 4096 MB: "
                  f"{r['stable_rerun_peak_mb'] / 4096:.2f}x); {r['summary']}; stages {r['stages']}; "
                  f"load average {' '.join(f'{x:.1f}' for x in r['load_avg'])}")
        else:
            worst = max(result["pages"].items(), key=lambda kv: kv[1]["median_ms"])
            cold = max(result["pages"].items(), key=lambda kv: kv[1]["first_ms"])
            changed = max(result["pages"].items(), key=lambda kv: kv[1]["after_change_ms"])
            many = max(result["pages"].items(), key=lambda kv: kv[1]["after_1000_ms"])
            print(f"   the week: {result['week']}; ids: {result['ids']}")
            for page, v in result["pages"].items():
                print(f"   {page:60s} {v['status']} {v['median_ms']:8.1f} ms (first {v['first_ms']:.1f}, "
                      f"after a change {v['after_change_ms']:.1f}, after 1,000 {v['after_1000_ms']:.1f}, "
                      f"max {v['max_ms']:.1f})")
            w = result["warmer"]
            print(f"   report warmer: a pass at start {w['start_pass_s']} s, after a write "
                  f"{w['after_write_pass_s']} s; then each page's first read: " + ", ".join(
                      f"{p} {w[p]['start_ms']}/{w[p]['after_write_ms']} ms" for p in WARMED_PAGES))
            load = " ".join(f"{x:.1f}" for x in result["load_avg"])
            print(f"   slowest: {worst[0]} {worst[1]['median_ms']} ms (target 500 ms); slowest first request: "
                  f"{cold[0]} {cold[1]['first_ms']} ms; slowest after a change: {changed[0]} "
                  f"{changed[1]['after_change_ms']} ms; after a write to 1,000 referrals: {many[0]} "
                  f"{many[1]['after_1000_ms']} ms; load average {load}")
        print(f"   peak memory of the measuring process: {result['peak_mb']:.0f} MB", flush=True)
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"service-{args.database}.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
