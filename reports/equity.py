"""The equity report: outcomes by member group, county, service and provider (7003 VI.B.4, VI.I.1.a.3).

The matcher never reads race/ethnicity, sex or age (DOMAIN.md, non-discrimination): urgency and
waiting time set priority. This report is where those attributes are read, to audit the outcomes
by group instead, every quarter (VI.I.1.b) or over any date range.

Population: the referrals **received** in the period. For each one:

placed
    it ever had an assignment (every assignment starts as a proposal, so any assignment row means
    the referral was PROPOSED, SENT or ACCEPTED at some point);
unplaced
    not placed, and the matcher recorded it as unplaced at least once (7003 VI.E.5);
pending
    neither yet (not solved, or discontinued before a solve): left out of the placement rate.

Measures per group:

* **placement rate** = placed / (placed + unplaced);
* **business days to placement**: from receipt to the first day the referral was PROPOSED, SENT
  or ACCEPTED (status history), else the day its first assignment was created; median and 90th
  percentile (linear interpolation) over placed referrals;
* **preference honoured**, among placed referrals whose member ranked at least one provider: the
  referral's placement is with the rank-1 provider / with any ranked provider (ReferralPreference
  against the assignment's provider_id, which also covers overrides without solver cost terms);
* **travel distance** for site-based services: member home to the placement's site, great-circle
  miles (:func:`geo.distance.haversine_miles`); median, 90th percentile, mean;
* **declines**: the share of the assignments *sent* to providers that the provider declined.

A referral's *placement* is its current assignment (PROPOSED, SENT, ACCEPTED or ENDED), else its
latest one. By provider, referrals are grouped by the placement's provider, except declines, which
are grouped by the provider that declined; placement rates are not computed by provider (an
unplaced referral has no provider).

Member groups: race/ethnicity and sex from :class:`~referrals.models.MemberDemographics` (a
member without a row, an empty value or sex ``U`` is "Unknown"); language is the member's required
language, else the first spoken language; age band from the date of birth on the day the referral
was received.

The four-fifths flag (:mod:`reports.fourfifths`) runs on every table for the placement rate and the
two preference rates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from csmatch.calendar import HolidayCalendar, default_calendar
from csmatch.models import Service
from geo.distance import haversine_miles
from placement.models import Assignment, AssignmentStatus, UnplacedReferral
from providers.models import ProviderSite
from referrals.models import (
    Member,
    MemberDemographics,
    Referral,
    ReferralPreference,
    ReferralStatus,
    ReferralStatusChange,
)
from reports.common import Period, business_days, read_frame
from reports.fourfifths import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_GROUP_SIZE,
    FourFifthsResult,
    GroupCount,
    four_fifths,
)

__all__ = [
    "AGE_BANDS",
    "DIMENSIONS",
    "FLAG_COLUMNS",
    "MEASURE_COLUMNS",
    "MEMBER_GROUPS",
    "RATE_MEASURES",
    "UNKNOWN",
    "EquityReport",
    "age_band",
    "assignment_outcomes",
    "equity_report",
    "equity_table",
    "referral_outcomes",
]

UNKNOWN = "Unknown"
NO_PROVIDER = "(none)"
MEMBER_GROUPS = ("race_ethnicity", "language", "sex", "age_band")
DIMENSIONS = ("county", "service", "provider", *MEMBER_GROUPS)
# (label, lowest age in the band), ascending
AGE_BANDS = (("0-17", 0), ("18-25", 18), ("26-44", 26), ("45-64", 45), ("65+", 65))
# Rates the four-fifths flag runs on: measure -> (successes column, denominator column)
RATE_MEASURES = {
    "placement_rate": ("placed", "decided"),
    "preference_rank1_rate": ("preference_rank1", "preference_stated"),
    "preference_any_rate": ("preference_any", "preference_stated"),
}
_PLACED = (ReferralStatus.PROPOSED, ReferralStatus.SENT, ReferralStatus.ACCEPTED)
_CURRENT = (AssignmentStatus.PROPOSED, AssignmentStatus.SENT, AssignmentStatus.ACCEPTED, AssignmentStatus.ENDED)
_SENT = (AssignmentStatus.SENT, AssignmentStatus.ACCEPTED, AssignmentStatus.DECLINED, AssignmentStatus.ENDED)

MEASURE_COLUMNS = (
    "period", "dimension", "group", "stratum_by", "stratum", "referrals", "decided", "placed", "unplaced",
    "pending", "placement_rate", "days_n", "days_median", "days_p90", "preference_stated", "preference_rank1",
    "preference_any", "preference_rank1_rate", "preference_any_rate", "distance_n", "distance_median_miles",
    "distance_p90_miles", "distance_mean_miles", "assignments_sent", "assignments_declined", "decline_rate",
)
FLAG_COLUMNS = ("period", "dimension", "stratum_by", "stratum", "measure", "group", "n", "successes", "rate",
                "best_group", "best_n", "best_successes", "best_rate", "ratio", "test", "p_value", "flagged", "note")


def age_band(age: int | None) -> str:
    """Return the band of an age in whole years (``Unknown`` for None).

    >>> [age_band(a) for a in (0, 17, 18, 25, 26, 44, 45, 64, 65, None)]
    ['0-17', '0-17', '18-25', '18-25', '26-44', '26-44', '45-64', '45-64', '65+', 'Unknown']
    """
    if age is None:
        return UNKNOWN
    label = AGE_BANDS[0][0]
    for name, low in AGE_BANDS:
        if age >= low:
            label = name
    return label


def _in_period(period: Period) -> sa.Select[str]:
    return sa.select(Referral.id).where(Referral.received_date.between(period.start, period.end))


def _outcomes_query(period: Period) -> sa.Select[*tuple[Any, ...]]:
    """One statement: each referral received in the period with its member, groups and placement."""
    ids = _in_period(period)
    h = ReferralStatusChange
    first_placed = (
        sa.select(h.referral_id, sa.func.min(h.on_date).label("placed_on"))
        .where(h.to_status.in_(_PLACED), h.from_status.is_distinct_from(h.to_status), h.referral_id.in_(ids))
        .group_by(h.referral_id)
        .subquery("first_placed")
    )
    # the placement: the latest current assignment, else the latest one (plain aggregates: a window
    # function here makes SQLite rescan the subquery once per referral)
    current_id = sa.case((Assignment.status.in_(_CURRENT), Assignment.id))
    assignments = (
        sa.select(
            Assignment.referral_id, sa.func.min(Assignment.created_at).label("first_created"),
            sa.func.coalesce(sa.func.max(current_id), sa.func.max(Assignment.id)).label("placement_id"),
        )
        .where(Assignment.referral_id.in_(ids))
        .group_by(Assignment.referral_id)
        .subquery("assignment_summary")
    )
    placement = aliased(Assignment, name="placement")
    unplaced = (
        sa.select(UnplacedReferral.referral_id)
        .where(UnplacedReferral.referral_id.in_(ids))
        .group_by(UnplacedReferral.referral_id)
        .subquery("ever_unplaced")
    )
    stated = (
        sa.select(ReferralPreference.referral_id, sa.func.count().label("preferences"))
        .where(ReferralPreference.referral_id.in_(ids))
        .group_by(ReferralPreference.referral_id)
        .subquery("stated")
    )
    honoured = aliased(ReferralPreference, name="honoured")
    return (
        sa.select(
            Referral.id.label("referral_id"), Referral.received_date, Referral.service_key, Referral.source,
            Service.site_based, Member.id.label("member_id"), Member.county, Member.dob,
            # the language the member needs, else the first one spoken (JSON read in SQL, not per row)
            sa.func.coalesce(Member.required_language, Member.spoken_languages[0].as_string()).label("language"),
            Member.latitude.label("member_lat"), Member.longitude.label("member_lon"),
            MemberDemographics.race_ethnicity, MemberDemographics.sex,
            first_placed.c.placed_on, assignments.c.first_created, placement.provider_id,
            ProviderSite.latitude.label("site_lat"), ProviderSite.longitude.label("site_lon"),
            stated.c.preferences, honoured.rank.label("placed_rank"),
            unplaced.c.referral_id.is_not(None).label("ever_unplaced"),
        )
        .join(Member, Member.id == Referral.member_id)
        .join(Service, Service.key == Referral.service_key)
        .outerjoin(MemberDemographics, MemberDemographics.member_id == Member.id)
        .outerjoin(first_placed, first_placed.c.referral_id == Referral.id)
        .outerjoin(assignments, assignments.c.referral_id == Referral.id)
        .outerjoin(placement, placement.id == assignments.c.placement_id)
        .outerjoin(ProviderSite, ProviderSite.id == placement.site_id)
        .outerjoin(stated, stated.c.referral_id == Referral.id)
        .outerjoin(honoured, sa.and_(honoured.referral_id == Referral.id,
                                     honoured.provider_id == placement.provider_id))
        .outerjoin(unplaced, unplaced.c.referral_id == Referral.id)
        .where(Referral.received_date.between(period.start, period.end))
    )


def _label(values: pd.Series, unknown: Sequence[object] = ()) -> pd.Series:
    """Strings with missing, blank and the given codes as ``Unknown``."""
    text = values.astype("string").str.strip()
    return text.mask(text.isna() | (text == "") | text.isin([str(u) for u in unknown]), UNKNOWN).astype(object)


def _ages(dob: pd.Series, on: pd.Series) -> pd.Series:
    born, day = pd.to_datetime(dob), pd.to_datetime(on)
    before_birthday = (day.dt.month < born.dt.month) | ((day.dt.month == born.dt.month) & (day.dt.day < born.dt.day))
    return (day.dt.year - born.dt.year - before_birthday.astype(int)).astype("Int64")


def _age_bands(ages: pd.Series) -> pd.Series:
    """:func:`age_band` for a whole column at once."""
    edges = [low for _, low in AGE_BANDS] + [np.inf]
    bands = pd.cut(ages.astype("float64"), bins=edges, right=False, labels=[name for name, _ in AGE_BANDS])
    return bands.astype(object).where(bands.notna(), UNKNOWN)


def referral_outcomes(session: Session, period: Period, *, calendar: HolidayCalendar | None = None) -> pd.DataFrame:
    """Return one row per referral received in ``period``: its groups and outcomes (one query).

    Columns: referral_id, member_id, received_date, month, county, service, source, provider,
    race_ethnicity, sex, language, age_band, outcome (placed/unplaced/pending), placed_on,
    days_to_placement, preference_stated, preference_rank1, preference_any, site_based,
    distance_miles.

    :raise csmatch.calendar.CalendarRangeError: if a receipt or placement falls in a year without
        holiday data.
    """
    calendar = calendar or default_calendar()
    raw = read_frame(session, _outcomes_query(period))
    out = pd.DataFrame({
        "referral_id": raw["referral_id"].astype(object),
        "member_id": raw["member_id"],
        "received_date": raw["received_date"],
        "month": pd.to_datetime(raw["received_date"]).dt.strftime("%Y-%m"),
        "county": raw["county"].astype(object),
        "service": raw["service_key"].astype(object),
        "source": raw["source"].map(str).astype(object),
    })
    placed = raw["first_created"].notna()
    out["provider"] = raw["provider_id"].where(raw["provider_id"].notna(), NO_PROVIDER).astype(object)
    out["race_ethnicity"] = _label(raw["race_ethnicity"])
    out["sex"] = _label(raw["sex"], unknown=("U",))
    out["language"] = _label(raw["language"])
    out["age_band"] = _age_bands(_ages(raw["dob"], raw["received_date"]))
    out["outcome"] = np.where(placed, "placed", np.where(raw["ever_unplaced"].astype(bool), "unplaced", "pending"))
    created_day = raw["first_created"].map(lambda t: t.date() if isinstance(t, dt.datetime) else None)
    out["placed_on"] = raw["placed_on"].where(raw["placed_on"].notna(), created_day).where(placed, None)
    out["days_to_placement"] = business_days(out, "received_date", "placed_on", calendar)
    stated = placed & raw["preferences"].fillna(0).astype(int).gt(0)
    out["preference_stated"] = stated
    out["preference_rank1"] = stated & raw["placed_rank"].eq(1).fillna(False).astype(bool)
    out["preference_any"] = stated & raw["placed_rank"].notna()
    out["site_based"] = raw["site_based"].astype(bool)
    measured = placed & out["site_based"] & raw["site_lat"].notna()
    miles = haversine_miles(raw["member_lat"].astype(float), raw["member_lon"].astype(float),
                            raw["site_lat"].astype(float), raw["site_lon"].astype(float))
    out["distance_miles"] = pd.Series(miles, index=raw.index, dtype="float64").where(measured)
    # categories make the many GROUP BYs of the report cheap (strings are factorized once, here)
    return out.astype({c: "category" for c in ("month", *DIMENSIONS)})


def assignment_outcomes(session: Session, period: Period) -> pd.DataFrame:
    """Return, per referral received in ``period`` and provider, the assignments sent and declined.

    Columns: referral_id, provider, sent, declined (one GROUP BY in SQL).
    """
    sent = sa.or_(Assignment.sent_on.is_not(None), Assignment.status.in_(_SENT))
    stmt = (
        sa.select(
            Assignment.referral_id, Assignment.provider_id,
            sa.func.sum(sa.case((sent, 1), else_=0)),
            sa.func.sum(sa.case((Assignment.status == AssignmentStatus.DECLINED, 1), else_=0)),
        )
        .where(Assignment.referral_id.in_(_in_period(period)))
        .group_by(Assignment.referral_id, Assignment.provider_id)
    )
    frame = read_frame(session, stmt, ["referral_id", "provider", "sent", "declined"])
    return frame.astype({"provider": "category", "sent": "int64", "declined": "int64"})


def equity_table(referrals: pd.DataFrame, assignments: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Return the measures of the module docstring per group of ``by`` (columns of :func:`referral_outcomes`).

    ``assignments`` is :func:`assignment_outcomes` (its ``provider`` is the provider that was sent
    the referral); group columns it lacks are taken from ``referrals``.
    """
    by = list(by)
    r = referrals.assign(
        placed=referrals["outcome"].eq("placed"), unplaced=referrals["outcome"].eq("unplaced"),
        pending=referrals["outcome"].eq("pending"),
        days=referrals["days_to_placement"].astype("float64"),
    )
    grouped = r.groupby(by, sort=True, observed=True)
    table = grouped[["placed", "unplaced", "pending", "preference_stated", "preference_rank1",
                     "preference_any"]].sum()
    table["referrals"] = grouped.size()
    table["days_n"] = grouped["days"].count()
    table["days_median"] = grouped["days"].quantile(0.5)
    table["days_p90"] = grouped["days"].quantile(0.9)
    table["distance_n"] = grouped["distance_miles"].count()
    table["distance_median_miles"] = grouped["distance_miles"].quantile(0.5)
    table["distance_p90_miles"] = grouped["distance_miles"].quantile(0.9)
    table["distance_mean_miles"] = grouped["distance_miles"].mean()
    table["decided"] = table["placed"] + table["unplaced"]
    missing = [c for c in by if c not in assignments.columns]
    sent = assignments.merge(r[["referral_id", *missing]], on="referral_id") if missing else assignments
    declines = sent.groupby(by, sort=True, observed=True)[["sent", "declined"]].sum()
    table = table.join(declines.rename(columns={"sent": "assignments_sent", "declined": "assignments_declined"}),
                       how="outer")
    counts = ["referrals", "placed", "unplaced", "pending", "decided", "days_n", "preference_stated",
              "preference_rank1", "preference_any", "distance_n", "assignments_sent", "assignments_declined"]
    table[counts] = table[counts].fillna(0).astype("int64")
    table["placement_rate"] = _ratio(table["placed"], table["decided"])
    table["preference_rank1_rate"] = _ratio(table["preference_rank1"], table["preference_stated"])
    table["preference_any_rate"] = _ratio(table["preference_any"], table["preference_stated"])
    table["decline_rate"] = _ratio(table["assignments_declined"], table["assignments_sent"])
    if "provider" in by:
        # an unplaced referral has no provider: a placement rate by provider means nothing
        table["placement_rate"] = np.nan
    return table.reset_index()


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype("float64")


