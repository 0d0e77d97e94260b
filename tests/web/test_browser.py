"""The story in a real browser (Debian chromium through Playwright), with screenshots for the README.

The lead signs in, proposes and accepts; a provider's intake worker signs in and declines one
referral as full; the lead's dashboard then shows the capacity event, the re-solve and the updated
timeliness figures. Screenshots go to ``docs/screenshots/``.

Never ``playwright install``: the browser is Debian's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from csmatch.db import make_engine
from tests.conftest import WEB_PASSWORD, generated_plan, make_user

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TODAY = dt.date(2026, 11, 25)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small generated roster (300 referrals, 15 providers) in a migrated SQLite file."""
    url, engine = generated_plan(tmp_path_factory.mktemp("browser"), referrals=300, providers=15, today=TODAY)
    with Session(engine) as session:
        make_user(session, "coordinator", email="lead@plan.example.org")
        session.commit()
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def server(database: str) -> Iterator[str]:
    """The app served by werkzeug on 127.0.0.1 and a free port, in a thread."""
    from werkzeug.serving import make_server

    from web import create_app

    app = create_app({"DATABASE_URL": database, "SECRET_KEY": "browser-test", "TODAY": TODAY,
                      "SESSION_COOKIE_SECURE": False})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)
    app.extensions["csmatch.engine"].dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def _sign_in(browser: Any, base: str, email: str) -> Any:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/auth/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", WEB_PASSWORD)
    page.click("button[type=submit]")
    return page


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def _answers_on_time(page: Any, base: str) -> int:
    """'Answered on time' summed over the timeliness table's months."""
    page.goto(f"{base}/reports/timeliness")
    cells = page.locator("#timeliness tbody tr td:nth-child(6)").all_inner_texts()
    return sum(int(c) for c in cells if c.strip().isdigit())


def test_lead_proposes_provider_declines_full_dashboard_shows_it(browser: Any, server: str, database: str) -> None:
    # The lead signs in and lands on the referral queue.
    lead = _sign_in(browser, server, "lead@plan.example.org")
    assert lead.url.endswith("/queue/")
    assert lead.locator("h1").inner_text() == "Referral queue"
    _shot(lead, "queue")

    # Proposes: the matcher runs and the proposal shows each assignment with its reasons.
    lead.click("#propose")
    lead.wait_for_url(re.compile(r"/queue/proposals/\d+$"))
    assert "placed" in lead.locator(".flash").inner_text()
    assert lead.locator("form.override").count() > 0
    _shot(lead, "proposal")
    answered_before = _answers_on_time(lead, server)

    # Accepts: every proposed referral is sent to its provider.
    lead.go_back()
    lead.click("#accept-proposal")
    assert "sent to providers" in lead.locator(".flash").inner_text()

    # The provider with the most referrals sent gets an intake worker account.
    engine = make_engine(database)
    with Session(engine) as session:
        from placement.models import Assignment, AssignmentStatus

        provider_id = session.scalar(
            sa.select(Assignment.provider_id).where(Assignment.status == AssignmentStatus.SENT)
            .group_by(Assignment.provider_id).order_by(sa.func.count().desc(), Assignment.provider_id).limit(1))
        assert provider_id is not None
        make_user(session, "provider", provider_id=provider_id, email="intake@provider.example.org")
        session.commit()
    engine.dispose()

    # The intake worker sees only their organisation's referrals and declines one as full.
    intake = _sign_in(browser, server, "intake@provider.example.org")
    assert intake.url.endswith("/portal/")
    rows = intake.locator("#portal-referrals tbody tr")
    assert rows.count() >= 1
    _shot(intake, "portal")
    first = rows.first
    referral_id = first.locator("td").first.inner_text().strip()
    first.locator("form.decline select[name=reason]").select_option("AT_CAPACITY")
    first.locator("form.decline button").click()
    message = intake.locator(".flash").inner_text()
    assert f"Referral {referral_id} declined" in message
    assert "reported full" in message and "Re-solve run" in message
    _shot(intake, "portal-declined")
    run_id = re.search(r"Re-solve run (\d+)", message).group(1)  # type: ignore[union-attr]

    # The lead's dashboard: the capacity event on the board and in the timeline...
    lead.goto(f"{server}/capacity/")
    assert lead.locator("tr.full").count() >= 1
    assert "full since 2026-11-25" in lead.locator(f"tr:has(a[href='/providers/{provider_id}'])").first.inner_text()
    _shot(lead, "capacity-board")
    lead.goto(f"{server}/capacity/changes?provider={provider_id}")
    assert lead.locator("svg.chart").count() >= 1
    assert "full" in lead.locator("table").first.inner_text()
    _shot(lead, "capacity-changes")

    # ...the re-solve among the runs...
    lead.goto(f"{server}/runs/")
    newest = lead.locator("tbody tr").first.inner_text()
    assert newest.startswith(run_id) and "decline" in newest
    _shot(lead, "runs")
    lead.goto(f"{server}/runs/{run_id}")
    assert referral_id in lead.locator("main").inner_text() or "unplaced" in lead.locator("main").inner_text()
    _shot(lead, "run-detail")

    # ...and the timeliness figures count the provider's answer.
    assert _answers_on_time(lead, server) == answered_before + 1
    _shot(lead, "timeliness")
    lead.goto(f"{server}/reports/gaps")
    assert lead.locator("h1").inner_text() == "Network gaps"
    _shot(lead, "gaps")
