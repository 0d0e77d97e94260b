"""Migrations upgrade from empty, match the models, and downgrade cleanly, on both databases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from csmatch import migrate
from csmatch.dataversion import include_name
from csmatch.db import make_engine
from csmatch.registry import metadata

SCHEMA = "migration_check"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database: a new SQLite file, or a fresh PostgreSQL schema of its own."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
        yield engine
        engine.dispose()
        return
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("DATABASE_URL does not name a PostgreSQL server")
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
    engine = make_engine(url, connect_args={"options": f"-csearch_path={SCHEMA}"})
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    admin.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_from_empty_matches_the_models_and_downgrades_to_nothing(empty_engine: Engine) -> None:
    migrate.upgrade(engine=empty_engine)
    assert _tables(empty_engine) >= set(metadata.tables)
    with empty_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": include_name})
        assert compare_metadata(context, metadata) == []
    migrate.downgrade(engine=empty_engine)
    assert _tables(empty_engine) <= {"alembic_version"}  # the data changes counter is gone too
    migrate.upgrade(engine=empty_engine)  # and back up again
    assert _tables(empty_engine) >= set(metadata.tables)


def test_every_revision_says_what_it_does_and_there_is_one_head() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1
    for revision in scripts.walk_revisions():
        assert revision.doc and revision.doc.strip(), f"revision {revision.revision} says nothing about itself"
