"""Every view of member data and every change leaves an audit event: who, what, when, from where."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.services import issue_token
from csmatch.models import AuditEvent
from tests.conftest import make_user
from tests.web.conftest import World


def _web_events(db_session: Session) -> list[AuditEvent]:
    db_session.expire_all()
    return list(db_session.scalars(sa.select(AuditEvent).where(AuditEvent.action.like("web.%"))
                                   .order_by(AuditEvent.id)))


@pytest.mark.parametrize(("role", "path", "action", "entity"), [
    ("coordinator", "/queue/", "web.referral.list", ("referral", "queue")),
    ("coordinator", "/queue/referrals/{ra}", "web.referral.view", ("referral", "{ra}")),
    ("coordinator", "/queue/proposals/{run}", "web.proposal.view", ("solver_run", "{run}")),
    ("compliance", "/runs/{run}", "web.solver_run.view", ("solver_run", "{run}")),
    ("provider_relations", "/reports/gaps", "web.unplaced.list", ("referral", "gaps")),
    ("provider", "/portal/", "web.referral.list", ("referral", "portal")),
    ("provider", "/portal/referrals/{ra}", "web.referral.view", ("referral", "{ra}")),
])
def test_viewing_member_data_is_audited(client, auth, db_session: Session, world: World, role: str, path: str,
                                        action: str, entity: tuple[str, str]) -> None:
    user = auth.as_role(role, provider_id=world.provider_a.id if role == "provider" else None)
    fill = {"ra": world.sent_a.id, "run": world.run.id}
    response = client.get(path.format(**fill), environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 200
    [event] = _web_events(db_session)
    assert (event.action, event.actor, event.remote_addr) == (action, user.email, "10.1.2.3")
    assert (event.entity_type, event.entity_id) == (entity[0], entity[1].format(**fill))
    assert event.at is not None


def test_listing_records_which_referrals_were_shown(client, auth, db_session: Session, world: World) -> None:
    auth.as_role("coordinator")
    client.get("/queue/?status=SENT")
    [event] = _web_events(db_session)
    assert event.details["referral_ids"] == [world.sent_a.id, world.sent_b.id]
    assert event.details["filters"]["status"] == "SENT"


def test_api_views_are_audited_with_the_token_actor(client, db_session: Session, world: World) -> None:
    user = make_user(db_session, "coordinator")
    headers = {"Authorization": f"Bearer {issue_token(db_session, user)[1]}"}
    client.get(f"/api/v1/referrals/{world.sent_a.id}", headers=headers)
    client.get("/api/v1/referrals", headers=headers)
    events = _web_events(db_session)
    assert [e.action for e in events] == ["web.referral.view", "web.referral.list"]
    assert {e.actor for e in events} == {f"token:{user.email}"}


def test_changes_are_audited_with_the_domain_event(client, auth, db_session: Session, world: World) -> None:
    user = auth.as_role("provider", provider_id=world.provider_a.id)
    client.post(f"/portal/assignments/{world.assignment_a.id}/decline",
                data={"reason": "AT_CAPACITY", "csrf_token": auth.csrf()}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    web = [e for e in _web_events(db_session) if e.action == "web.assignment.decline"]
    assert len(web) == 1 and web[0].remote_addr == "10.9.9.9" and web[0].actor == user.email
    assert web[0].details["referral_id"] == world.sent_a.id and web[0].details["reason"] == "AT_CAPACITY"
    domain = db_session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "assignment.decline")).all()
    assert len(domain) == 1  # the placement service's own event, in the same transaction


@pytest.mark.parametrize(("role", "method", "path", "form", "action"), [
    ("coordinator", "POST", "/queue/propose", {}, "web.proposal.create"),
    ("coordinator", "POST", "/queue/proposals/{run}/accept", {}, "web.proposal.accept"),
    ("provider", "POST", "/portal/assignments/{a}/accept", {}, "web.assignment.accept"),
    ("provider", "POST", "/portal/capacity", {"contract_id": "{ca}", "kind": "REOPENED"}, "web.capacity_report.create"),
    ("provider_relations", "POST", "/capacity/reports", {"contract_id": "{ca}", "kind": "FULL"},
     "web.capacity_report.create"),
])
def test_each_change_is_audited(client, auth, db_session: Session, world: World, role: str, method: str,
                                path: str, form: dict[str, str], action: str) -> None:
    auth.as_role(role, provider_id=world.provider_a.id if role == "provider" else None)
    fill = {"run": world.run.id, "a": world.assignment_a.id, "ca": world.contract_a.id}
    data = {k: v.format(**fill) for k, v in form.items()}
    response = client.post(path.format(**fill), data={**data, "csrf_token": auth.csrf()})
    assert response.status_code == 302
    assert action in [e.action for e in _web_events(db_session)]


def test_refused_requests_leave_no_change_and_no_event(client, auth, db_session: Session, world: World) -> None:
    auth.as_role("provider", provider_id=world.provider_b.id)
    response = client.get(f"/portal/referrals/{world.sent_a.id}")
    assert response.status_code == 404
    assert _web_events(db_session) == []
