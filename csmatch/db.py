"""Database plumbing shared by every area: the declarative base, engines and sessions.

Services take a :class:`~sqlalchemy.orm.Session` and never commit; the caller (a CLI command, a
request, a batch) owns the transaction, so an import, a solve or a re-solve is one transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

DEFAULT_DATABASE_URL = "sqlite:///instance/csmatch.sqlite"
CHANGES_AT_BEGIN = "csmatch.changes_at_begin"  # SQLite: the connection's total_changes() at BEGIN
# Address space, not memory: pages are mapped on demand and shared with the OS page cache.
SQLITE_MMAP_BYTES = 1 << 30

# Alembic's naming guide: name every constraint before the first revision, so migrations can
# refer to them on both SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Timestamps are stored in UTC, timezone-aware."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base: enums are stored by value as plain strings (no native ENUM types)."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        enum.Enum: sa.Enum(enum.Enum, native_enum=False, length=40, values_callable=lambda e: [m.value for m in e]),
        dt.datetime: sa.DateTime(timezone=True),
        dict[str, Any]: sa.JSON,
        list[str]: sa.JSON,
        list[Any]: sa.JSON,
    }


def database_url(explicit: str | None = None) -> str:
    """The database to use: an explicit URL, else ``DATABASE_URL``, else the embedded SQLite file."""
    return explicit or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (SQLAlchemy's default driver is psycopg2)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets foreign keys on and ``BEGIN IMMEDIATE`` write transactions."""
    url = normalise_url(database_url(url))
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """SQLite: enforce foreign keys, and take the write lock at BEGIN.

    pysqlite's default deferred transactions let two writers both read the same committed units
    and then both write; ``BEGIN IMMEDIATE`` serialises writers, the SQLite analogue of locking
    the contract row on PostgreSQL.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # Read the file through a memory map instead of a read() call per page: the dashboard's
        # aggregates over 100,000 referrals spend a third of their time copying pages otherwise.
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        # what the connection had changed before this transaction: csmatch.dataversion gives no
        # token to a transaction that has written
        conn.info[CHANGES_AT_BEGIN] = conn.connection.dbapi_connection.total_changes


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def among(session: Session, column: sa.ColumnElement[Any] | Any, values: list[Any]) -> sa.ColumnElement[bool]:
    """``column IN values`` for thousands of values: one array parameter on PostgreSQL (``= ANY``),
    where a list of thousands of parameters cost more to render, send and plan than to run."""
    if session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def lock_for_update(stmt: sa.Select[Any], session: Session) -> sa.Select[Any]:
    """Row locks where the database has them (PostgreSQL); SQLite already serialises writers."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update()
    return stmt
