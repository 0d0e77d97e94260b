"""Shared fixtures. Every persistence test runs on SQLite and on PostgreSQL (``DATABASE_URL``).

``db_session`` runs inside an outer transaction joined with savepoints and rolled back at the end
(warehouse's pattern), so tests never see each other's rows. Tests that must commit for real
(concurrency, kill-mid-run) use ``committing_engine`` and clean up after themselves.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

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
