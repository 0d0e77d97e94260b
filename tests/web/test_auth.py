"""Signing in and out, sessions, CSRF."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from csmatch.models import AuditEvent
from tests.conftest import WEB_PASSWORD, make_user


def _events(db_session: Session, action: str) -> list[AuditEvent]:
    db_session.expire_all()
    return list(db_session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_login_page_renders(client) -> None:
    response = client.get("/auth/login")
    assert response.status_code == 200 and 'name="csrf_token"' in response.text


def test_login_signs_in_and_redirects_home(client, auth, db_session: Session) -> None:
    user = make_user(db_session, "coordinator", email="Lead@Example.org")
    response = auth.login("lead@example.org")
    assert response.status_code == 302 and response.headers["Location"] == "/queue/"
    with client.session_transaction() as s:
        assert s["user_id"] == user.id
    [event] = _events(db_session, "web.user.login")
    assert event.actor == "lead@example.org" and event.remote_addr == "127.0.0.1"


@pytest.mark.parametrize(("email", "password", "active"), [
    ("lead@example.org", "wrong password!!", True),
    ("nobody@example.org", WEB_PASSWORD, True),
    ("lead@example.org", WEB_PASSWORD, False),
])
def test_login_refused(client, auth, db_session: Session, email: str, password: str, active: bool) -> None:
    make_user(db_session, "coordinator", email="lead@example.org", active=active)
    response = auth.login(email, password)
    assert response.status_code == 200 and "E-mail or password is wrong" in response.text
    with client.session_transaction() as s:
        assert "user_id" not in s
    assert len(_events(db_session, "web.user.login_failed")) == 1


def test_login_redirects_to_next_only_on_this_site(client, auth, db_session: Session) -> None:
    user = make_user(db_session, "coordinator")
    token = auth.csrf()
    ok = client.post("/auth/login?next=/runs/", data={"email": user.email, "password": WEB_PASSWORD,
                                                      "csrf_token": token})
    assert ok.headers["Location"] == "/runs/"
    token = auth.csrf()
    evil = client.post("/auth/login?next=//evil.example/x", data={"email": user.email, "password": WEB_PASSWORD,
                                                                  "csrf_token": token})
    assert evil.headers["Location"] == "/queue/"


def test_login_required_redirects_with_next(client) -> None:
    response = client.get("/runs/?trigger=MANUAL")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=/runs/")


def test_login_starts_a_new_session_and_csrf_token(client, auth, db_session: Session) -> None:
    user = make_user(db_session, "coordinator")
    before = auth.csrf()
    auth.login(user.email)
    with client.session_transaction() as s:
        assert s["csrf_token"] != before


def test_logout_clears_the_session(client, auth, db_session: Session) -> None:
    auth.as_role("coordinator")
    response = auth.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    with client.session_transaction() as s:
        assert "user_id" not in s
    assert len(_events(db_session, "web.user.logout")) == 1


def test_deactivated_user_is_signed_out_on_next_request(client, auth, db_session: Session) -> None:
    user = auth.as_role("coordinator")
    user.active = False
    db_session.flush()
    response = client.get("/queue/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_post_without_the_session_csrf_token_is_refused(client, auth, world, token: str | None) -> None:
    auth.as_role("coordinator")
    data = {} if token is None else {"csrf_token": token}
    response = client.post("/queue/propose", data=data)
    assert response.status_code == 400 and "CSRF" in response.text


def test_login_without_csrf_token_is_refused(client, db_session: Session) -> None:
    user = make_user(db_session, "coordinator")
    response = client.post("/auth/login", data={"email": user.email, "password": WEB_PASSWORD})
    assert response.status_code == 400


def test_csrf_token_is_in_every_post_form(client, auth, world) -> None:
    auth.as_role("coordinator")
    pages = ["/queue/", f"/queue/proposals/{world.run.id}"]
    auth.as_role("provider_relations")
    pages_relations = [f"/providers/{world.provider_a.id}"]
    auth.as_role("coordinator")
    for path in pages:
        html = client.get(path).text
        assert html.count('method="post"') == html.count('name="csrf_token"'), path
    auth.as_role("provider_relations")
    for path in pages_relations:
        html = client.get(path).text
        assert html.count('method="post"') == html.count('name="csrf_token"') >= 2, path
