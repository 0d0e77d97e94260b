"""The data changes counter (csmatch.dataversion) and the read cache built on it (web.cache), on
both databases: a token moves with every committed write but the audit log's, and none is given
while a write is uncommitted."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from csmatch.dataversion import UNTRACKED, data_version
from csmatch.models import record_audit
from csmatch.registry import metadata
from providers.models import Provider, ProviderSite
from tests.factories import make_provider
from web.cache import ReadCache


def _triggered_tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            rows = conn.exec_driver_sql(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname = c.relname || '_data_changed' AND NOT t.tgisinternal")
            return {r[0] for r in rows}
        names = {r[0] for r in conn.exec_driver_sql("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' "
                                                     "AND name LIKE '%_data_changed_%'")}
        for table in names:  # insert, update and delete, each
            found = conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? "
                                         "AND name LIKE '%_data_changed_%'", (table,)).scalar()
            assert found == 3, table
        return names


def test_every_table_but_the_audit_log_and_sign_ins_moves_the_counter(engine: Engine) -> None:
    assert _triggered_tables(engine) == set(metadata.tables) - UNTRACKED


def test_sign_ins_and_api_calls_keep_the_version(committing_engine: Engine, provider_id: str) -> None:
    """Migration 0005: each sign-in and each API request writes its time of use; no kept report reads
    users or tokens, so neither retires them (a script polling the API would otherwise)."""
    from accounts.services import authenticate, issue_token, user_for_token
    from tests.conftest import WEB_PASSWORD, make_user

    with Session(committing_engine) as session:
        user = make_user(session, "coordinator", email="poller@plan.example.org")
        _, plain = issue_token(session, user, "poller")
        session.commit()
    before = version_now(committing_engine)
    assert before is not None
    with Session(committing_engine) as session:
        assert authenticate(session, "poller@plan.example.org", WEB_PASSWORD) is not None
        assert user_for_token(session, plain) is not None
        session.commit()
    assert version_now(committing_engine) == before
    with Session(committing_engine) as session:  # a change a report reads still moves it
        session.execute(sa.update(Provider).where(Provider.id == provider_id).values(name="Renamed"))
        session.commit()
    assert version_now(committing_engine) != before


def version_now(engine: Engine) -> object:
    with Session(engine) as session:
        return data_version(session)


_names = itertools.count()


@pytest.fixture
def provider_id(committing_engine: Engine) -> Iterator[str]:
    """A committed provider (the committing engine empties every table afterwards)."""
    found = f"DV{next(_names):04d}"
    with Session(committing_engine) as session:
        make_provider(session, id=found)
        session.commit()
    yield found


def test_a_committed_write_moves_the_version_an_audit_event_does_not(committing_engine: Engine,
                                                                    provider_id: str) -> None:
    before = version_now(committing_engine)
    assert before is not None and version_now(committing_engine) == before  # reading changes nothing
    with Session(committing_engine) as session:
        record_audit(session, actor="test", action="report.view", entity_type="report", entity_id="equity")
        session.commit()
    assert version_now(committing_engine) == before
    for change in (sa.update(Provider).where(Provider.id == provider_id).values(name="Renamed"),
                   sa.delete(ProviderSite).where(ProviderSite.provider_id == provider_id)):
        with Session(committing_engine) as session:
            session.execute(change)
            session.commit()
        after = version_now(committing_engine)
        assert after is not None and after != before
        before = after


def test_a_rolled_back_write_gives_no_token_while_open(committing_engine: Engine, provider_id: str) -> None:
    with Session(committing_engine) as session:
        session.execute(sa.update(Provider).where(Provider.id == provider_id).values(name="Not kept"))
        assert data_version(session) is None  # its own change is not committed
        session.rollback()
    assert version_now(committing_engine) is not None


def test_no_token_in_a_transaction_that_has_written(db_session: Session) -> None:
    assert data_version(db_session) is not None
    make_provider(db_session)  # flushed, not committed
    assert data_version(db_session) is None


def test_no_token_while_a_postgresql_writer_is_in_flight(committing_engine: Engine, provider_id: str) -> None:
    if committing_engine.dialect.name != "postgresql":
        pytest.skip("SQLite writers hold the database lock: no reader runs beside one")
    with Session(committing_engine) as writer:
        writer.execute(sa.update(Provider).where(Provider.id == provider_id).values(name="In flight"))
        assert version_now(committing_engine) is None
        writer.commit()
    assert version_now(committing_engine) is not None


def test_read_cache_keeps_a_result_until_the_data_change(committing_engine: Engine, provider_id: str) -> None:
    cache = ReadCache(size=4)
    computed: list[str] = []

    def names(session: Session) -> list[str]:
        computed.append("once more")
        return sorted(session.scalars(sa.select(Provider.name)))

    def read() -> list[str]:
        with Session(committing_engine) as session:
            return cache.get_or_compute(session, "names", lambda: names(session))

    first = read()
    assert read() == first and len(computed) == 1  # kept
    with Session(committing_engine) as session:
        record_audit(session, actor="test", action="report.view", entity_type="report", entity_id="names")
        session.commit()
    assert read() == first and len(computed) == 1  # viewing a report changes no data
    with Session(committing_engine) as session:
        session.execute(sa.update(Provider).where(Provider.id == provider_id).values(name="Zebra Care"))
        session.commit()
    assert read() == ["Zebra Care"] and len(computed) == 2


def test_read_cache_keeps_nothing_computed_while_the_data_changed(committing_engine: Engine,
                                                                  provider_id: str) -> None:
    cache = ReadCache(size=4)
    calls = itertools.count(1)

    def compute_while_someone_writes() -> int:
        call = next(calls)
        if call == 1:
            with Session(committing_engine) as other:  # committed before the first result is done
                other.execute(sa.update(Provider).where(Provider.id == provider_id).values(name="Meanwhile"))
                other.commit()
        return call

    def read() -> int:
        with Session(committing_engine) as session:
            return cache.get_or_compute(session, "k", compute_while_someone_writes)

    if committing_engine.dialect.name == "sqlite":
        pytest.skip("SQLite: a reader holds the write lock, no one commits while it computes")
    assert read() == 1
    assert read() == 2  # the first was not kept
    assert read() == 2  # the second was
