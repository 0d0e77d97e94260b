"""The JSON API: lists, details, writes, its OpenAPI document, and one error shape for every error."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.services import issue_token, revoke_token
from capacity.models import CapacityReport, CapacityReportKind
from placement.models import Assignment, AssignmentStatus, SolverRun
from referrals.models import Referral, ReferralStatus
from tests.conftest import make_user
from tests.web.conftest import World

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def bearer(db_session: Session, role: str, provider_id: str | None = None) -> dict[str, str]:
    user = make_user(db_session, role, provider_id=provider_id)
    return {"Authorization": f"Bearer {issue_token(db_session, user)[1]}"}


def assert_problem(response: Any, status: int, *, kind: str | None = None, errors: list[str] | None = None) -> dict:
    """The one error shape (RFC 9457), like datasette's ``assert_canonical_error``."""
    assert response.status_code == status, response.text[:300]
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status and body["detail"] and body["title"]
    assert body["instance"] == response.request.path
    assert body["type"] == (f"/api/v1/problems/{kind}" if kind else "about:blank")
    if errors is not None:
        assert [e.get("pointer") or e.get("parameter") for e in body["errors"]] == errors
        assert all(e["detail"] for e in body["errors"])
    else:
        assert "errors" not in body
    return body


# --- lists and pagination ---------------------------------------------------------------------------


def test_referrals_paginate_with_total_and_links(client, db_session: Session, world: World) -> None:
    headers = bearer(db_session, "coordinator")
    first = client.get("/api/v1/referrals?per_page=2", headers=headers).json
    assert (first["page"], first["per_page"], first["total"]) == (1, 2, 5)
    assert first["links"]["prev"] is None and "page=2" in first["links"]["next"]
    last = client.get("/api/v1/referrals?per_page=2&page=3", headers=headers).json
    assert len(last["items"]) == 1 and last["links"]["next"] is None and "page=2" in last["links"]["prev"]
    followed = client.get(first["links"]["next"], headers=headers).json
    assert [r["id"] for r in followed["items"]] == [world.sent_b.id, world.unplaced.id]


@pytest.mark.parametrize(("query", "names"), [
    ("status=SENT", ["sent_a", "sent_b"]),
    ("overdue=true", ["ready_old", "sent_a"]),
    ("county=Humboldt&service=HOUSING_NAV&status=READY", ["ready_old"]),
    ("county=Shasta", []),
])
def test_referrals_filter(client, db_session: Session, world: World, query: str, names: list[str]) -> None:
    body = client.get(f"/api/v1/referrals?{query}", headers=bearer(db_session, "coordinator")).json
    assert [r["id"] for r in body["items"]] == [getattr(world, n).id for n in names]


def test_referral_row_has_member_clocks_and_provider(client, db_session: Session, world: World) -> None:
    body = client.get("/api/v1/referrals?status=SENT", headers=bearer(db_session, "coordinator")).json
    row = body["items"][0]
    assert row["member"]["name"].startswith("Ahmed") and row["member"]["county"] == "Humboldt"
    assert row["assignment"]["provider_id"] == world.provider_a.id
    assert row["clocks"]["answer"] == {"policy": "7003 VI.C.3.a", "started": "2026-11-20", "due": "2026-11-24",
                                       "days_left": -1, "overdue": True}


def test_referral_detail_for_plan_staff_has_history_and_unplaced(client, db_session: Session, world: World) -> None:
    headers = bearer(db_session, "coordinator")
    body = client.get(f"/api/v1/referrals/{world.unplaced.id}", headers=headers).json
    assert body["unplaced"][0]["reason"] == "ALL_IN_AREA_FULL"
    sent = client.get(f"/api/v1/referrals/{world.sent_a.id}", headers=headers).json
    assert [h["to"] for h in sent["history"]] == ["RECEIVED", "READY", "PROPOSED", "SENT"]