@dataclass
class EquityReport:
    """The equity report of one period: a measures table and the four-fifths results.

    ``measures`` has :data:`MEASURE_COLUMNS`: one row per ``(dimension, stratum_by, stratum,
    group)``. ``stratum_by`` is empty for the plan-wide tables, else ``county`` or ``service``
    (member groups within each county or service). ``flags`` has one result per group and rate
    measure (see :class:`reports.fourfifths.FourFifthsResult`); :attr:`flagged` keeps the flagged ones.
    """

    period: Period
    measures: pd.DataFrame
    flags: list[FourFifthsResult] = field(default_factory=list)
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE
    alpha: float = DEFAULT_ALPHA

    @property
    def flagged(self) -> list[FourFifthsResult]:
        return [f for f in self.flags if f.flagged]

    def flags_frame(self) -> pd.DataFrame:
        """The four-fifths results as a table with :data:`FLAG_COLUMNS`."""
        rows = [{"period": self.period.label, **asdict(f)} for f in self.flags]
        return pd.DataFrame(rows, columns=list(FLAG_COLUMNS))


def _flags(table: pd.DataFrame, dimension: str, stratum_by: str, stratum: str, min_group_size: int,
           alpha: float) -> list[FourFifthsResult]:
    results: list[FourFifthsResult] = []
    for measure, (hits, total) in RATE_MEASURES.items():
        if dimension == "provider" and measure == "placement_rate":
            continue
        counts = [GroupCount(str(g), int(n), int(s)) for g, n, s in zip(table[dimension], table[total], table[hits],
                                                                        strict=True)]
        results.extend(four_fifths(counts, dimension=dimension, stratum_by=stratum_by, stratum=stratum, measure=measure,
                                   min_group_size=min_group_size, alpha=alpha))
    return results


