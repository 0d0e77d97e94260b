"""The referral change log (csmatch.changes), on both databases: every table a kept report reads per
referral has its triggers; a committed write logs exactly the referrals it touched (a member's
write, each of the member's referrals; a watched column of a shared table, NULL: everything); a
rolled-back write logs nothing; too many rows, or a pruned log, send a reader back to a full read.

The shared engine's log keeps other tests' rows (it is not a model table, so the committing engine
does not empty it): every test reads relative to a place taken before its write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from capacity.models import Contract
from csmatch.changes import LOGGED, TABLE, changes_since, latest_change, prune_changes
from csmatch.registry import metadata
from placement.models import Assignment
from referrals.models import Member, MemberDemographics, Referral, ReferralStatus, ReferralStatusChange
from tests.factories import ensure_service, make_assignment, make_contract, make_member, make_provider, make_referral

# tables with a referral id that no kept report reads, so whose writes need not be logged
NOT_LOGGED = {"notifications"}  # the providers' outbox


def test_every_table_a_report_reads_per_referral_is_logged() -> None:
    with_referral_id = {t.name for t in metadata.tables.values() if "referral_id" in t.c}
    assert with_referral_id - set(LOGGED) == NOT_LOGGED
    assert {"referrals", "members", "member_demographics"} <= set(LOGGED)
    for table, (kind, columns) in LOGGED.items():  # each names a kind and columns its table has
        assert kind in ("referral", "member", "shared") and set(columns) <= set(metadata.tables[table].c.keys())


def test_the_database_has_the_triggers_of_every_logged_table(engine: Engine) -> None:
    row_events = ("insert", "update", "delete", "truncate") if engine.dialect.name == "postgresql" else (
        "insert", "update", "delete")
    expected = {(table, f"{table}_referral_changes_{event}") for table, (kind, _) in LOGGED.items()
                for event in (("update",) if kind == "shared" else row_events)}
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            rows = conn.exec_driver_sql(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE strpos(t.tgname, 'referral_changes') > 0 AND NOT t.tgisinternal")
        else:
            rows = conn.exec_driver_sql("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' "
                                        "AND instr(name, 'referral_changes') > 0")
        assert {(table, name) for table, name in rows} == expected


@dataclass(frozen=True)
class World:
    """Committed ids: one member with two referrals, another with one, a contract and its site."""

    member_id: int
    pair: frozenset[str]  # the first member's referrals
    first: str
    alone: str  # the other member's referral
    contract_id: str
    site_id: str


@pytest.fixture
def world(committing_engine: Engine) -> Iterator[World]:
    with Session(committing_engine) as session:
        provider = make_provider(session)
        contract = make_contract(session, provider)
        ensure_service(session, "MEALS")
        member, other = make_member(session), make_member(session, county="Shasta")
        first, second, alone = make_referral(session, member), make_referral(session, member), make_referral(
            session, other)
        found = World(member.id, frozenset({first.id, second.id}), first.id, alone.id, contract.id,
                      contract.sites[0].site_id)
        session.commit()
    yield found


def place_now(engine: Engine) -> int:
    with engine.connect() as conn:
        return latest_change(conn)


def logged_since(engine: Engine, place: int, *, most: int = 20_000) -> frozenset[str] | None:
    """The referrals logged after ``place`` (None: all); checks the place handed back too."""
    with engine.connect() as conn:
        changes = changes_since(conn, place, most=most)
        assert changes.through == latest_change(conn)
    return changes.referral_ids


def commit(engine: Engine, *statements: sa.Executable) -> None:
    with Session(engine) as session:
        for statement in statements:
            session.execute(statement)
        session.commit()


def test_an_inserted_row_logs_its_referral(committing_engine: Engine, world: World) -> None:
    place = place_now(committing_engine)
    with Session(committing_engine) as session:
        referral = session.get_one(Referral, world.first)
        make_assignment(session, referral, session.get_one(Contract, world.contract_id))
        session.commit()
    assert logged_since(committing_engine, place) == {world.first}
    place = place_now(committing_engine)
    with Session(committing_engine) as session:
        session.add(ReferralStatusChange(referral_id=world.alone, from_status=ReferralStatus.RECEIVED,
                                         to_status=ReferralStatus.READY, on_date=dt.date(2026, 11, 3), actor="test"))
        session.commit()
    assert logged_since(committing_engine, place) == {world.alone}


def test_an_update_logs_each_referral_it_touched(committing_engine: Engine, world: World) -> None:
    """One statement over several rows (PostgreSQL: one trigger call, every row of its transition table)."""
    place = place_now(committing_engine)
    commit(committing_engine, sa.update(Referral).where(Referral.id == world.first).values(notes="called"))
    assert logged_since(committing_engine, place) == {world.first}
    place = place_now(committing_engine)
    commit(committing_engine, sa.update(Referral).where(Referral.id != world.first).values(notes="all but one"))
    assert logged_since(committing_engine, place) == world.pair - {world.first} | {world.alone}


def test_a_row_moved_to_another_referral_logs_both(committing_engine: Engine, world: World) -> None:
    """The kept rows of the referral it left must go too."""
    with Session(committing_engine) as session:
        make_assignment(session, session.get_one(Referral, world.first), session.get_one(Contract, world.contract_id))
        session.commit()
    place = place_now(committing_engine)
    commit(committing_engine, sa.update(Assignment).where(Assignment.referral_id == world.first)
           .values(referral_id=world.alone))
    assert logged_since(committing_engine, place) == {world.first, world.alone}
    place = place_now(committing_engine)
    other = next(iter(world.pair - {world.first}))
    commit(committing_engine, sa.update(Referral).where(Referral.id == other).values(
        member_id=sa.select(Referral.member_id).where(Referral.id == world.alone).scalar_subquery()))
    assert logged_since(committing_engine, place) == {other}


def test_a_truncate_logs_everything(committing_engine: Engine, world: World) -> None:
    """PostgreSQL only (SQLite has no TRUNCATE): no rows to name, so every referral."""
    if committing_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    place = place_now(committing_engine)
    commit(committing_engine, sa.text("TRUNCATE referral_exclusions"))
    assert logged_since(committing_engine, place) is None


def test_a_deleted_row_logs_the_referral_it_belonged_to(committing_engine: Engine, world: World) -> None:
    with Session(committing_engine) as session:
        make_assignment(session, session.get_one(Referral, world.alone), session.get_one(Contract, world.contract_id))
        session.commit()
    place = place_now(committing_engine)
    commit(committing_engine, sa.delete(Assignment).where(Assignment.referral_id == world.alone))
    assert logged_since(committing_engine, place) == {world.alone}


@pytest.mark.parametrize("change", [
    lambda member_id: sa.update(Member).where(Member.id == member_id).values(county="Sonoma"),
    lambda member_id: sa.update(MemberDemographics).where(MemberDemographics.member_id == member_id)
    .values(race_ethnicity="Hispanic or Latino"),
], ids=["member", "demographics"])
def test_a_member_write_logs_every_referral_of_the_member_and_no_other(committing_engine: Engine, world: World,
                                                                       change: Any) -> None:
    place = place_now(committing_engine)
    commit(committing_engine, change(world.member_id))
    assert logged_since(committing_engine, place) == world.pair


@pytest.mark.parametrize(("table", "values", "logs_everything"), [
    ("services", {"site_based": True}, True),
    ("services", {"site_based": False}, False),  # its value already: nothing changed
    ("services", {"name": "Renamed"}, False),
    ("provider_sites", {"latitude": 41.0}, True),
    ("provider_sites", {"longitude": -124.0}, True),
    ("provider_sites", {"name": "Annex", "address": "1 Elm St", "city": "Arcata"}, False),
    ("contracts", {"service_key": "MEALS"}, True),
    ("contracts", {"contracted_capacity": 9}, False),
])
def test_a_shared_table_logs_everything_only_when_a_watched_column_changes(
        committing_engine: Engine, world: World, table: str, values: dict[str, Any], logs_everything: bool) -> None:
    """A service's site_based, a site's coordinates and a contract's service feed every kept row that
    reads them, and no referral id says which: NULL. Other columns no kept row reads: nothing."""
    shared = metadata.tables[table]
    key = {"services": ("key", "HOUSING_NAV"), "provider_sites": ("id", world.site_id),
           "contracts": ("id", world.contract_id)}[table]
    place = place_now(committing_engine)
    commit(committing_engine, shared.update().where(shared.c[key[0]] == key[1]).values(**values))
    assert logged_since(committing_engine, place) == (None if logs_everything else frozenset())


def test_more_rows_than_most_read_everything(committing_engine: Engine, world: World) -> None:
    """Reading back more referrals than ``most`` costs more than reading them all."""
    place = place_now(committing_engine)
    for referral_id in sorted(world.pair | {world.alone}):  # one row each, on both databases
        commit(committing_engine, sa.update(Referral).where(Referral.id == referral_id).values(notes="seen"))
    assert logged_since(committing_engine, place, most=3) == world.pair | {world.alone}
    assert logged_since(committing_engine, place, most=2) is None


def log_rows(engine: Engine, below: int) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {TABLE} WHERE id < {below}").scalar_one())


def test_a_pruned_log_sends_older_readers_to_a_full_read(committing_engine: Engine, world: World) -> None:
    older = place_now(committing_engine)
    commit(committing_engine, sa.update(Referral).where(Referral.id == world.alone).values(notes="before the cut"))
    cut = place_now(committing_engine)
    before = log_rows(committing_engine, cut)
    assert before >= 1
    with committing_engine.begin() as conn:
        assert prune_changes(conn) == before
    assert log_rows(committing_engine, cut) == 0 and place_now(committing_engine) == cut
    commit(committing_engine, sa.update(Referral).where(Referral.id == world.first).values(notes="after the cut"))
    assert logged_since(committing_engine, older) is None  # its rows are gone: everything
    assert logged_since(committing_engine, cut) == {world.first}


def test_a_rolled_back_write_logs_nothing(committing_engine: Engine, world: World) -> None:
    place = place_now(committing_engine)
    with Session(committing_engine) as session:
        session.execute(sa.update(Member).where(Member.id == world.member_id).values(county="Sonoma"))
        session.execute(sa.update(metadata.tables["services"]).values(site_based=True))
        session.flush()
        session.rollback()
    assert logged_since(committing_engine, place) == frozenset()
    assert place_now(committing_engine) == place


def test_db_prune_changes_cuts_the_log(tmp_path: Any, runner: Any) -> None:
    """``csmatch db prune-changes``, for a database that runs no nightly rebalance."""
    from csmatch import migrate
    from csmatch.cli import main
    from csmatch.db import make_engine

    url = f"sqlite:///{tmp_path / 'prune.sqlite'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        member = make_member(session)
        make_referral(session, member)
        make_referral(session, member)
        session.commit()
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {TABLE}").scalar() == 2
    result = runner.invoke(main, ["--database-url", url, "db", "prune-changes"])
    assert result.exit_code == 0, result.output
    assert "removed 1 of its rows" in result.output
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT referral_id FROM {TABLE}").scalars().all() == [None]
    engine.dispose()
