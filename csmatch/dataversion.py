"""Which committed data a session reads, as a token: equal tokens, equal data (for read caches).

Every write to a table other than the audit log moves a counter kept by triggers in the database
itself, so no writer can forget it (the importer, the solver, a script, ``psql``). The audit log
is left out: every page view appends to it, and no cached result reads it; so are ``users`` and
``api_tokens``, whose time of last use every sign-in and API request writes (migration 0005).

* PostgreSQL: a sequence, advanced by a statement-level trigger on each table. A sequence takes
  no row lock, so writers never wait on one another for it (a counter row would serialise them,
  and deadlock with the contract row locks). The trigger first takes a *shared* transaction-level
  advisory lock, held until the writer commits or rolls back: a reader that sees it knows some
  counted change is not committed yet, and caches nothing.
* SQLite: a one-row table bumped by row-level triggers (SQLite has no statement-level ones).
  Writers are serialised, and every csmatch transaction takes the write lock at BEGIN
  (:func:`csmatch.db.make_engine`), so no writer is in flight while a transaction reads.

A session whose own transaction has written gets no token (those changes are not committed and
may be rolled back), nor does a PostgreSQL transaction that keeps one snapshot for its whole
length (REPEATABLE READ, SERIALIZABLE): it may read older data than the counter says.
``tests/csmatch/test_dataversion.py`` checks that every table but the audit log has its trigger.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from sqlalchemy.orm import Session

from csmatch.db import CHANGES_AT_BEGIN

__all__ = ["LOCK_KEY", "SEQUENCE", "TABLE", "UNTRACKED", "create_statements", "create_trigger_statements",
           "data_version", "drop_statements", "drop_trigger_statements", "include_name"]

TABLE = "data_changes"  # SQLite: the counter row
SEQUENCE = "data_changes_seq"  # PostgreSQL: the counter
LOCK_KEY = 70030504  # PostgreSQL: the advisory lock writers hold (shared) until they commit
# never counted: the append-only audit log, Alembic's bookkeeping and the counter itself, and the
# times of use that every sign-in and every API call write (no cached result reads users or tokens;
# counting them let a script polling the API retire every kept report on each request)
UNTRACKED = frozenset({"audit_events", "alembic_version", TABLE, "users", "api_tokens"})


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    """For Alembic's comparisons: the counter table and the referral change log are kept by triggers,
    not by models."""
    from csmatch import changes  # it takes this module's lock key

    return not (type_ == "table" and name in (TABLE, changes.TABLE))


def create_statements(dialect: str, tables: Iterable[str]) -> list[str]:
    """DDL for the counter and one trigger per table (three per table on SQLite)."""
    if dialect == "postgresql":
        counter = [
            f"CREATE SEQUENCE {SEQUENCE}",
            f"SELECT nextval('{SEQUENCE}')",
            f"""CREATE FUNCTION data_changed() RETURNS trigger AS $$
               BEGIN
                 PERFORM pg_advisory_xact_lock_shared({LOCK_KEY});
                 PERFORM nextval('{SEQUENCE}');
                 RETURN NULL;
               END; $$ LANGUAGE plpgsql""",
        ]
    else:
        counter = [f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
                   f"INSERT INTO {TABLE} (id, version) VALUES (1, 0)"]
    return counter + create_trigger_statements(dialect, tables)


def create_trigger_statements(dialect: str, tables: Iterable[str]) -> list[str]:
    """DDL for the triggers alone, on tables of a database that has the counter."""
    if dialect == "postgresql":
        return [f"""CREATE TRIGGER {table}_data_changed
                    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
                    FOR EACH STATEMENT EXECUTE FUNCTION data_changed()""" for table in tables]
    return [f"""CREATE TRIGGER {table}_data_changed_{event.lower()} AFTER {event} ON {table}
                BEGIN UPDATE {TABLE} SET version = version + 1 WHERE id = 1; END"""
            for table in tables for event in ("INSERT", "UPDATE", "DELETE")]


def drop_trigger_statements(dialect: str, tables: Iterable[str]) -> list[str]:
    """Undo :func:`create_trigger_statements`."""
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table}_data_changed ON {table}" for table in tables]
    return [f"DROP TRIGGER IF EXISTS {table}_data_changed_{event.lower()}"
            for table in tables for event in ("INSERT", "UPDATE", "DELETE")]


def drop_statements(dialect: str, tables: Iterable[str]) -> list[str]:
    """Undo :func:`create_statements`."""
    if dialect == "postgresql":
        return drop_trigger_statements(dialect, tables) + [
            "DROP FUNCTION IF EXISTS data_changed()", f"DROP SEQUENCE IF EXISTS {SEQUENCE}"]
    return drop_trigger_statements(dialect, tables) + [f"DROP TABLE IF EXISTS {TABLE}"]


def data_version(session: Session) -> Hashable | None:
    """Return a token for the committed data ``session`` reads, or None when there is none to give.

    Two calls return equal tokens only if no tracked table changed in between. None: the
    session's transaction has written, a PostgreSQL writer is still in flight, the transaction
    keeps one snapshot (PostgreSQL), or the database has no counter (not migrated).
    """
    connection = session.connection()
    url = connection.engine.url.render_as_string(hide_password=True)
    if connection.dialect.name == "postgresql":
        row = connection.exec_driver_sql(
            f"""SELECT (SELECT last_value FROM {SEQUENCE}),
                       pg_current_xact_id_if_assigned() IS NOT NULL,
                       current_setting('transaction_isolation') <> 'read committed',
                       EXISTS (SELECT 1 FROM pg_locks
                               WHERE locktype = 'advisory' AND classid = 0 AND objid = {LOCK_KEY} AND objsubid = 1
                                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                                 AND pid <> pg_backend_pid())"""
        ).one()
        version, wrote, one_snapshot, writer_in_flight = row
        if wrote or one_snapshot or writer_in_flight:
            return None
        return (url, int(version))
    if connection.dialect.name != "sqlite":
        return None
    dbapi = connection.connection.dbapi_connection
    changes = getattr(dbapi, "total_changes", None)
    if changes is None or connection.info.get(CHANGES_AT_BEGIN) != changes:
        return None  # this transaction has written (or began outside csmatch.db.make_engine)
    found = connection.exec_driver_sql(f"SELECT version FROM {TABLE} WHERE id = 1").scalar()
    return None if found is None else (url, int(found))
