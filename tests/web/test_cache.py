"""The report warmer (web.cache), on both databases: after a pass, the report pages compliance opens
first are served from the cache without computing; after a write, the next pass reads again only
the referrals the write touched, and the pages show the new data."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from reports.oversight import referral_events
from tests.reports.conftest import Q4, add_sent_referral
from tests.web.conftest import small_plan_app
from web.cache import ReportWarmer, start_report_warmer, warm_reports

PAGES = ["/reports/equity", "/reports/utilization", "/reports/referrals", "/reports/referrals.csv"]


@pytest.fixture
def served(committing_engine: Engine) -> tuple[Any, Any]:
    return small_plan_app(committing_engine)


def test_after_a_pass_the_first_pages_compute_nothing(committing_engine: Engine, served: tuple[Any, Any]) -> None:
    app, client = served
    cache, store = app.extensions["csmatch.read_cache"], app.extensions["csmatch.kept_rows"]
    warm_reports(app)
    misses = cache.misses
    assert all(client.get(page).status_code == 200 for page in PAGES)
    assert cache.misses == misses  # each one served from the pass's results

    add_sent_referral(committing_engine, dt.date(2026, 11, 30))
    full, refreshed = store.full_reads, store.refreshed
    warm_reports(app)
    assert store.full_reads == full  # the write's referral read again, not the quarter
    assert store.refreshed - refreshed == len(store._kept)  # one referral in each row set
    misses = cache.misses
    body = client.get("/reports/referrals.csv").text
    assert cache.misses == misses
    with Session(committing_engine) as s:
        events = referral_events(s, Q4)
    assert events.groupby("event")["count"].sum()["SENT"] == 4  # A1-A3's and R-NEW's
    assert body == events.to_csv(index=False, date_format="%Y-%m-%d", float_format="%.6g")


def test_the_warmer_runs_in_the_background_until_stopped(served: tuple[Any, Any]) -> None:
    app, client = served
    app.config["REPORT_WARM_SECONDS"] = 0.05
    warmer = start_report_warmer(app)
    assert isinstance(warmer, ReportWarmer)
    deadline = time.monotonic() + 30
    while warmer.passes < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    warmer.stop()
    warmer.join(timeout=30)
    assert warmer.passes >= 2 and not warmer.is_alive()
    cache = app.extensions["csmatch.read_cache"]
    misses = cache.misses
    assert client.get("/reports/equity").status_code == 200 and cache.misses == misses


def test_no_warmer_when_turned_off(served: tuple[Any, Any]) -> None:
    app, _ = served
    app.config["REPORT_WARM_SECONDS"] = 0
    assert start_report_warmer(app) is None
