"""Utilization, referral and timeliness reports (7003 VI.I.1.a.1, VI.C.3) on the small plan of conftest."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from referrals.models import Referral
from reports.common import Period
from reports.oversight import (
    REFERRAL_COLUMNS,
    TIMELINESS_COLUMNS,
    UTILIZATION_COLUMNS,
    capacity_in_force,
    referral_counts,
    referral_events,
    referral_summary,
    timeliness,
    utilization,
)
from tests.reports.conftest import Q4, SmallPlan

AS_OF = dt.date(2026, 12, 31)


def cells(frame: pd.DataFrame, keys: list[str], values: list[str]) -> dict[tuple[str, ...], list[object]]:
    return {tuple(r[k] for k in keys): [r[v] for v in values] for _, r in frame.iterrows()}


def test_utilization_by_county(db_session: Session, small_plan: SmallPlan) -> None:
    frame = utilization(db_session, Q4)
    assert list(frame.columns) == list(UTILIZATION_COLUMNS)
    got = cells(frame, ["month", "service", "county"],
                ["contracted_capacity", "units_committed", "units_accepted", "members_served", "utilization_pct"])
    assert got == {
        # R1 holds 1 of C1's 5 from 10-05; R2's proposal ended with the decline on 10-23
        ("2026-10", "HOUSING_NAV", "Humboldt"): [5, 1, 1, 1, 20.0],
        ("2026-10", "HOUSING_NAV", "Shasta"): [3, 0, 0, 0, 0.0],
        # C2 serves Humboldt and Shasta: its 4 beds count in each county
        ("2026-10", "RECUPERATIVE_CARE", "Humboldt"): [4, 0, 0, 0, 0.0],
        ("2026-10", "RECUPERATIVE_CARE", "Shasta"): [4, 0, 0, 0, 0.0],
        # C1 reported NEW_CAPACITY 8 from 11-15; R3 (a Shasta member) holds a bed from 11-03
        ("2026-11", "HOUSING_NAV", "Humboldt"): [8, 1, 1, 1, 12.5],
        ("2026-11", "HOUSING_NAV", "Shasta"): [3, 0, 0, 0, 0.0],
        ("2026-11", "RECUPERATIVE_CARE", "Humboldt"): [4, 0, 0, 0, 0.0],
        ("2026-11", "RECUPERATIVE_CARE", "Shasta"): [4, 1, 1, 1, 25.0],
        ("2026-12", "HOUSING_NAV", "Humboldt"): [8, 1, 1, 1, 12.5],
        ("2026-12", "HOUSING_NAV", "Shasta"): [3, 0, 0, 0, 0.0],
        ("2026-12", "RECUPERATIVE_CARE", "Humboldt"): [4, 0, 0, 0, 0.0],
        ("2026-12", "RECUPERATIVE_CARE", "Shasta"): [4, 1, 1, 1, 25.0],
    }
    assert frame["snapshot_date"].iloc[0] == dt.date(2026, 10, 31)


def test_utilization_snapshot_inside_a_month_and_by_provider(db_session: Session, small_plan: SmallPlan) -> None:
    # on 10-20 R2's proposal still held a unit of C1, not yet answered
    frame = utilization(db_session, Period(dt.date(2026, 10, 1), dt.date(2026, 10, 20)), by="provider")
    got = cells(frame, ["month", "service", "provider"], ["contracted_capacity", "units_committed", "units_accepted"])
    assert got == {
        ("2026-10", "HOUSING_NAV", "P1"): [5, 2, 1],
        ("2026-10", "HOUSING_NAV", "P2"): [3, 0, 0],
        ("2026-10", "RECUPERATIVE_CARE", "P1"): [4, 0, 0],
    }
    assert set(frame["county"]) == {""}
    with pytest.raises(ValueError, match="by must be"):
        utilization(db_session, Q4, by="site")


def test_capacity_in_force_counts_each_contract_once(db_session: Session, small_plan: SmallPlan) -> None:
    # housing navigation: C1 (5, then 8 from 11-15) and C3 (3); recuperative care: C2 (4), which
    # serves two counties but counts once plan-wide
    frame = capacity_in_force(db_session, Q4)
    got = cells(frame, ["month", "service"], ["contracts", "contracted_capacity"])
    assert got == {(m, "HOUSING_NAV"): [2, 8 if m == "2026-10" else 11] for m in ("2026-10", "2026-11", "2026-12")} | {
        (m, "RECUPERATIVE_CARE"): [1, 4] for m in ("2026-10", "2026-11", "2026-12")}


def test_referral_events(db_session: Session, small_plan: SmallPlan) -> None:
    events = referral_events(db_session, Q4)
    assert list(events.columns) == list(REFERRAL_COLUMNS)
    got = cells(events, ["month", "county", "provider", "event", "reason"], ["count"])
    assert got == {
        ("2026-10", "Humboldt", "", "RECEIVED", ""): [2],
        ("2026-10", "Shasta", "", "RECEIVED", ""): [1],
        ("2026-10", "Humboldt", "P1", "SENT", ""): [2],
        ("2026-10", "Humboldt", "P1", "ACCEPTED", ""): [1],
        ("2026-10", "Humboldt", "P1", "DECLINED", "AT_CAPACITY"): [1],
        # R0's unplaced record of 09-30 is before the quarter
        ("2026-10", "Humboldt", "", "UNPLACED", "ALL_IN_AREA_FULL"): [1],
        ("2026-10", "Shasta", "", "UNPLACED", "ALL_IN_AREA_FULL"): [1],
        ("2026-11", "Shasta", "", "RECEIVED", ""): [1],
        ("2026-11", "Shasta", "P1", "SENT", ""): [1],
        ("2026-11", "Shasta", "P1", "ACCEPTED", ""): [1],
        ("2026-12", "Shasta", "", "RECEIVED", ""): [1],
    }
    assert set(events["source"]) == {"PCP"}


@pytest.mark.parametrize("key", ["month", "county", "service", "provider", "source"])
def test_referral_counts_by_fewer_keys_add_up_the_finest_grain(db_session: Session, small_plan: SmallPlan,
                                                               key: str) -> None:
    """The page's counts (by month and one key, members and referrals joined only when needed) are
    the CSV file's counts summed."""
    keys = list(dict.fromkeys(["month", key]))
    fine = referral_events(db_session, Q4).groupby([*keys, "event", "reason"], as_index=False)["count"].sum()
    coarse = referral_counts(db_session, Q4, keys)
    assert list(coarse.columns) == [*keys, "event", "reason", "count"]
    assert cells(coarse, [*keys, "event", "reason"], ["count"]) == cells(fine, [*keys, "event", "reason"], ["count"])
    assert coarse["count"].sum() == 13