def test_providers_positions_reports_runs(client, db_session: Session, world: World) -> None:
    headers = bearer(db_session, "provider_relations")
    providers = client.get("/api/v1/providers?q=Birch", headers=headers).json
    assert [p["id"] for p in providers["items"]] == [world.provider_b.id]
    detail = client.get(f"/api/v1/providers/{world.provider_b.id}", headers=headers).json
    assert detail["services"] == ["HOUSING_NAV"] and detail["counties"] == ["Humboldt"]
    positions = client.get("/api/v1/capacity/positions", headers=headers).json["items"]
    b = next(p for p in positions if p["provider_id"] == world.provider_b.id)
    assert (b["contracted"], b["committed"], b["open"], b["staffing_changes"]) == (5, 1, 4, 1)
    reports = client.get(f"/api/v1/capacity/reports?provider={world.provider_b.id}", headers=headers).json
    assert reports["total"] == 1 and reports["items"][0]["kind"] == "STAFFING_CHANGE"
    runs = client.get("/api/v1/runs", headers=headers).json
    assert runs["items"][0]["id"] == world.run.id
    run = client.get(f"/api/v1/runs/{world.run.id}", headers=headers).json
    assert run["assignments_by_status"] == {"SENT": 2} and run["unplaced_by_reason"] == {"ALL_IN_AREA_FULL": 1}
    assignments = client.get(f"/api/v1/assignments?run={world.run.id}&status=SENT", headers=headers).json
    assert assignments["total"] == 2


# --- writes ---------------------------------------------------------------------------------------


def test_post_full_report_re_solves_and_says_so(client, db_session: Session, world: World) -> None:
    headers = bearer(db_session, "provider", world.provider_a.id)
    response = client.post("/api/v1/capacity/reports", headers=headers,
                           json={"contract_id": world.contract_a.id, "kind": "FULL", "note": "two beds closed"})
    assert response.status_code == 201, response.text
    body = response.json
    assert body["resolve_needed"] and body["resolve_reason"] == "PROVIDER_REPORTED_FULL"
    assert body["after"]["reported_full"] and body["after"]["open"] == 0
    assert body["resolve_run"]["trigger"] == "CAPACITY_REPORT"
    assert f"Re-solve run {body['resolve_run']['id']}" in body["message"]
    assert response.headers["Location"].startswith("/api/v1/capacity/reports")
    db_session.expire_all()
    assert db_session.get(SolverRun, body["resolve_run"]["id"]) is not None


def test_post_report_lists_every_invalid_field(client, db_session: Session, world: World) -> None:
    response = client.post("/api/v1/capacity/reports", headers=bearer(db_session, "provider_relations"),
                           json={"kind": "NEW_CAPACITY", "change_date": "next week", "new_capacity": "ten"})
    assert_problem(response, 422, kind="validation-error",
                   errors=["#/contract_id", "#/change_date", "#/new_capacity"])


def test_post_report_refused_by_the_ledger_names_the_field(client, db_session: Session, world: World) -> None:
    response = client.post("/api/v1/capacity/reports", headers=bearer(db_session, "provider_relations"),
                           json={"contract_id": world.contract_a.id, "kind": "FULL", "change_date": "2020-01-01"})
    assert_problem(response, 422, kind="validation-error", errors=["#/change_date"])
    assert db_session.scalar(sa.select(sa.func.count()).select_from(CapacityReport)) == 1  # nothing added


def test_propose_then_accept_sends_the_proposal(client, db_session: Session, world: World) -> None:
    headers = bearer(db_session, "coordinator")
    proposed = client.post("/api/v1/proposals", headers=headers)
    assert proposed.status_code == 201, proposed.text
    run_id = proposed.json["id"]
    assert proposed.headers["Location"] == f"/api/v1/runs/{run_id}"
    assert proposed.json["trigger"] == "MANUAL" and proposed.json["assignments_by_status"].get("PROPOSED", 0) >= 1
    accepted = client.post(f"/api/v1/proposals/{run_id}/accept", headers=headers)
    assert accepted.status_code == 200
    assert "PROPOSED" not in accepted.json["assignments_by_status"]
    db_session.expire_all()
    assert db_session.get(Referral, world.ready_old.id).status is ReferralStatus.SENT  # type: ignore[union-attr]