def equity_report(
    session: Session,
    period: Period,
    *,
    dimensions: Sequence[str] = DIMENSIONS,
    strata: Sequence[str] = ("county", "service"),
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    alpha: float = DEFAULT_ALPHA,
    calendar: HolidayCalendar | None = None,
) -> EquityReport:
    """Build the equity report of ``period`` (7003 VI.B.4, VI.I.1.a.3): two queries, then pandas.

    One table per dimension plan-wide, and one per member group within each value of each of
    ``strata`` (e.g. race/ethnicity within each county); the four-fifths flag on each table.

    :raise ValueError: for an unknown dimension or stratum.
    """
    unknown = [d for d in (*dimensions, *strata) if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown dimension(s) {unknown!r}; choose from {', '.join(DIMENSIONS)}")
    referrals = referral_outcomes(session, period, calendar=calendar)
    groups = [d for d in DIMENSIONS if d != "provider"]
    assignments = assignment_outcomes(session, period).merge(referrals[["referral_id", *groups]], on="referral_id")
    tables: list[pd.DataFrame] = []
    flags: list[FourFifthsResult] = []
    for dimension in dimensions:
        table = equity_table(referrals, assignments, [dimension])
        tables.append(table.assign(dimension=dimension, group=table[dimension], stratum_by="", stratum=""))
        flags.extend(_flags(table, dimension, "", "", min_group_size, alpha))
    for stratum_by in strata:
        for dimension in (d for d in dimensions if d in MEMBER_GROUPS and d != stratum_by):
            table = equity_table(referrals, assignments, [stratum_by, dimension])
            tables.append(table.assign(dimension=dimension, group=table[dimension], stratum_by=stratum_by,
                                       stratum=table[stratum_by]))
            for value, part in table.groupby(stratum_by, sort=True, observed=True):
                flags.extend(_flags(part, dimension, stratum_by, str(value), min_group_size, alpha))
    measures = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    measures["period"] = period.label
    measures = measures.reindex(columns=list(MEASURE_COLUMNS))
    return EquityReport(period=period, measures=measures, flags=flags, min_group_size=min_group_size, alpha=alpha)
