"""The capacity ledger: committed units derived from assignments, reported-full state, positions, history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from capacity.ledger import (
    CapacityExceeded,
    UnknownContract,
    capacity_history,
    capacity_positions,
    committed_units,
    effective_capacity,
    is_reported_full,
    lock_contract,
    open_units,
    position,
    reserve_units,
)
from capacity.models import CapacityReportKind as K
from capacity.models import Contract, ContractSite
from placement.models import AssignmentStatus
from tests.capacity.querycount import count_statements
from tests.factories import (
    make_assignment,
    make_capacity_report,
    make_contract,
    make_member,
    make_provider,
    make_referral,
)

DAY = dt.date(2026, 11, 2)
AS_OF = dt.date(2026, 11, 25)


def _contract(session: Session, capacity: int = 5, **kw: Any) -> Contract:
    return make_contract(session, make_provider(session), capacity=capacity, **kw)


def _assign(session: Session, contract: Contract, units: int, status: AssignmentStatus) -> None:
    referral = make_referral(session, make_member(session), units_needed=units)
    make_assignment(session, referral, contract, status=status)


def test_committed_units_counts_only_proposed_sent_and_accepted(db_session: Session) -> None:
    contract = _contract(db_session, capacity=20)
    for units, status in [(1, AssignmentStatus.PROPOSED), (2, AssignmentStatus.SENT), (3, AssignmentStatus.ACCEPTED),
                          (4, AssignmentStatus.DECLINED), (5, AssignmentStatus.SUPERSEDED),
                          (6, AssignmentStatus.WITHDRAWN), (7, AssignmentStatus.ENDED)]:
        _assign(db_session, contract, units, status)
    assert committed_units(db_session, contract.id) == 6
    assert open_units(db_session, contract.id, as_of=AS_OF) == 14


def test_open_units_never_negative_after_capacity_shrinks(db_session: Session) -> None:
    contract = _contract(db_session, capacity=5)
    _assign(db_session, contract, 4, AssignmentStatus.ACCEPTED)
    make_capacity_report(db_session, contract, K.NEW_CAPACITY, DAY, new_capacity=2)
    found = position(db_session, contract.id, as_of=AS_OF)
    assert (found.capacity, found.committed, found.open, found.over_committed) == (2, 4, 0, 2)


@pytest.mark.parametrize(
    ("events", "full", "capacity"),
    [
        ([], False, 5),
        ([(K.FULL, 0, None)], True, 5),
        ([(K.FULL, 0, None), (K.REOPENED, 3, None)], False, 5),
        ([(K.FULL, 0, None), (K.NEW_CAPACITY, 3, 8)], False, 8),
        ([(K.NEW_CAPACITY, 0, 8), (K.FULL, 3, None), (K.REOPENED, 6, None)], False, 8),
        ([(K.FULL, 0, None), (K.STAFFING_CHANGE, 3, None)], True, 5),
        ([(K.REOPENED, 0, None), (K.FULL, 0, None)], True, 5),  # same day: the later report wins
        # a late report of an earlier change does not undo a later one: ordered by change date
        ([(K.FULL, 5, None), (K.REOPENED, 2, None)], True, 5),
        # announced in advance: not in effect before its change date
        ([(K.FULL, 40, None)], False, 5),
    ],
    ids=["none", "full", "reopened", "new-number", "reopen-keeps-number", "staffing-keeps-full", "same-day",
         "late-earlier-change", "future"],
)
def test_reported_full_and_effective_capacity_follow_the_report_events(
    db_session: Session, events: list[tuple[K, int, int | None]], full: bool, capacity: int
) -> None:
    contract = _contract(db_session, capacity=5)
    for kind, offset, number in events:
        kw: dict[str, Any] = {"new_capacity": number} if number is not None else {}
        if kind is K.STAFFING_CHANGE:
            kw["staffing_change"] = "two aides left"
        make_capacity_report(db_session, contract, kind, DAY + dt.timedelta(days=offset), **kw)
    db_session.refresh(contract)
    assert is_reported_full(contract, AS_OF) is full
    assert effective_capacity(contract, AS_OF) == capacity
    # the SQL aggregate agrees with the Python fold
    found = position(db_session, contract.id, as_of=AS_OF)
    assert (found.reported_full, found.capacity) == (full, capacity)
    assert found.open == (0 if full else capacity)


def test_full_since_is_the_first_full_of_the_current_spell(db_session: Session) -> None:
    contract = _contract(db_session)
    make_capacity_report(db_session, contract, K.FULL, DAY)
    make_capacity_report(db_session, contract, K.REOPENED, DAY + dt.timedelta(days=3))
    make_capacity_report(db_session, contract, K.FULL, DAY + dt.timedelta(days=7))
    make_capacity_report(db_session, contract, K.FULL, DAY + dt.timedelta(days=9))
    assert position(db_session, contract.id, as_of=AS_OF).full_since == DAY + dt.timedelta(days=7)


def test_positions_of_many_contracts_take_one_query(db_session: Session) -> None:
    contracts = [_contract(db_session, capacity=3 + i) for i in range(4)]
    _assign(db_session, contracts[0], 2, AssignmentStatus.SENT)
    make_capacity_report(db_session, contracts[1], K.FULL, DAY, reported_date=dt.date(2026, 11, 20))
    make_capacity_report(db_session, contracts[2], K.STAFFING_CHANGE, DAY, staffing_change="nurse hired")
    make_capacity_report(db_session, contracts[2], K.STAFFING_CHANGE, DAY + dt.timedelta(days=1),
                         staffing_change="case manager left")
    with count_statements(db_session) as statements:
        positions = capacity_positions(db_session, contract_ids=[c.id for c in contracts], as_of=AS_OF)
    assert len(statements) == 1
    by_id = {p.contract_id: p for p in positions}
    first, second, third, fourth = (by_id[c.id] for c in contracts)
    assert (first.committed, first.open) == (2, 1)
    assert second.reported_full and second.open == 0 and second.full_since == DAY
    # reported Friday 2026-11-20; Mon 23, Tue 24, Wed 25 later: 3 business days old
    assert (second.last_report_date, second.report_age_business_days) == (dt.date(2026, 11, 20), 3)
    assert (third.staffing_changes, third.last_staffing_change) == (2, "case manager left")
    assert fourth.last_report_date is None and fourth.report_age_business_days is None


def test_positions_filter_by_provider_county_and_service(db_session: Session) -> None:
    provider = make_provider(db_session)
    humboldt = make_contract(db_session, provider, service="HOUSING_NAV", counties=("Humboldt",))
    shasta = make_contract(db_session, provider, service="MEALS", counties=("Shasta", "Tehama"))
    other = _contract(db_session, counties=("Shasta",))
    assert [p.contract_id for p in capacity_positions(db_session, provider_id=provider.id, as_of=AS_OF)] == sorted(
        [humboldt.id, shasta.id])
    in_shasta = {p.contract_id for p in capacity_positions(db_session, county="Shasta", as_of=AS_OF)}
    assert {shasta.id, other.id} <= in_shasta and humboldt.id not in in_shasta
    assert [p.contract_id for p in capacity_positions(db_session, provider_id=provider.id, service_key="MEALS",
                                                      as_of=AS_OF)] == [shasta.id]


def test_reserve_units_allows_exactly_the_open_units(db_session: Session) -> None:
    contract = _contract(db_session, capacity=5)
    _assign(db_session, contract, 2, AssignmentStatus.ACCEPTED)
    assert reserve_units(db_session, contract.id, 3, as_of=AS_OF).open == 3


def test_reserve_units_refuses_more_than_open_naming_contract_and_units(db_session: Session) -> None:
    contract = _contract(db_session, capacity=5)
    _assign(db_session, contract, 2, AssignmentStatus.ACCEPTED)
    with pytest.raises(CapacityExceeded, match=rf"contract '{contract.id}' has 3 open unit\(s\) .*; 4 asked") as info:
        reserve_units(db_session, contract.id, 4, as_of=AS_OF)
    assert (info.value.units_asked, info.value.units_open) == (4, 3)


def test_reserve_units_refuses_a_provider_reported_full(db_session: Session) -> None:
    contract = _contract(db_session, capacity=5)
    make_capacity_report(db_session, contract, K.FULL, DAY)
    with pytest.raises(CapacityExceeded, match="0 open unit.*reported full since 2026-11-02.*; 1 asked"):
        reserve_units(db_session, contract.id, 1, as_of=AS_OF)


def test_reserve_units_checks_the_site_capacity(db_session: Session) -> None:
    contract = _contract(db_session, capacity=10)
    site = db_session.get(ContractSite, (contract.id, contract.sites[0].site_id))
    assert site is not None
    site.site_capacity = 2
    _assign(db_session, contract, 2, AssignmentStatus.SENT)
    with pytest.raises(CapacityExceeded, match=f"at site '{site.site_id}' has 0 open"):
        reserve_units(db_session, contract.id, 1, site_id=site.site_id, as_of=AS_OF)
    reserve_units(db_session, contract.id, 1, as_of=AS_OF)  # the contract as a whole has room


@pytest.mark.parametrize("units", [0, -1])
def test_reserve_units_refuses_non_positive_units(db_session: Session, units: int) -> None:
    contract = _contract(db_session)
    with pytest.raises(ValueError, match="units must be at least 1"):
        reserve_units(db_session, contract.id, units)


def test_unknown_contract_is_named(db_session: Session) -> None:
    with pytest.raises(UnknownContract, match="no contract 'C-NOPE'"):
        lock_contract(db_session, "C-NOPE")
    with pytest.raises(UnknownContract):
        position(db_session, "C-NOPE")


def test_lock_contract_returns_the_row_freshly_read(db_session: Session) -> None:
    contract = _contract(db_session, capacity=5)
    db_session.execute(sa.update(Contract).where(Contract.id == contract.id).values(contracted_capacity=9))
    assert lock_contract(db_session, contract.id).contracted_capacity == 9


def test_capacity_history_is_a_step_series_per_service(db_session: Session) -> None:
    contract = _contract(db_session, capacity=5, effective_start=dt.date(2026, 10, 1))
    referral = make_referral(db_session, make_member(db_session), units_needed=2)
    make_assignment(db_session, referral, contract, status=AssignmentStatus.ACCEPTED,
                    created_at=dt.datetime(2026, 10, 5, 9, tzinfo=dt.UTC))
    other = make_referral(db_session, make_member(db_session), units_needed=1)
    make_assignment(db_session, other, contract, status=AssignmentStatus.ENDED,
                    created_at=dt.datetime(2026, 10, 6, 9, tzinfo=dt.UTC),
                    ended_at=dt.datetime(2026, 10, 20, 9, tzinfo=dt.UTC))
    make_capacity_report(db_session, contract, K.FULL, dt.date(2026, 10, 10))
    make_capacity_report(db_session, contract, K.NEW_CAPACITY, dt.date(2026, 10, 15), new_capacity=8)

    points = capacity_history(db_session, contract_id=contract.id)
    assert [(p.date.isoformat(), p.capacity, p.committed, p.open, p.reported_full) for p in points] == [
        ("2026-10-01", 5, 0, 5, 0),
        ("2026-10-05", 5, 2, 3, 0),
        ("2026-10-06", 5, 3, 2, 0),
        ("2026-10-10", 5, 3, 0, 1),
        ("2026-10-15", 8, 3, 5, 0),
        ("2026-10-20", 8, 2, 6, 0),
    ]
    clipped = capacity_history(db_session, contract_id=contract.id, start=dt.date(2026, 10, 12),
                               end=dt.date(2026, 10, 16))
    assert [(p.date.isoformat(), p.reported_full, p.capacity) for p in clipped] == [
        ("2026-10-12", 1, 5), ("2026-10-15", 0, 8)]


def test_capacity_history_sums_a_providers_contracts_per_service(db_session: Session) -> None:
    provider = make_provider(db_session)
    make_contract(db_session, provider, service="HOUSING_NAV", capacity=4)
    make_contract(db_session, provider, service="MEALS", capacity=30)
    points = capacity_history(db_session, provider_id=provider.id)
    assert {(p.service_key, p.capacity) for p in points} == {("HOUSING_NAV", 4), ("MEALS", 30)}
    by_county = capacity_history(db_session, county="Humboldt", start=dt.date(2026, 11, 1))
    assert {p.service_key for p in by_county} >= {"HOUSING_NAV", "MEALS"}


def test_capacity_history_needs_exactly_one_selector(db_session: Session) -> None:
    with pytest.raises(ValueError, match="exactly one of contract_id, provider_id, county"):
        capacity_history(db_session)
    with pytest.raises(ValueError, match=r"got \['contract_id', 'county'\]"):
        capacity_history(db_session, contract_id="C1", county="Humboldt")


def _history_by_brute_force(session: Session, contracts: list[Contract], day: dt.date) -> dict[str, tuple[int, ...]]:
    """The per-service totals on ``day`` computed the slow, obvious way (every contract, every assignment)."""
    from capacity.ledger import capacity_state
    from capacity.models import CapacityReport
    from placement.models import ACTIVE_ASSIGNMENT_STATUSES, Assignment

    totals: dict[str, list[int]] = {}
    for c in contracts:
        if not c.is_effective(day):
            continue
        reports = list(session.scalars(sa.select(CapacityReport).where(CapacityReport.contract_id == c.id)))
        state = capacity_state(c.contracted_capacity, reports, day)
        committed = 0
        for a in session.scalars(sa.select(Assignment).where(Assignment.contract_id == c.id)):
            if a.status in ACTIVE_ASSIGNMENT_STATUSES:
                end = None
            elif a.ended_at is not None:
                end = a.ended_at.date()
            elif a.status is AssignmentStatus.DECLINED and a.answered_on is not None:
                end = a.answered_on
            else:
                end = a.created_at.date()
            if a.created_at.date() <= day and (end is None or day < end):
                committed += a.units
        t = totals.setdefault(c.service_key, [0, 0, 0, 0, 0, 0])
        for i, v in enumerate((1, c.contracted_capacity, state.capacity, committed,
                               0 if state.reported_full else max(0, state.capacity - committed),
                               int(state.reported_full))):
            t[i] += v
    return {k: tuple(v) for k, v in totals.items()}


def test_capacity_history_sweep_agrees_with_a_day_by_day_count(db_session: Session) -> None:
    """Many contracts, assignments starting and ending on many days (some ending before they
    started, declined ones ending on their answer), reports of every kind, a contract that ends:
    every point equals the brute-force totals of its day, and nothing changes between points."""
    provider = make_provider(db_session)
    start = dt.date(2026, 9, 1)
    contracts = [
        make_contract(db_session, provider, service="HOUSING_NAV", capacity=6, effective_start=start),
        make_contract(db_session, provider, service="HOUSING_NAV", capacity=3, effective_start=dt.date(2026, 9, 20),
                      effective_end=dt.date(2026, 10, 25), id=f"C-{provider.id}-HOUSING_NAV-2"),
        make_contract(db_session, provider, service="MEALS", capacity=40, effective_start=start),
    ]
    statuses = list(AssignmentStatus)
    for i in range(60):
        contract = contracts[i % 3]
        created = dt.datetime(2026, 9, 1, 10, tzinfo=dt.UTC) + dt.timedelta(days=(i * 7) % 75)
        status = statuses[i % len(statuses)]
        kw: dict[str, Any] = {}
        if status in (AssignmentStatus.ENDED, AssignmentStatus.SUPERSEDED) and i % 2:
            kw["ended_at"] = created + dt.timedelta(days=(i % 11) - 3)  # sometimes before it started
        if status is AssignmentStatus.DECLINED:
            kw["answered_on"] = (created + dt.timedelta(days=i % 4)).date()
        referral = make_referral(db_session, make_member(db_session), units_needed=1 + i % 3)
        make_assignment(db_session, referral, contract, status=status, created_at=created, **kw)
    for contract, kind, day, extra in [
        (contracts[0], K.FULL, dt.date(2026, 9, 10), {}),
        (contracts[0], K.FULL, dt.date(2026, 9, 12), {}),
        (contracts[0], K.REOPENED, dt.date(2026, 9, 18), {}),
        (contracts[0], K.NEW_CAPACITY, dt.date(2026, 10, 5), {"new_capacity": 9}),
        (contracts[1], K.STAFFING_CHANGE, dt.date(2026, 10, 1), {"staffing_change": "a nurse left"}),
        (contracts[2], K.NEW_CAPACITY, dt.date(2026, 9, 15), {"new_capacity": 30}),
        (contracts[2], K.FULL, dt.date(2026, 10, 20), {}),
    ]:
        make_capacity_report(db_session, contract, kind, day, **extra)

    for window in [{}, {"start": dt.date(2026, 9, 14), "end": dt.date(2026, 10, 30)}]:
        points = capacity_history(db_session, provider_id=provider.id, **window)
        assert {p.service_key for p in points} == {"HOUSING_NAV", "MEALS"}
        by_service: dict[str, list[Any]] = {}
        for p in points:
            by_service.setdefault(p.service_key, []).append(p)
        for service_key, series in by_service.items():
            dates = [p.date for p in series]
            assert dates == sorted(set(dates))
            if "start" in window:
                assert dates[0] == window["start"] and dates[-1] <= window["end"]
            for p in series:
                expected = _history_by_brute_force(db_session, contracts, p.date).get(service_key, (0,) * 6)
                assert (p.contracts, p.contracted, p.capacity, p.committed, p.open, p.reported_full) == expected, p
            # between two points nothing changes: check the day before each next point too
            for p, following in zip(series, series[1:], strict=False):
                before = following.date - dt.timedelta(days=1)
                if before > p.date:
                    got = _history_by_brute_force(db_session, contracts, before).get(service_key, (0,) * 6)
                    assert got == (p.contracts, p.contracted, p.capacity, p.committed, p.open, p.reported_full)


def test_capacity_history_takes_three_queries_whatever_the_contracts(db_session: Session) -> None:
    provider = make_provider(db_session)
    for service in ("HOUSING_NAV", "MEALS", "RESPITE"):
        contract = make_contract(db_session, provider, service=service, capacity=4)
        for _ in range(3):
            make_assignment(db_session, make_referral(db_session, make_member(db_session), service=service), contract)
    with count_statements(db_session) as statements:
        capacity_history(db_session, provider_id=provider.id)
    assert len(statements) == 3
