"""The referral change log: which referrals each committed write touched, so a kept report refreshes
only those (:mod:`reports.kept`) instead of reading every referral of its period again.

Triggers in the database write the log, as they move the data-changes counter
(:mod:`csmatch.dataversion`), so no writer can forget it. One row per referral a statement touched,
in ``referral_changes`` (``id`` ascending in commit order on SQLite; see :func:`changes_since` for
PostgreSQL); ``referral_id`` NULL means "every referral" (a change every report row may read, or the
log was pruned there).

What is logged (:data:`LOGGED`), and why it is enough: the per-referral rows a report keeps read
only these tables and columns.

* a write to a row with a referral id (the referral itself, its assignments, status history,
  unplaced records, stated preferences and exclusions) logs that referral; an update that moves
  the row to another referral logs both;
* a write to a member (or the member's demographics) logs every referral of the member (of both
  members, if an update moves the row);
* an update that changes a column the kept rows read from a shared table (a service's
  ``site_based``, a site's coordinates, a contract's service) logs NULL. These are rare; deleting
  such a row while referenced is refused by its foreign keys, and a new one is referenced only
  by rows that log themselves.

PostgreSQL: statement-level triggers with transition tables (one insert per statement; writers
take no lock on the log, so they never wait on one another for it); each first takes the writers'
shared advisory lock, as the data-changes trigger does, so no log id is handed out unseen by
:func:`csmatch.dataversion.data_version`. A TRUNCATE logs NULL. SQLite: row-level triggers (it
has no statement-level ones).

The log grows with every write; the nightly batch prunes it (:func:`prune_changes`, which leaves
one NULL row where it cut: a reader whose place is older reads everything again), or
``csmatch db prune-changes`` where no nightly runs.
``tests/csmatch/test_changes.py`` checks that every table with a referral id has its triggers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from csmatch.dataversion import LOCK_KEY

__all__ = ["ALL_REFERRALS", "LOGGED", "TABLE", "Changes", "changes_since", "create_statements", "drop_statements",
           "latest_change", "prune_changes"]

TABLE = "referral_changes"
# how each logged table names its referrals: (kind, column or watched columns)
#   referral: the row's referral id column; member: the row's member id column (all the member's
#   referrals); shared: the columns whose update logs every referral (NULL)
LOGGED: dict[str, tuple[str, tuple[str, ...]]] = {
    "referrals": ("referral", ("id",)),
    "assignments": ("referral", ("referral_id",)),
    "referral_status_changes": ("referral", ("referral_id",)),
    "unplaced_referrals": ("referral", ("referral_id",)),
    "referral_preferences": ("referral", ("referral_id",)),
    "referral_exclusions": ("referral", ("referral_id",)),
    "members": ("member", ("id",)),
    "member_demographics": ("member", ("member_id",)),
    "services": ("shared", ("site_based",)),
    "provider_sites": ("shared", ("latitude", "longitude")),
    "contracts": ("shared", ("service_key",)),
}
ALL_REFERRALS = None  # a logged referral_id of NULL
_EVENTS = ("INSERT", "UPDATE", "DELETE")


def _trigger(table: str, event: str) -> str:
    return f"{table}_referral_changes_{event.lower()}"


def _watched(columns: Iterable[str], dialect: str) -> str:
    differ = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    return " OR ".join(f"OLD.{c} {differ} NEW.{c}" for c in columns)


def create_statements(dialect: str, tables: Iterable[str] | None = None) -> list[str]:
    """DDL for the log table and the triggers of ``tables`` (default: all of :data:`LOGGED`)."""
    if dialect == "postgresql":
        statements = [
            f"CREATE TABLE {TABLE} (id BIGSERIAL PRIMARY KEY, referral_id VARCHAR(30))",
            # the rows a statement changed: both sides of an update (a row moved to another referral
            # or member changes both); the writers' shared lock first, as csmatch.dataversion's
            # trigger takes it (a row-level trigger fires before the statement-level ones)
            f"""CREATE FUNCTION log_referral_changes() RETURNS trigger AS $$
               DECLARE
                 changed text := CASE TG_OP WHEN 'DELETE' THEN 'SELECT %1$I AS id FROM old_rows'
                                            WHEN 'UPDATE' THEN 'SELECT %1$I AS id FROM new_rows UNION '
                                                               'SELECT %1$I FROM old_rows'
                                            ELSE 'SELECT %1$I AS id FROM new_rows' END;
               BEGIN
                 PERFORM pg_advisory_xact_lock_shared({LOCK_KEY});
                 IF TG_ARGV[0] = 'shared' OR TG_OP = 'TRUNCATE' THEN
                   INSERT INTO {TABLE} (referral_id) VALUES (NULL);
                 ELSIF TG_ARGV[0] = 'member' THEN
                   EXECUTE format('INSERT INTO {TABLE} (referral_id) SELECT r.id FROM referrals r '
                                  'WHERE r.member_id IN (' || changed || ') ORDER BY r.id', TG_ARGV[1]);
                 ELSE
                   EXECUTE format('INSERT INTO {TABLE} (referral_id) SELECT DISTINCT id FROM (' || changed
                                  || ') AS changed ORDER BY 1', TG_ARGV[1]);
                 END IF;
                 RETURN NULL;
               END; $$ LANGUAGE plpgsql""",
        ]
    else:
        statements = [f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, referral_id VARCHAR(30))"]
    return statements + create_trigger_statements(dialect, tables)


def create_trigger_statements(dialect: str, tables: Iterable[str] | None = None) -> list[str]:
    """DDL for the triggers alone, on tables of a database that has the log."""
    statements = []
    for table in LOGGED if tables is None else tables:
        kind, columns = LOGGED[table]
        if kind == "shared":
            watched = _watched(columns, dialect)
            if dialect == "postgresql":
                statements.append(f"""CREATE TRIGGER {_trigger(table, 'UPDATE')} AFTER UPDATE ON {table}
                                      FOR EACH ROW WHEN ({watched}) EXECUTE FUNCTION log_referral_changes('shared')""")
            else:
                statements.append(f"""CREATE TRIGGER {_trigger(table, 'UPDATE')} AFTER UPDATE ON {table}
                                      FOR EACH ROW WHEN {watched}
                                      BEGIN INSERT INTO {TABLE} (referral_id) VALUES (NULL); END""")
            continue
        (column,) = columns
        for event in _EVENTS:
            if dialect == "postgresql":
                rows = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "NEW TABLE AS new_rows OLD TABLE AS old_rows",
                        "DELETE": "OLD TABLE AS old_rows"}[event]
                statements.append(f"""CREATE TRIGGER {_trigger(table, event)} AFTER {event} ON {table}
                                      REFERENCING {rows} FOR EACH STATEMENT
                                      EXECUTE FUNCTION log_referral_changes('{kind}', '{column}')""")
                continue
            sides = {"INSERT": ["NEW"], "UPDATE": ["NEW", "OLD"], "DELETE": ["OLD"]}[event]
            inserts = []
            for side in sides:
                if kind == "referral":
                    insert = f"INSERT INTO {TABLE} (referral_id) SELECT {side}.{column}"
                else:
                    insert = (f"INSERT INTO {TABLE} (referral_id) "
                              f"SELECT id FROM referrals WHERE member_id = {side}.{column}")
                if side == "OLD" and event == "UPDATE":  # the old side only when the row moved
                    insert += f" {'WHERE' if kind == 'referral' else 'AND'} OLD.{column} IS NOT NEW.{column}"
                inserts.append(insert)
            statements.append(f"CREATE TRIGGER {_trigger(table, event)} AFTER {event} ON {table} "
                              f"BEGIN {'; '.join(inserts)}; END")
        if dialect == "postgresql":  # TRUNCATE empties a table without rows to name: every referral
            statements.append(f"""CREATE TRIGGER {_trigger(table, 'TRUNCATE')} AFTER TRUNCATE ON {table}
                                  FOR EACH STATEMENT EXECUTE FUNCTION log_referral_changes('{kind}', '{column}')""")
    return statements


def drop_statements(dialect: str, tables: Iterable[str] | None = None) -> list[str]:
    """Undo :func:`create_statements`."""
    statements = []
    for table in LOGGED if tables is None else tables:
        events: tuple[str, ...] = ("UPDATE",) if LOGGED[table][0] == "shared" else _EVENTS
        if dialect == "postgresql" and LOGGED[table][0] != "shared":
            events += ("TRUNCATE",)
        on = f" ON {table}" if dialect == "postgresql" else ""
        statements += [f"DROP TRIGGER IF EXISTS {_trigger(table, event)}{on}" for event in events]
    if dialect == "postgresql":
        statements.append("DROP FUNCTION IF EXISTS log_referral_changes()")
    return statements + [f"DROP TABLE IF EXISTS {TABLE}"]


@dataclass(frozen=True)
class Changes:
    """What the log holds after a place: ``referral_ids`` (None: refresh every referral) and the
    place to read from next time."""

    referral_ids: frozenset[str] | None
    through: int


def latest_change(connection: Connection) -> int:
    """The log's latest place (0 for an empty log)."""
    return int(connection.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {TABLE}").scalar_one())


def changes_since(connection: Connection, place: int, *, most: int = 20_000) -> Changes:
    """The referrals changed after ``place``; None (everything) when a NULL row is among them or
    more than ``most`` rows were logged (reading them all costs more than reading every referral).

    PostgreSQL hands out log ids when a statement runs, not when it commits: a reader may see a
    later id before an earlier one commits. Callers advance their place only when no writer was in
    flight while they read (:func:`csmatch.dataversion.data_version` equal before and after).
    """
    through = latest_change(connection)
    if through <= place:
        return Changes(frozenset(), place)
    count, empties = connection.exec_driver_sql(
        f"SELECT count(*), count(*) - count(referral_id) FROM "
        f"(SELECT referral_id FROM {TABLE} WHERE id > {int(place)} AND id <= {through} LIMIT {int(most) + 1}) AS t"
    ).one()
    if count > most or empties:
        return Changes(ALL_REFERRALS, through)
    found = connection.exec_driver_sql(
        f"SELECT DISTINCT referral_id FROM {TABLE} WHERE id > {int(place)} AND id <= {through}").scalars()
    return Changes(frozenset(found), through)


def prune_changes(connection: Connection) -> int:
    """Cut the log at its latest row, which becomes a NULL row (a reader whose place is older then
    refreshes everything); return how many rows went. The nightly batch calls this before it runs:
    its own writes touch most open referrals, so readers refresh in full after it anyway."""
    through = latest_change(connection)
    if through == 0:
        return 0
    removed = connection.exec_driver_sql(f"DELETE FROM {TABLE} WHERE id < {through}").rowcount
    connection.exec_driver_sql(f"UPDATE {TABLE} SET referral_id = NULL WHERE id = {through}")
    return int(removed)
