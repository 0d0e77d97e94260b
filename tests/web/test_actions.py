"""The day's work through the pages: propose, accept, override; accept, decline, report capacity."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from sqlalchemy.orm import Session

from capacity.models import CapacityReport, CapacityReportKind
from placement.models import Assignment, AssignmentStatus, RunTrigger, SolverRun
from referrals.models import Referral, ReferralStatus
from tests.factories import make_capacity_report, make_contract, make_provider
from tests.web.conftest import World


def _flash(client) -> str:
    with client.session_transaction() as s:
        return " ".join(message for _, message in s.get("_flashes", []))


def _post(client, auth, url: str, **form: str):
    return client.post(url, data={**form, "csrf_token": auth.csrf()})


def test_queue_shows_due_dates_and_highlights_overdue(client, auth, world: World) -> None:
    auth.as_role("coordinator")
    html = client.get("/queue/?overdue=1").text
    rows = re.findall(r'<tr class="([^"]*)">\s*<td><a href="/queue/referrals/(\w+)"', html)
    assert {rid for _, rid in rows} == {world.sent_a.id, world.ready_old.id}
    assert all("highlight" in cls for cls, _ in rows)
    assert "1 day overdue" in html and "2026-11-24" in html


def test_propose_shows_the_proposal_and_accept_sends_it(client, auth, db_session: Session, world: World) -> None:
    auth.as_role("coordinator")
    response = _post(client, auth, "/queue/propose")
    assert response.status_code == 302
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert "placed" in _flash(client)
    page = client.get(f"/queue/proposals/{run_id}").text
    assert "Accept and send" in page and world.ready_old.id in page and "why" in page
    accepted = _post(client, auth, f"/queue/proposals/{run_id}/accept")
    assert accepted.status_code == 302 and "sent to providers" in _flash(client)
    db_session.expire_all()
    assert db_session.get(Referral, world.ready_old.id).status is ReferralStatus.SENT  # type: ignore[union-attr]


def test_override_needs_a_written_reason(client, auth, db_session: Session, world: World) -> None:
    auth.as_role("coordinator")
    response = _post(client, auth, f"/queue/assignments/{world.assignment_a.id}/override",
                     contract_id=world.contract_b.id, reason="short")
    assert response.status_code == 302 and "reason (at least 10 characters)" in _flash(client)


def test_override_is_refused_for_a_referral_already_sent(client, auth, db_session: Session, world: World) -> None:
    auth.as_role("coordinator")
    response = _post(client, auth, f"/queue/assignments/{world.assignment_a.id}/override",
                     contract_id=world.contract_b.id, reason="the member asked for Birch")
    assert response.status_code == 302 and "only a proposal can be overridden" in _flash(client)


def test_provider_accepts_in_the_portal(client, auth, db_session: Session, world: World) -> None:
    auth.as_role("provider", provider_id=world.provider_a.id)
    response = _post(client, auth, f"/portal/assignments/{world.assignment_a.id}/accept")
    assert response.status_code == 302 and "accepted" in _flash(client)
    db_session.expire_all()
    assert db_session.get(Assignment, world.assignment_a.id).status is AssignmentStatus.ACCEPTED  # type: ignore[union-attr]
    again = _post(client, auth, f"/portal/assignments/{world.assignment_a.id}/accept")
    assert again.status_code == 302 and "not waiting for you" in _flash(client)


def test_decline_as_full_reports_full_and_says_what_happened(client, auth, db_session: Session,
                                                              world: World) -> None:
    auth.as_role("provider", provider_id=world.provider_a.id)
    response = _post(client, auth, f"/portal/assignments/{world.assignment_a.id}/decline", reason="AT_CAPACITY")
    assert response.status_code == 302
    message = _flash(client)
    assert "declined" in message and "reported full" in message and "Re-solve run" in message
    db_session.expire_all()
    full = db_session.scalars(sa.select(CapacityReport).where(CapacityReport.kind == CapacityReportKind.FULL)).one()
    assert full.contract_id == world.contract_a.id
    run = db_session.scalars(sa.select(SolverRun).order_by(SolverRun.id.desc())).first()
    assert run is not None and run.trigger is RunTrigger.DECLINE


def test_decline_for_another_reason_needs_a_note(client, auth, db_session: Session, world: World) -> None:
    auth.as_role("provider", provider_id=world.provider_a.id)
    _post(client, auth, f"/portal/assignments/{world.assignment_a.id}/decline", reason="OTHER")
    assert "needs a note" in _flash(client)
    db_session.expire_all()
    assert db_session.get(Assignment, world.assignment_a.id).status is AssignmentStatus.SENT  # type: ignore[union-attr]


def test_full_capacity_report_in_the_portal_re_solves(client, auth, db_session: Session, world: World) -> None:
    auth.as_role("provider", provider_id=world.provider_a.id)
    response = _post(client, auth, "/portal/capacity", contract_id=world.contract_a.id, kind="FULL",
                     note="flu outbreak")
    assert response.status_code == 302
    message = _flash(client)
    assert "full report recorded" in message and "open units 4 → 0" in message and "Re-solve run" in message
    page = client.get("/portal/capacity").text
    assert "full since 2026-11-25" in page and "flu outbreak" in page


def test_portal_report_with_errors_records_nothing(client, auth, db_session: Session, world: World) -> None:
    auth.as_role("provider", provider_id=world.provider_a.id)
    _post(client, auth, "/portal/capacity", contract_id=world.contract_a.id, kind="NEW_CAPACITY")
    assert "new_capacity required" in _flash(client)
    _post(client, auth, "/portal/capacity", contract_id=world.contract_a.id, kind="FULL", change_date="2020-01-01")
    assert "Not recorded" in _flash(client)
    db_session.expire_all()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(CapacityReport)) == 1


def test_provider_relations_records_a_report_for_a_provider(client, auth, db_session: Session,
                                                            world: World) -> None:
    auth.as_role("provider_relations")
    back = f"/providers/{world.provider_b.id}"
    response = _post(client, auth, "/capacity/reports", contract_id=world.contract_b.id, kind="NEW_CAPACITY",
                     new_capacity="8", back=back)
    assert response.status_code == 302 and response.headers["Location"] == back
    assert "new capacity report recorded" in _flash(client)
    board = client.get("/capacity/").text
    assert "Birch Community Care" in board


def test_capacity_board_highlights_silent_providers(client, auth, world: World) -> None:
    auth.as_role("provider_relations")
    html = client.get("/capacity/").text
    alder = re.search(r'<tr class="([^"]*)">\s*<td><a href="/providers/' + world.provider_a.id, html)
    birch = re.search(r'<tr class="([^"]*)">\s*<td><a href="/providers/' + world.provider_b.id, html)
    assert alder and "highlight" in alder.group(1) and "1 answer(s) overdue" in html
    assert birch and "highlight" not in birch.group(1) and "one case manager left" in html


def _board_providers(html: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*">\s*<td><a href="/providers/([^"]+)"', html)


def test_capacity_board_shows_silent_and_full_first_a_page_at_a_time(client, auth, db_session: Session,
                                                                     world: World) -> None:
    quiet = make_provider(db_session, name="Aaron Quiet Care")  # first by name, but neither silent nor full
    make_contract(db_session, quiet, capacity=3)
    make_capacity_report(db_session, world.contract_b, CapacityReportKind.FULL, dt.date(2026, 11, 24))
    auth.as_role("provider_relations")
    html = client.get("/capacity/?per_page=2").text
    assert _board_providers(html) == [world.provider_a.id, world.provider_b.id]  # silent Alder, full Birch
    assert "3 in all · page 1 of 2" in html and 'rel="next"' in html
    assert '<div class="figure">3</div><div class="label">contracts in effect</div>' in html  # the whole board
    assert _board_providers(client.get("/capacity/?per_page=2&page=2").text) == [quiet.id]
    assert _board_providers(client.get("/capacity/?show=full").text) == [world.provider_b.id]
    assert _board_providers(client.get("/capacity/?show=silent").text) == [world.provider_a.id]
    assert _board_providers(client.get("/capacity/?show=attention").text) == [world.provider_a.id,
                                                                               world.provider_b.id]
    assert _board_providers(client.get(f"/capacity/?provider={quiet.id}").text) == [quiet.id]
    response = client.get("/capacity/?show=everything")
    assert response.status_code == 400 and "show: must be one of full, silent, attention" in response.text


def test_capacity_changes_draw_a_chart_per_service(client, auth, world: World) -> None:
    auth.as_role("provider_relations")
    html = client.get("/capacity/changes?county=Humboldt").text
    assert html.count("<svg") == 1 and "Housing Transition Navigation: capacity over time" in html
    assert "one case manager left" in html  # the report timeline


def test_timeliness_page_shows_shares_and_aging(client, auth, world: World) -> None:
    auth.as_role("compliance")
    html = client.get("/reports/timeliness").text
    assert "2026-11" in html and "67%" in html and "0%" in html
    assert html.count("<svg") == 3  # two shares by month and the aging chart


def test_gaps_page_shows_reasons_and_nearest_providers(client, auth, world: World) -> None:
    auth.as_role("provider_relations")
    html = client.get("/reports/gaps").text
    assert "ALL_IN_AREA_FULL" in html and "Birch Community Care (3 mi)" in html