def test_provider_accepts_and_declines_through_the_api(client, db_session: Session, world: World) -> None:
    headers = bearer(db_session, "provider", world.provider_a.id)
    accepted = client.post(f"/api/v1/assignments/{world.assignment_a.id}/accept", headers=headers)
    assert accepted.status_code == 200 and accepted.json["status"] == "ACCEPTED"
    again = client.post(f"/api/v1/assignments/{world.assignment_a.id}/decline", headers=headers,
                        json={"reason": "AT_CAPACITY"})
    assert_problem(again, 409, kind="invalid-state")


def test_decline_at_capacity_reports_full_and_re_solves(client, db_session: Session, world: World) -> None:
    headers = bearer(db_session, "provider", world.provider_b.id)
    response = client.post(f"/api/v1/assignments/{world.assignment_b.id}/decline", headers=headers,
                           json={"reason": "AT_CAPACITY"})
    assert response.status_code == 200, response.text
    assert response.json["full_report_id"] is not None and response.json["resolve_run_id"] is not None
    db_session.expire_all()
    assert db_session.get(Assignment, world.assignment_b.id).status is AssignmentStatus.DECLINED  # type: ignore[union-attr]
    report = db_session.get(CapacityReport, response.json["full_report_id"])
    assert report is not None and report.kind is CapacityReportKind.FULL


@pytest.mark.parametrize(("body", "errors"), [
    ({}, ["#/reason"]),
    ({"reason": "BUSY"}, ["#/reason"]),
    ({"reason": "OTHER"}, ["#/note"]),
])
def test_decline_validates_reason(client, db_session: Session, world: World, body: dict, errors: list) -> None:
    headers = bearer(db_session, "provider", world.provider_a.id)
    response = client.post(f"/api/v1/assignments/{world.assignment_a.id}/decline", headers=headers, json=body)
    assert_problem(response, 422, kind="validation-error", errors=errors)


def test_override_validates_body(client, db_session: Session, world: World) -> None:
    response = client.post(f"/api/v1/assignments/{world.assignment_a.id}/override",
                           headers=bearer(db_session, "coordinator"), json={"reason": "short"})
    assert_problem(response, 422, kind="validation-error", errors=["#/contract_id", "#/reason"])


# --- authentication --------------------------------------------------------------------------------


def test_session_cookie_works_for_reads_and_needs_csrf_header_for_writes(client, auth, world: World) -> None:
    auth.as_role("provider_relations")
    assert client.get("/api/v1/referrals").status_code == 200
    body = {"contract_id": world.contract_a.id, "kind": "STAFFING_CHANGE", "staffing_change": "nurse left"}
    assert_problem(client.post("/api/v1/capacity/reports", json=body), 400)
    response = client.post("/api/v1/capacity/reports", json=body, headers={"X-CSRF-Token": auth.csrf()})
    assert response.status_code == 201


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer csm_unknown", "Basic dXNlcjpwYXNz", "Bearer"])
def test_bad_authorization_is_401(client, header: str) -> None:
    response = client.get("/api/v1/referrals", headers={"Authorization": header})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_and_inactive_user_are_refused(client, db_session: Session, world: World) -> None:
    user = make_user(db_session, "coordinator")
    token, plain = issue_token(db_session, user)
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/referrals", headers=headers).status_code == 200
    db_session.expire_all()
    assert token.last_used_at is not None
    revoke_token(token)
    db_session.flush()
    assert_problem(client.get("/api/v1/referrals", headers=headers), 401)
    other = make_user(db_session, "coordinator", active=False)
    _, plain = issue_token(db_session, other)
    assert_problem(client.get("/api/v1/referrals", headers={"Authorization": f"Bearer {plain}"}), 401)


def test_bearer_token_is_not_accepted_on_pages(client, db_session: Session, world: World) -> None:
    response = client.get("/queue/", headers=bearer(db_session, "coordinator"))
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


# --- every error path answers problem+json -------------------------------------------------------------


