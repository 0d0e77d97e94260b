"""Kept report rows (reports.kept) against fresh reads, on both databases: after each kind of write,
every report computed from the kept rows (equity, referrals, utilization, the dashboard's
timeliness) equals the report read afresh, to the byte, and only the referrals the write touched
were read again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from placement.models import Assignment, AssignmentStatus, UnplacedReferral
from providers.models import ProviderSite
from referrals.models import (
    Member,
    MemberDemographics,
    Referral,
    ReferralPreference,
    ReferralSource,
    ReferralStatus,
    ReferralStatusChange,
)
from reports.common import Period
from reports.equity import equity_report, referral_outcomes
from reports.kept import KeptRows, RowSource, fresh_rows
from reports.oversight import referral_counts, referral_events, utilization
from tests.reports.conftest import Q4, at, build_small_plan
from web.reports import services as timeliness_services

YEAR = Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def _reports(session: Session, rows: RowSource) -> dict[str, str]:
    """Every report that reads through a row source, for Q4 and the year, as CSV text."""
    out = {}
    for period in (Q4, YEAR):
        report = equity_report(session, period, min_group_size=1, rows=rows)
        out[f"equity {period.label}"] = report.measures.to_csv(index=False, float_format="%.17g")
        out[f"flags {period.label}"] = report.flags_frame().to_csv(index=False, float_format="%.17g")
        out[f"outcomes {period.label}"] = referral_outcomes(session, period, rows=rows).to_csv(index=False)
        out[f"events {period.label}"] = referral_events(session, period, rows=rows).to_csv(index=False)
        out[f"by county {period.label}"] = referral_counts(session, period, ("month", "county"),
                                                           rows=rows).to_csv(index=False)
        for by in ("county", "provider"):
            out[f"utilization {by} {period.label}"] = utilization(session, period, by=by, rows=rows).to_csv(
                index=False, float_format="%.17g")
    for by in timeliness_services.DIMENSIONS:  # the dashboard's timeliness, the year to 2026-12-01
        out[f"timeliness {by}"] = repr(timeliness_services.timeliness(
            session, by, YEAR.start, YEAR.end, dt.date(2026, 12, 1), rows=rows))
    return out


def _referral(s: Session, referral_id: str) -> Referral:
    found = s.get(Referral, referral_id)
    assert found is not None
    return found


def _decline_accepted(s: Session) -> None:  # an assignment answered again (update)
    a = s.scalars(sa.select(Assignment).where(Assignment.referral_id == "R3")).one()
    a.status, a.decline_reason, a.ended_at = AssignmentStatus.DECLINED, "OTHER", at("2026-11-06")


def _place_r5(s: Session) -> None:  # a new assignment and its status history (inserts)
    s.add(Assignment(referral_id="R5", provider_id="P1", site_id="P1-S1", contract_id="C2", units=1,
                     status=AssignmentStatus.SENT, sent_on=dt.date(2026, 12, 29), created_at=at("2026-12-29")))
    s.add(ReferralStatusChange(referral_id="R5", from_status=ReferralStatus.RECEIVED, to_status=ReferralStatus.SENT,
                               on_date=dt.date(2026, 12, 29), actor="test", reason_code="SENT"))


def _move_member(s: Session) -> None:  # a member's county: every referral of the member
    member = s.get(Member, _referral(s, "R4").member_id)
    assert member is not None
    member.county = "Humboldt"


def _demographics(s: Session) -> None:
    s.execute(sa.update(MemberDemographics).where(MemberDemographics.member_id == _referral(s, "R1").member_id)
              .values(race_ethnicity="Black or African American"))


def _unplace_again(s: Session) -> None:  # an unplaced record added, another deleted
    run_id = s.scalars(sa.select(UnplacedReferral.solver_run_id)).first()
    s.add(UnplacedReferral(referral_id="R5", solver_run_id=run_id, reason="NO_PROVIDER_IN_AREA", detail={},
                           created_at=at("2026-12-30")))
    s.execute(sa.delete(UnplacedReferral).where(UnplacedReferral.referral_id == "R4"))


def _out_of_the_quarter(s: Session) -> None:  # received before the quarter: the row leaves Q4's set
    _referral(s, "R1").received_date = dt.date(2026, 9, 15)


def _new_referral(s: Session) -> None:  # a new key, placed among the others in id order
    member_id = _referral(s, "R2").member_id
    s.add(Referral(id="R15", member_id=member_id, service_key="HOUSING_NAV", source=ReferralSource.ECM,
                   received_date=dt.date(2026, 12, 1)))
    s.flush()
    s.add(ReferralPreference(referral_id="R15", rank=1, provider_id="P2"))
    s.add(Assignment(referral_id="R15", provider_id="P2", site_id="P2-S1", contract_id="C3", units=1,
                     status=AssignmentStatus.PROPOSED, created_at=at("2026-12-02")))


def _move_site(s: Session) -> None:  # a shared row the rows read: every referral is read again
    s.execute(sa.update(ProviderSite).where(ProviderSite.id == "P1-S1").values(latitude=40.5))


# (write, referrals read again; None: a full read)
WRITES: list[tuple[Callable[[Session], None], int | None]] = [
    (_decline_accepted, 1), (_place_r5, 1), (_move_member, 2), (_demographics, 2), (_unplace_again, 2),
    (_out_of_the_quarter, 1), (_new_referral, 1), (_move_site, None),
]


@pytest.fixture
def plan(committing_engine: Engine) -> Engine:
    with Session(committing_engine) as s:
        build_small_plan(s)
        s.commit()
    return committing_engine


def test_kept_rows_give_the_fresh_reports_after_every_kind_of_write(plan: Engine) -> None:
    store = KeptRows(size=16)
    with Session(plan) as s:
        assert _reports(s, store) == _reports(s, fresh_rows)
    names = len(store._kept)
    assert names == 10  # equity outcomes and answers, events, spans, for two periods; send and answer clocks
    for write, refreshed in WRITES:
        with Session(plan) as s:
            write(s)
            s.commit()
        before, full = store.refreshed, store.full_reads
        with Session(plan) as s:
            kept = _reports(s, store)
            assert kept == _reports(s, fresh_rows), write.__name__
        if refreshed is None:
            assert store.full_reads == full + names, write.__name__
        else:  # each row set read again just the referrals the write touched
            assert (store.refreshed - before, store.full_reads) == (refreshed * names, full), write.__name__
    assert store.patched >= 10  # the equity columns and answers were patched, not built again, after most writes


def test_a_transaction_that_has_written_reads_afresh_and_keeps_nothing(plan: Engine) -> None:
    """Its own rows are not committed and may be rolled back: they must not enter the kept rows."""
    store = KeptRows()
    with Session(plan) as s:
        _referral(s, "R1").received_date = dt.date(2026, 9, 15)
        s.flush()
        assert list(referral_outcomes(s, Q4, rows=store)["referral_id"]) == ["R2", "R3", "R4", "R5"]
        assert store._kept == {} and store.full_reads == 0
        s.rollback()
    with Session(plan) as s:
        assert list(referral_outcomes(s, Q4, rows=store)["referral_id"]) == ["R1", "R2", "R3", "R4", "R5"]
    assert store.full_reads == 2  # the outcomes and the answers, read and kept
    assert len(store._kept) == 2


def test_rows_come_in_referral_order_either_way(plan: Engine) -> None:
    """The same order from a kept read as from a fresh one: float sums (the mean distance) depend on it."""
    store = KeptRows()
    with Session(plan) as s:
        referral_outcomes(s, YEAR, rows=store)
        _new_referral(s)
        s.commit()
    with Session(plan) as s:
        kept = referral_outcomes(s, YEAR, rows=store)
        fresh = referral_outcomes(s, YEAR)
    assert list(kept["referral_id"]) == sorted(kept["referral_id"]) == list(fresh["referral_id"])
    pd.testing.assert_frame_equal(kept, fresh)


def test_a_derived_value_is_patched_at_the_changed_rows_and_built_anew_when_rows_move(plan: Engine) -> None:
    """reports.kept.derived: an update patches just its referral's row; an added row moves the others
    (the positions no longer line up), so the value is built again."""
    from reports.kept import derived, fetch_query

    calls: list[tuple[str, int]] = []

    def build(rows: list[tuple[object, ...]]) -> list[object]:
        calls.append(("build", len(rows)))
        return [row[1] for row in rows]

    def patch(value: list[object], old: list[tuple[object, ...]], rows: list[tuple[object, ...]],
              positions: list[int]) -> list[object]:
        calls.append(("patch", len(positions)))
        patched = list(value)
        for i in positions:
            patched[i] = rows[i][1]
        return patched

    def notes(s: Session, store: KeptRows) -> list[object]:
        fetch = fetch_query(lambda among: sa.select(Referral.id, Referral.notes).where(
            sa.true() if among is None else among(Referral.id)))
        return derived(store, s, "notes", fetch, "notes", build, patch)

    store = KeptRows()
    with Session(plan) as s:
        assert notes(s, store) == [""] * 6 and notes(s, store) == [""] * 6  # built once, then kept
    assert calls == [("build", 6)]
    with Session(plan) as s:
        _referral(s, "R3").notes = "called twice"
        s.commit()
    with Session(plan) as s:
        assert notes(s, store) == ["", "", "", "called twice", "", ""]  # R0-R5: R3 is the fourth
    assert calls[-1] == ("patch", 1)
    with Session(plan) as s:
        _new_referral(s)
        s.commit()
    with Session(plan) as s:
        assert len(notes(s, store)) == 7
    assert calls[-1] == ("build", 7)
