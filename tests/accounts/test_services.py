"""Users, passwords and API tokens."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import ApiToken, Role, User
from accounts.services import (
    MIN_PASSWORD_LENGTH,
    AccountError,
    authenticate,
    create_user,
    hash_password,
    issue_token,
    revoke_token,
    user_for_token,
)
from tests.conftest import WEB_PASSWORD, make_user, web_password_hash
from tests.factories import make_provider


def test_passwords_are_hashed_with_scrypt() -> None:
    hashed = web_password_hash()
    assert hashed.startswith("scrypt:32768:8:1$") and WEB_PASSWORD not in hashed


@pytest.mark.parametrize(("length", "ok"), [(MIN_PASSWORD_LENGTH - 1, False), (MIN_PASSWORD_LENGTH, True)])
def test_password_length_is_checked_at_the_minimum(length: int, ok: bool) -> None:
    if ok:
        assert hash_password("x" * length)
    else:
        with pytest.raises(AccountError, match="at least 12 characters"):
            hash_password("x" * length)


def test_create_user_stores_email_lower_case(db_session: Session) -> None:
    user = create_user(db_session, "  Lead@Example.ORG ", "coordinator", password="", password_hash=web_password_hash())
    assert user.email == "lead@example.org" and user.role is Role.COORDINATOR and user.active


@pytest.mark.parametrize(("email", "role", "provider", "message"), [
    ("not-an-email", "coordinator", None, "not an e-mail address: 'not-an-email'"),
    ("a@example.org", "supervisor", None, "unknown role 'supervisor'; choose one of coordinator"),
    ("a@example.org", "provider", None, "a provider user needs --provider"),
    ("a@example.org", "provider", "PRV-NONE", "no provider with id 'PRV-NONE'"),
    ("a@example.org", "compliance", "OWN", "only provider users belong to a provider; 'compliance' is plan staff"),
    ("taken@example.org", "admin", None, "a user with e-mail 'taken@example.org' already exists"),
])
def test_create_user_refuses(db_session: Session, email: str, role: str, provider: str | None, message: str) -> None:
    make_user(db_session, "admin", email="taken@example.org")
    own = make_provider(db_session)
    with pytest.raises(AccountError, match=message.replace("(", r"\(")):
        create_user(db_session, email, role, password="", password_hash=web_password_hash(),
                    provider_id=own.id if provider == "OWN" else provider)


def test_provider_scope_is_enforced_by_the_database(db_session: Session) -> None:
    db_session.add(User(email="x@example.org", password_hash="x", role=Role.PROVIDER, provider_id=None))
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_authenticate(db_session: Session) -> None:
    user = make_user(db_session, "coordinator", email="lead@example.org")
    assert authenticate(db_session, "LEAD@example.org", WEB_PASSWORD) is user
    assert user.last_login_at is not None
    assert authenticate(db_session, "lead@example.org", "wrong password") is None
    assert authenticate(db_session, "who@example.org", WEB_PASSWORD) is None
    user.active = False
    assert authenticate(db_session, "lead@example.org", WEB_PASSWORD) is None


def test_tokens_are_stored_hashed_and_can_be_revoked(db_session: Session) -> None:
    user = make_user(db_session, "coordinator")
    token, plain = issue_token(db_session, user, "nightly export")
    assert plain.startswith("csm_") and len(plain) > 40
    stored = db_session.scalars(sa.select(ApiToken)).one()
    assert stored.token_hash != plain and plain not in stored.token_hash and stored.prefix == plain[:12]
    now = dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC)
    assert user_for_token(db_session, plain, now) is user and token.last_used_at == now
    assert user_for_token(db_session, plain[:-1] + "x") is None
    assert user_for_token(db_session, "not-a-token") is None
    revoke_token(token, now)
    revoke_token(token)  # revoking twice keeps the first time
    assert token.revoked_at == now and user_for_token(db_session, plain) is None
