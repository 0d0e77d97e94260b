"""Shared fixtures. Every persistence test runs on SQLite and on PostgreSQL (``DATABASE_URL``).

``db_session`` runs inside an outer transaction joined with savepoints and rolled back at the end
(warehouse's pattern), so tests never see each other's rows. Tests that must commit for real
(concurrency, kill-mid-run) use ``committing_engine`` and clean up after themselves.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from csmatch import migrate
from csmatch.db import make_engine
from csmatch.registry import metadata

POSTGRES_URL = os.environ.get("DATABASE_URL", "")
DATABASES = ["sqlite", "postgresql"]


def _reset_postgres(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")


def _engine_for(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    if kind == "sqlite":
        path = tmp_path_factory.mktemp("db") / "csmatch.sqlite"
        return make_engine(f"sqlite:///{path}")
    if not POSTGRES_URL.startswith("postgres"):
        if os.environ.get("CI"):
            pytest.fail("CI must set DATABASE_URL to the PostgreSQL server")
        pytest.skip("DATABASE_URL does not name a PostgreSQL server")
    engine = make_engine(POSTGRES_URL)
    _reset_postgres(engine)
    return engine


@pytest.fixture(scope="session", params=DATABASES)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database of each kind, shared by the session (migrations are tested here too)."""
    engine = _engine_for(request.param, tmp_path_factory)
    migrate.upgrade(engine=engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session whose every commit is a savepoint inside one transaction rolled back at the end."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def committing_engine(request: pytest.FixtureRequest, engine: Engine) -> Iterator[Engine]:
    """The shared engine for tests that commit for real; every table is emptied afterwards."""
    yield engine
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_delete")
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change")
        else:
            from csmatch.models import AUDIT_APPEND_ONLY_SQLITE

            for statement in AUDIT_APPEND_ONLY_SQLITE:
                conn.exec_driver_sql(statement)


@pytest.fixture
def dialect(engine: Engine) -> str:
    return engine.dialect.name


def count(session: Session, model: type) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


# --- web: the Flask app, its test client and a sign-in helper (flaskr's conftest) ------------------

WEB_TODAY = dt.date(2026, 11, 25)
WEB_PASSWORD = "correct horse battery staple"


@functools.cache
def web_password_hash() -> str:
    """One scrypt hash for every test user: hashing is slow on purpose."""
    from accounts.services import hash_password

    return hash_password(WEB_PASSWORD)


def generated_plan(base: Path, *, referrals: int, providers: int, today: dt.date) -> tuple[str, Engine]:
    """A generated roster (seed 2026) loaded into a migrated SQLite file under ``base``: its URL and an engine."""
    from csmatch.seed import sync_services
    from exchange.roster import load_roster
    from fixtures.generate import generate

    generate(base / "roster", referrals=referrals, providers=providers, seed=2026)
    url = f"sqlite:///{base / 'plan.sqlite'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        sync_services(session)
        load_roster(session, base / "roster", today=today)
        session.commit()
    return url, engine


def make_user(session: Session, role: str, *, provider_id: str | None = None, email: str | None = None,
              active: bool = True) -> Any:
    """A user of ``role`` (password :data:`WEB_PASSWORD`), added and flushed."""
    from accounts.services import create_user

    user = create_user(session, email or f"{role}.{next(_user_ids)}@example.org", role, password="",
                       provider_id=provider_id, password_hash=web_password_hash())
    user.active = active
    session.flush()
    return user


_user_ids = itertools.count(1)


@pytest.fixture
def app(db_session: Session) -> Any:
    """The app on the test database: each request's session is a savepoint in the test's transaction."""
    from web import create_app

    connection = db_session.get_bind()

    def session_factory() -> Session:
        return Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)

    return create_app({"TESTING": True, "SECRET_KEY": "test", "TODAY": WEB_TODAY,
                       "SESSION_FACTORY": session_factory})


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner() -> Any:
    """A click runner for the ``csmatch`` command."""
    from click.testing import CliRunner

    return CliRunner()


class AuthActions:
    """Sign in through the form (``login``) or straight into the session (``as_user``, fast)."""

    def __init__(self, client: Any, session: Session) -> None:
        self._client = client
        self._session = session

    def csrf(self) -> str:
        """The session's CSRF token (made by fetching the sign-in page when there is none)."""
        with self._client.session_transaction() as s:
            token = s.get("csrf_token")
        if not token:
            self._client.get("/auth/login")
            with self._client.session_transaction() as s:
                token = s["csrf_token"]
        return str(token)

    def login(self, email: str, password: str = WEB_PASSWORD) -> Any:
        return self._client.post("/auth/login", data={"email": email, "password": password,
                                                      "csrf_token": self.csrf()})

    def as_user(self, user: Any) -> Any:
        with self._client.session_transaction() as s:
            s.clear()
            s["user_id"] = user.id
            s["csrf_token"] = f"csrf-{user.id}"
        return user

    def as_role(self, role: str, provider_id: str | None = None) -> Any:
        return self.as_user(make_user(self._session, role, provider_id=provider_id))

    def logout(self) -> Any:
        return self._client.post("/auth/logout", data={"csrf_token": self.csrf()})


@pytest.fixture
def auth(client: Any, db_session: Session) -> AuthActions:
    return AuthActions(client, db_session)
