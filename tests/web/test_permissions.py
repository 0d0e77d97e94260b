"""Role × endpoint: who may read or change what; every denial checked, nothing leaks.

Each row names an endpoint and the answer every role gets. Pages send anonymous users to the
sign-in page; the API answers 401. A provider user is confined to its own organisation: another
organisation's record answers 404 (it does not exist, as far as they know). Compliance is
read-only everywhere. Forms carry the session's CSRF token and API calls a bearer token, so these
tests check roles only (CSRF has its own tests).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from accounts.services import issue_token
from tests.conftest import make_user
from tests.web.conftest import World

ROLES = ("anonymous", "coordinator", "provider_relations", "compliance", "admin", "provider_own", "provider_other")
PLAN = ("coordinator", "provider_relations", "compliance", "admin")
LOGIN = "login"  # a redirect to the sign-in page


def answers(default: Any, **by_role: Any) -> dict[str, Any]:
    """Expected answer per role: ``plan=`` for the four plan roles, ``provider=`` for both provider users."""
    table = dict.fromkeys(ROLES, default)
    if "plan" in by_role:
        table.update(dict.fromkeys(PLAN, by_role.pop("plan")))
    if "provider" in by_role:
        table.update(dict.fromkeys(("provider_own", "provider_other"), by_role.pop("provider")))
    table.update(by_role)
    return table


PLAN_PAGE = answers(200, anonymous=LOGIN, provider=403)
PORTAL_PAGE = answers(403, anonymous=LOGIN, provider=200)
REPORT_FORM = {"contract_id": "{ca}", "kind": "STAFFING_CHANGE", "staffing_change": "a nurse joined"}

# (method, path, body, answers)
PAGES: list[tuple[str, str, dict[str, str] | None, dict[str, Any]]] = [
    ("GET", "/queue/", None, PLAN_PAGE),
    ("GET", "/queue/referrals/{ra}", None, PLAN_PAGE),
    ("GET", "/queue/proposals/{run}", None, PLAN_PAGE),
    ("GET", "/runs/", None, PLAN_PAGE),
    ("GET", "/runs/{run}", None, PLAN_PAGE),
    ("GET", "/capacity/", None, PLAN_PAGE),
    ("GET", "/capacity/changes?provider={pa}", None, PLAN_PAGE),
    ("GET", "/providers/", None, PLAN_PAGE),
    ("GET", "/providers/{pa}", None, PLAN_PAGE),
    ("GET", "/reports/timeliness", None, PLAN_PAGE),
    ("GET", "/reports/gaps", None, PLAN_PAGE),
    ("GET", "/reports/equity?quarter=2026Q4", None, PLAN_PAGE),
    ("GET", "/reports/equity.csv?quarter=2026Q4", None, PLAN_PAGE),
    ("GET", "/reports/equity_flags.csv?quarter=2026Q4", None, PLAN_PAGE),
    ("GET", "/reports/utilization?quarter=2026Q4", None, PLAN_PAGE),
    ("GET", "/reports/utilization.csv?quarter=2026Q4", None, PLAN_PAGE),
    ("GET", "/reports/referrals?quarter=2026Q4", None, PLAN_PAGE),
    ("GET", "/reports/referrals.csv?quarter=2026Q4", None, PLAN_PAGE),
    ("GET", "/portal/", None, PORTAL_PAGE),
    ("GET", "/portal/capacity", None, PORTAL_PAGE),
    ("GET", "/portal/referrals/{ra}", None, answers(403, anonymous=LOGIN, provider_own=200, provider_other=404)),
    ("POST", "/queue/propose", {}, answers(403, anonymous=LOGIN, coordinator=302, admin=302)),
    ("POST", "/queue/proposals/{run}/accept", {}, answers(403, anonymous=LOGIN, coordinator=302, admin=302)),
    ("POST", "/queue/assignments/{a}/override", {}, answers(403, anonymous=LOGIN, coordinator=302, admin=302)),
    ("POST", "/capacity/reports", REPORT_FORM, answers(403, anonymous=LOGIN, provider_relations=302, admin=302)),
    ("POST", "/portal/assignments/{a}/accept", {},
     answers(403, anonymous=LOGIN, provider_own=302, provider_other=404)),
    ("POST", "/portal/assignments/{a}/decline", {"reason": "OUT_OF_AREA"},
     answers(403, anonymous=LOGIN, provider_own=302, provider_other=404)),
    ("POST", "/portal/capacity", REPORT_FORM, answers(403, anonymous=LOGIN, provider_own=302, provider_other=404)),
    ("POST", "/auth/logout", {}, answers(302)),
]

API_READ = answers(200, anonymous=401)
API_PLAN_READ = answers(200, anonymous=401, provider=403)
API_OWN = answers(200, anonymous=401, provider_other=404)
API: list[tuple[str, str, dict[str, Any] | None, dict[str, Any]]] = [
    ("GET", "/api/v1/openapi.json", None, answers(200)),
    ("GET", "/api/v1/referrals", None, API_READ),
    ("GET", "/api/v1/referrals/{ra}", None, API_OWN),
    ("GET", "/api/v1/providers", None, API_READ),
    ("GET", "/api/v1/providers/{pa}", None, API_OWN),
    ("GET", "/api/v1/capacity/positions", None, API_READ),
    ("GET", "/api/v1/capacity/reports", None, API_READ),
    ("POST", "/api/v1/capacity/reports", REPORT_FORM,
     answers(403, anonymous=401, provider_relations=201, admin=201, provider_own=201, provider_other=422)),
    ("POST", "/api/v1/proposals", {}, answers(403, anonymous=401, coordinator=201, admin=201)),
    ("POST", "/api/v1/proposals/{run}/accept", {}, answers(403, anonymous=401, coordinator=200, admin=200)),
    ("GET", "/api/v1/assignments", None, API_READ),
    ("GET", "/api/v1/assignments/{a}", None, API_OWN),
    # Assignment A was already sent: the coordinator is allowed, the state refuses (409).
    ("POST", "/api/v1/assignments/{a}/override", {"contract_id": "{cb}", "reason": "member asked for Birch"},
     answers(403, anonymous=401, coordinator=409, admin=409)),
    ("POST", "/api/v1/assignments/{a}/accept", {}, answers(403, anonymous=401, provider_own=200, provider_other=404)),
    ("POST", "/api/v1/assignments/{a}/decline", {"reason": "OUT_OF_AREA"},
     answers(403, anonymous=401, provider_own=200, provider_other=404)),
    ("GET", "/api/v1/runs", None, API_PLAN_READ),
    ("GET", "/api/v1/runs/{run}", None, API_PLAN_READ),
]


def _fill(template: str, world: World) -> str:
    return template.format(ra=world.sent_a.id, run=world.run.id, pa=world.provider_a.id, a=world.assignment_a.id,
                           ca=world.contract_a.id, cb=world.contract_b.id)


def _sign_in(role: str, auth: Any, db_session: Session, world: World) -> Any:
    if role == "anonymous":
        return None
    if role.startswith("provider_") and role != "provider_relations":
        provider = world.provider_a if role == "provider_own" else world.provider_b
        return auth.as_user(make_user(db_session, "provider", provider_id=provider.id))
    return auth.as_user(make_user(db_session, role))


def _cases(table: list[tuple[str, str, Any, dict[str, Any]]]) -> list[Any]:
    return [pytest.param(method, path, body, role, expected[role], id=f"{method} {path} as {role}")
            for method, path, body, expected in table for role in ROLES]


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), _cases(PAGES))
def test_page_answers_each_role(client, auth, db_session: Session, world: World, method: str, path: str,
                                body: dict[str, str] | None, role: str, expected: Any) -> None:
    _sign_in(role, auth, db_session, world)
    url = _fill(path, world)
    if method == "GET":
        response = client.get(url)
    else:
        form = {k: _fill(v, world) for k, v in (body or {}).items()}
        response = client.post(url, data={**form, "csrf_token": auth.csrf()})
    if expected == LOGIN:
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    else:
        assert response.status_code == expected, response.text[:300]


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), _cases(API))
def test_api_answers_each_role(client, auth, db_session: Session, world: World, method: str, path: str,
                               body: dict[str, Any] | None, role: str, expected: int) -> None:
    user = _sign_in(role, auth, db_session, world)
    headers = {}
    if user is not None:
        auth.as_user(user)
        with client.session_transaction() as s:
            s.clear()  # the API call is authenticated by the token alone
        headers["Authorization"] = f"Bearer {issue_token(db_session, user)[1]}"
    url = _fill(path, world)
    if method == "GET":
        response = client.get(url, headers=headers)
    else:
        payload = {k: _fill(v, world) if isinstance(v, str) else v for k, v in (body or {}).items()}
        response = client.post(url, json=payload, headers=headers)
    assert response.status_code == expected, response.text[:300]
    if expected >= 400:
        assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("role", ["provider_own", "provider_other"])
def test_provider_lists_leak_nothing_of_other_organisations(client, auth, db_session: Session, world: World,
                                                            role: str) -> None:
    user = _sign_in(role, auth, db_session, world)
    own = world.provider_a if role == "provider_own" else world.provider_b
    own_referral = world.sent_a if role == "provider_own" else world.sent_b
    other_names = {"Ahmed", "Baker", "Chen", "Diaz", "Evans"} - {"Ahmed" if role == "provider_own" else "Baker"}

    page = client.get("/portal/")
    assert own_referral.id in page.text
    assert not any(name in page.text for name in other_names)

    token = issue_token(db_session, user)[1]
    headers = {"Authorization": f"Bearer {token}"}
    listed = client.get("/api/v1/referrals?per_page=200", headers=headers).json
    assert [r["id"] for r in listed["items"]] == [own_referral.id] and listed["total"] == 1
    assignments = client.get("/api/v1/assignments", headers=headers).json
    assert {a["provider_id"] for a in assignments["items"]} == {own.id}
    assert all("reasons" not in a for a in assignments["items"])  # the solver's reasoning is plan business
    providers = client.get("/api/v1/providers", headers=headers).json
    assert [p["id"] for p in providers["items"]] == [own.id]
    positions = client.get(f"/api/v1/capacity/positions?provider={world.provider_a.id}", headers=headers).json
    assert {p["provider_id"] for p in positions["items"]} == {own.id}
    reports = client.get(f"/api/v1/capacity/reports?provider={world.provider_b.id}", headers=headers).json
    assert {r["provider_id"] for r in reports["items"]} <= {own.id}


def test_portal_referral_page_hides_the_solver_reasoning(client, auth, db_session: Session, world: World) -> None:
    world.assignment_a.reasons = {"explanation": ["Birch was full"], "preference_misses": [
        {"provider_id": world.provider_b.id, "rank": 1, "reason": "FULL"}]}
    db_session.flush()
    _sign_in("provider_own", auth, db_session, world)
    html = client.get(f"/portal/referrals/{world.sent_a.id}").text
    assert world.sent_a.id in html
    assert "Birch was full" not in html and world.provider_b.id not in html and "/runs/" not in html


def test_provider_referral_detail_hides_plan_history(client, auth, db_session: Session, world: World) -> None:
    user = _sign_in("provider_own", auth, db_session, world)
    headers = {"Authorization": f"Bearer {issue_token(db_session, user)[1]}"}
    body = client.get(f"/api/v1/referrals/{world.sent_a.id}", headers=headers).json
    assert "history" not in body and "unplaced" not in body and "preferences" not in body
    assert [a["provider_id"] for a in body["assignments"]] == [world.provider_a.id]


@pytest.mark.parametrize("path", [p for m, p, _, _ in PAGES if m == "POST"] + [p for m, p, _, _ in API if m == "POST"])
def test_compliance_can_change_nothing(client, auth, db_session: Session, world: World, path: str) -> None:
    user = auth.as_role("compliance")
    url = _fill(path, world)
    if url.startswith("/api/"):
        token = issue_token(db_session, user)[1]
        response = client.post(url, json={}, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403
    elif url == "/auth/logout":
        assert client.post(url, data={"csrf_token": auth.csrf()}).status_code == 302  # signing out is allowed
    else:
        assert client.post(url, data={"csrf_token": auth.csrf()}).status_code == 403