def test_400_bad_query_parameter_names_it(client, db_session: Session, world: World) -> None:
    headers = bearer(db_session, "coordinator")
    body = assert_problem(client.get("/api/v1/referrals?per_page=500", headers=headers), 400,
                          kind="invalid-parameter", errors=["per_page"])
    assert "at most 200" in body["detail"]
    assert_problem(client.get("/api/v1/referrals?status=LOST", headers=headers), 400, kind="invalid-parameter",
                   errors=["status"])
    assert_problem(client.get("/api/v1/referrals?page=0", headers=headers), 400, kind="invalid-parameter",
                   errors=["page"])


def test_400_body_not_an_object(client, db_session: Session, world: World) -> None:
    response = client.post("/api/v1/capacity/reports", headers=bearer(db_session, "admin"), data="[1, 2]",
                           content_type="application/json")
    assert_problem(response, 400)


def test_401_anonymous(client) -> None:
    assert_problem(client.get("/api/v1/referrals"), 401)


def test_403_role(client, db_session: Session) -> None:
    body = assert_problem(client.post("/api/v1/proposals", headers=bearer(db_session, "provider_relations")), 403)
    assert "provider_relations" in body["detail"]


def test_404_unknown_record(client, db_session: Session) -> None:
    assert_problem(client.get("/api/v1/referrals/R999999", headers=bearer(db_session, "admin")), 404)
    assert_problem(client.get("/api/v1/runs/999999", headers=bearer(db_session, "admin")), 404)


def test_404_unknown_route(client) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404)


def test_405_method(client) -> None:
    response = client.delete("/api/v1/referrals")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_409_state(client, db_session: Session, world: World) -> None:
    response = client.post(f"/api/v1/assignments/{world.assignment_a.id}/override",
                           headers=bearer(db_session, "coordinator"),
                           json={"contract_id": world.contract_b.id, "reason": "member asked for Birch"})
    assert_problem(response, 409, kind="invalid-state")


def test_415_not_json(client, db_session: Session, world: World) -> None:
    response = client.post("/api/v1/capacity/reports", headers=bearer(db_session, "admin"),
                           data={"contract_id": world.contract_a.id})
    assert_problem(response, 415)


def test_422_validation(client, db_session: Session) -> None:
    response = client.post("/api/v1/capacity/reports", headers=bearer(db_session, "admin"), json={"kind": "FULL"})
    assert_problem(response, 422, kind="validation-error", errors=["#/contract_id"])


def test_500_unexpected_error(app, client, db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("web.runs.services.list_runs", boom)
    body = assert_problem(client.get("/api/v1/runs", headers=bearer(db_session, "admin")), 500)
    assert "disk on fire" not in body["detail"]


def test_override_replaces_a_proposal(client, db_session: Session, world: World) -> None:
    proposal = _proposed(db_session, world)
    response = client.post(f"/api/v1/assignments/{proposal.id}/override",
                           headers=bearer(db_session, "coordinator"),
                           json={"contract_id": world.contract_b.id, "reason": "member asked for Birch"})
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    body = response.get_json()
    assert body["provider_id"] == world.contract_b.provider_id
    db_session.expire_all()
    assert db_session.get(Assignment, proposal.id).status is AssignmentStatus.SUPERSEDED  # type: ignore[union-attr]


def _proposed(db_session: Session, world: World) -> Assignment:
    assignment = Assignment(referral_id=world.ready_old.id, provider_id=world.provider_a.id,
                            site_id=f"{world.provider_a.id}-S1", contract_id=world.contract_a.id, units=1,
                            status=AssignmentStatus.PROPOSED)
    db_session.add(assignment)
    db_session.flush()
    return assignment


# --- the OpenAPI document ------------------------------------------------------------------------------


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_openapi_lists_every_api_route_and_method(app, client) -> None:
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    routes = {(_openapi_path(r.rule), m.lower()) for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1")
              for m in r.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == documented


def test_openapi_references_resolve(client) -> None:
    document = client.get("/api/v1/openapi.json").json
    refs = set(re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', str(document).replace("'", '"')))
    assert refs
    for section, name in refs:
        assert name in document["components"][section], f"{section}/{name}"