def test_referral_counts_refuse_an_unknown_key(db_session: Session) -> None:
    with pytest.raises(ValueError, match="unknown key"):
        referral_counts(db_session, Q4, ["reason"])


def test_referral_summary_pivots_by_any_grouping(db_session: Session, small_plan: SmallPlan) -> None:
    events = referral_events(db_session, Q4)
    total = referral_summary(events, []).iloc[0].to_dict()
    assert total == {"RECEIVED": 5, "SENT": 3, "ACCEPTED": 2, "DECLINED": 1, "UNPLACED": 2,
                     "DECLINED:AT_CAPACITY": 1, "UNPLACED:ALL_IN_AREA_FULL": 2}
    by_service = referral_summary(events, ["service"]).set_index("service")
    assert list(by_service[["RECEIVED", "SENT", "ACCEPTED", "DECLINED"]].loc["RECUPERATIVE_CARE"]) == [2, 1, 1, 0]


def test_timeliness(db_session: Session, small_plan: SmallPlan) -> None:
    frame = timeliness(db_session, Q4, as_of=AS_OF)
    assert list(frame.columns) == list(TIMELINESS_COLUMNS)
    plan = frame[frame["dimension"] == "all"].iloc[0]
    # send clock: R1 3 days, R3 1 day on time; R2 sent after 11 business days and R4 never sent
    # (due 11-02) are late; R5 (due in January) is pending
    assert (plan["send_decided"], plan["send_on_time"], plan["send_late"], plan["send_pending"]) == (4, 2, 2, 1)
    assert plan["send_on_time_share"] == 0.5
    assert plan["send_median_days"] == 3.0  # of 1, 3, 11
    # answer clock: R1 1 day, R3 2 days (on the due date), R2 declined after 3
    assert (plan["answer_decided"], plan["answer_on_time"], plan["answer_late"]) == (3, 2, 1)
    assert plan["answer_median_days"] == 2.0

    got = cells(frame[frame["dimension"] == "provider"], ["group"], ["send_decided", "send_on_time", "answer_decided"])
    assert got == {("(not sent)",): [1, 0, 0], ("P1",): [3, 2, 3]}
    month = cells(frame[frame["dimension"] == "month"], ["group"], ["send_decided", "send_on_time", "send_pending"])
    assert month == {("2026-10",): [3, 1, 0], ("2026-11",): [1, 1, 0], ("2026-12",): [0, 0, 1]}


def test_send_clock_belongs_to_the_first_provider_sent_to(db_session: Session, re_referred: Referral) -> None:
    frame = timeliness(db_session, Q4, as_of=AS_OF, dimensions=("provider",))
    got = cells(frame, ["group"], ["send_on_time", "send_median_days", "answer_decided", "answer_late"])
    # sent to P1 one business day after receipt; P1 answered after 1 (10-02 Fri -> 10-05 Mon)
    assert got == {("P1",): [1, 1.0, 1, 0]}


def test_timeliness_clock_still_running_is_pending(db_session: Session, small_plan: SmallPlan) -> None:
    # on 10-30 R4 (received 10-19, due 11-02) is still within its 10 business days
    frame = timeliness(db_session, Period(dt.date(2026, 10, 19), dt.date(2026, 10, 19)), as_of=dt.date(2026, 10, 30),
                       dimensions=("all",))
    assert frame[["send_decided", "send_pending"]].iloc[0].tolist() == [0, 1]
