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

Two queries read a period, each per referral: its groups and outcome, narrowed in SQL to numbers
and strings (:func:`_outcomes_query`), and its answers by provider (:func:`_answers_query`). They
are read through a :data:`reports.kept.RowSource`: fresh by default; the dashboard keeps them and
reads again only the referrals a write touched. Every table is then counted from those columns
with numpy (:class:`Outcomes`, :func:`equity_table`), with pandas' own arithmetic for the
quantiles (linear interpolation) and the mean, so the figures are pandas' to the last bit. Rows
come in referral order either way, so kept and fresh reads give the same figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
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
from reports.common import Period, day_number, day_of
from reports.fourfifths import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_GROUP_SIZE,
    FourFifthsResult,
    GroupCount,
    four_fifths,
)
from reports.kept import Among, Patch, Row, RowSource, derived, fetch_query, fresh_rows

__all__ = [
    "AGE_BANDS",
    "DIMENSIONS",
    "FLAG_COLUMNS",
    "MEASURE_COLUMNS",
    "MEMBER_GROUPS",
    "RATE_MEASURES",
    "UNKNOWN",
    "EquityReport",
    "Grouping",
    "Outcomes",
    "age_band",
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
_COUNTS = ("referrals", "placed", "unplaced", "pending", "decided", "days_n", "preference_stated", "preference_rank1",
           "preference_any", "distance_n", "assignments_sent", "assignments_declined")
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


def _sent() -> sa.ColumnElement[bool]:
    return sa.or_(Assignment.sent_on.is_not(None), Assignment.status.in_(_SENT))


def _outcomes_query(period: Period, dialect: str, among: Among | None = None) -> sa.Select[*tuple[Any, ...]]:
    """One statement: each referral received in the period (of those ``among`` admits) with its
    groups and outcome, narrowed in SQL to plain numbers and strings (days since 1970 for dates, a
    preference code, distance inputs only where a distance is measured). The referral id comes
    first (:mod:`reports.kept`)."""
    def of_period(column: Any) -> sa.ColumnElement[bool]:
        # the referrals read: those received in the period, or just the ones named (the outer
        # query keeps them to the period; naming them on each table lets its referral index serve)
        return column.in_(_in_period(period)) if among is None else among(column)

    h = ReferralStatusChange
    first_placed = (
        sa.select(h.referral_id, sa.func.min(h.on_date).label("placed_on"))
        .where(h.to_status.in_(_PLACED), h.from_status.is_distinct_from(h.to_status), of_period(h.referral_id))
        .group_by(h.referral_id)
        .subquery("first_placed")
    )
    # the placement: the latest current assignment, else the latest one (plain aggregates: a window
    # function here makes SQLite rescan the subquery once per referral); and the referral's
    # assignments sent and declined
    current_id = sa.case((Assignment.status.in_(_CURRENT), Assignment.id))
    assignments = (
        sa.select(
            Assignment.referral_id, sa.func.min(Assignment.created_at).label("first_created"),
            sa.func.coalesce(sa.func.max(current_id), sa.func.max(Assignment.id)).label("placement_id"),
            sa.func.sum(sa.case((_sent(), 1), else_=0)).label("sent"),
            sa.func.sum(sa.case((Assignment.status == AssignmentStatus.DECLINED, 1), else_=0)).label("declined"),
        )
        .where(of_period(Assignment.referral_id))
        .group_by(Assignment.referral_id)
        .subquery("assignment_summary")
    )
    placement = aliased(Assignment, name="placement")
    unplaced = (
        sa.select(UnplacedReferral.referral_id)
        .where(of_period(UnplacedReferral.referral_id))
        .group_by(UnplacedReferral.referral_id)
        .subquery("ever_unplaced")
    )
    stated = (
        sa.select(ReferralPreference.referral_id)
        .where(of_period(ReferralPreference.referral_id))
        .group_by(ReferralPreference.referral_id)
        .subquery("stated")
    )
    honoured = aliased(ReferralPreference, name="honoured")
    placed = assignments.c.first_created.is_not(None)
    # the first day PROPOSED, SENT or ACCEPTED, else the (UTC) day the first assignment was created
    placed_day = sa.case((placed, sa.func.coalesce(day_number(first_placed.c.placed_on, dialect),
                                                   day_number(day_of(assignments.c.first_created, dialect),
                                                              dialect))))
    preference = sa.case(
        (sa.or_(~placed, stated.c.referral_id.is_(None)), _NOT_STATED),
        (honoured.rank == 1, _RANK1),
        (honoured.rank.is_not(None), _RANKED),
        else_=_NOT_HONOURED,
    )
    measured = sa.and_(placed, Service.site_based, ProviderSite.latitude.is_not(None))
    columns: list[Any] = [
        Referral.id.label("referral_id"), Member.county, Referral.service_key, placement.provider_id,
        MemberDemographics.race_ethnicity, MemberDemographics.sex,
        # the language the member needs, else the first one spoken (JSON read in SQL, not per row)
        sa.func.coalesce(Member.required_language, Member.spoken_languages[0].as_string()).label("language"),
        day_number(Referral.received_date, dialect).label("received_day"),
        day_number(Member.dob, dialect).label("dob_day"),
        placed_day.label("placed_day"),
        unplaced.c.referral_id.is_not(None).label("ever_unplaced"),
        preference.label("preference"),
        sa.case((measured, Member.latitude)).label("member_lat"),
        sa.case((measured, Member.longitude)).label("member_lon"),
        sa.case((measured, ProviderSite.latitude)).label("site_lat"),
        sa.case((measured, ProviderSite.longitude)).label("site_lon"),
        sa.func.coalesce(assignments.c.sent, 0).label("sent"),
        sa.func.coalesce(assignments.c.declined, 0).label("declined"),
        Member.id.label("member_id"), Referral.source, Service.site_based,
    ]
    found = (
        sa.select(*columns)
        .select_from(Referral)
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
    return found if among is None else found.where(among(Referral.id))


def _answers_query(period: Period, among: Among | None = None) -> sa.Select[*tuple[Any, ...]]:
    """Per referral received in the period and provider asked: its assignments sent and declined."""
    answers = sa.select(
        Assignment.referral_id, Assignment.provider_id, sa.func.sum(sa.case((_sent(), 1), else_=0)),
        sa.func.sum(sa.case((Assignment.status == AssignmentStatus.DECLINED, 1), else_=0)),
    ).group_by(Assignment.referral_id, Assignment.provider_id)
    if among is None:
        return answers.where(Assignment.referral_id.in_(_in_period(period)))
    return answers.join(Referral, Referral.id == Assignment.referral_id).where(
        among(Assignment.referral_id), Referral.received_date.between(period.start, period.end))


# preference codes of :func:`_outcomes_query`
_NOT_STATED, _NOT_HONOURED, _RANKED, _RANK1 = 0, 1, 2, 3


def _label(value: object, unknown: Sequence[str] = ()) -> str:
    """A group label: the stripped text, ``Unknown`` for missing, blank and the given codes."""
    text = "" if value is None else str(value).strip()
    return UNKNOWN if text == "" or text in unknown else text


def _grouping(values: npt.NDArray[np.object_], label: Callable[[object], str]) -> Grouping:
    """Each value's group as an index into the sorted distinct labels (labels computed once per distinct value)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    names = [label(u) for u in uniques] + [label(None)]  # the last one for the missing values (code -1)
    labels = sorted(set(names))
    index = {name: i for i, name in enumerate(labels)}
    position = np.array([index[n] for n in names], dtype=np.int64)
    return Grouping(position[codes], labels)


def _ages(dob: npt.NDArray[np.datetime64], on: npt.NDArray[np.datetime64]) -> npt.NDArray[np.float64]:
    """Age in whole years on each day (NaN where either is missing), by the birthday rule."""
    def parts(days: npt.NDArray[np.datetime64]) -> tuple[npt.NDArray[np.int64], ...]:
        years, months = days.astype("datetime64[Y]"), days.astype("datetime64[M]")
        return (years.astype(np.int64), (months - years).astype(np.int64), (days - months).astype(np.int64))

    (by, bm, bd), (y, m, d) = parts(dob), parts(on)
    before_birthday = (m < bm) | ((m == bm) & (d < bd))
    ages = (y - by - before_birthday).astype(np.float64)
    ages[np.isnat(dob) | np.isnat(on)] = np.nan
    return ages


def _band_labels(ages: npt.NDArray[np.float64]) -> npt.NDArray[np.object_]:
    """:func:`age_band` for a whole array of ages at once (NaN: unknown)."""
    lows = np.array([low for _, low in AGE_BANDS], dtype=np.float64)
    names = np.array([name for name, _ in AGE_BANDS] + [UNKNOWN], dtype=object)
    index = np.searchsorted(lows, ages, side="right") - 1  # -1 below the first band; NaN sorts past the end
    index[(index < 0) | np.isnan(ages)] = len(AGE_BANDS)
    return names[index]


@dataclass(frozen=True)
class Grouping:
    """One dimension: each referral's group, as an index into ``labels`` (sorted)."""

    codes: npt.NDArray[np.int64]
    labels: list[str]


@dataclass(frozen=True)
class Outcomes:
    """The referrals received in a period, column by column (one entry per referral): what every
    table of the report is counted from.

    ``days`` and ``distance`` are NaN where there is no value; ``sent`` and ``declined`` count the
    referral's assignments; ``provider_answers`` has, per provider that was sent any of these
    referrals, (assignments sent, declined): declines by provider go by the provider that declined.
    """

    groups: dict[str, Grouping]
    placed: npt.NDArray[np.bool_]
    unplaced: npt.NDArray[np.bool_]
    days: npt.NDArray[np.float64]
    preference_stated: npt.NDArray[np.bool_]
    preference_rank1: npt.NDArray[np.bool_]
    preference_any: npt.NDArray[np.bool_]
    distance: npt.NDArray[np.float64]
    sent: npt.NDArray[np.int64]
    declined: npt.NDArray[np.int64]
    provider_answers: dict[str, tuple[int, int]]

    @property
    def pending(self) -> npt.NDArray[np.bool_]:
        return ~self.placed & ~self.unplaced


@dataclass(frozen=True)
class _Columns:
    """The outcome rows as columns: the :class:`Outcomes` but for the answers by provider, and the
    per-referral columns only :func:`referral_outcomes` shows (as read)."""

    outcomes: Outcomes
    extra: dict[str, npt.NDArray[Any]]


def _columns(found: list[Row], calendar: HolidayCalendar) -> _Columns:
    """Rows of :func:`_outcomes_query` as :class:`_Columns` (plain numbers and strings in, numpy out)."""
    width = 21
    table = np.array(found, dtype=object) if found else np.empty((0, width), dtype=object)
    columns: list[npt.NDArray[np.object_]] = [table[:, i] for i in range(width)]
    (referral_id, county, service, provider, race, sex, language, received_day, dob_day, placed_day, ever_unplaced,
     preference, member_lat, member_lon, site_lat, site_lon, sent, declined, member_id, source, site_based) = columns

    def numbers(values: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
        return values.astype(np.float64)  # None -> NaN

    def days(values: npt.NDArray[np.object_]) -> npt.NDArray[np.datetime64]:
        found = numbers(values)
        result = np.full(found.shape, np.datetime64("NaT"), dtype="datetime64[D]")
        ok = ~np.isnan(found)
        result[ok] = found[ok].astype(np.int64).astype("datetime64[D]")
        return result

    received, placed_on = days(received_day), days(placed_day)
    placed = ~np.isnat(placed_on)
    business = np.full(len(found), np.nan)
    business[placed] = calendar.business_days_between_days(received[placed], placed_on[placed])
    pref = preference.astype(np.int64)
    distance = np.full(len(found), np.nan)
    lat = numbers(site_lat)
    measured = ~np.isnan(lat)
    distance[measured] = haversine_miles(numbers(member_lat)[measured], numbers(member_lon)[measured], lat[measured],
                                         numbers(site_lon)[measured])
    bands = _band_labels(_ages(days(dob_day), received))
    groups = {
        "county": _grouping(county, str),
        "service": _grouping(service, str),
        "provider": _grouping(provider, lambda v: NO_PROVIDER if v is None else str(v)),
        "race_ethnicity": _grouping(race, _label),
        "language": _grouping(language, _label),
        "sex": _grouping(sex, lambda v: _label(v, ("U",))),
        "age_band": _grouping(bands, str),
    }
    outcomes = Outcomes(
        groups=groups, placed=placed, unplaced=~placed & ever_unplaced.astype(bool), days=business,
        preference_stated=pref != _NOT_STATED, preference_rank1=pref == _RANK1,
        preference_any=(pref == _RANK1) | (pref == _RANKED), distance=distance,
        sent=sent.astype(np.int64), declined=declined.astype(np.int64), provider_answers={},
    )
    extra = {"referral_id": referral_id, "member_id": member_id, "source": source, "site_based": site_based,
             "received": received, "placed_on": placed_on}
    return _Columns(outcomes, extra)


_PER_REFERRAL = ("placed", "unplaced", "days", "preference_stated", "preference_rank1", "preference_any", "distance",
                 "sent", "declined")


def _patch_columns(calendar: HolidayCalendar) -> Patch[_Columns]:
    """Patch :class:`_Columns` where rows changed: the changed rows made into columns alone, written
    over the old ones at their positions. A group label the old columns lack needs a new order of
    labels: then None, and the columns are built anew."""
    def patch(previous: _Columns, _old: list[Row], rows: list[Row], positions: list[int]) -> _Columns | None:
        part = _columns([rows[i] for i in positions], calendar)
        at = np.array(positions, dtype=np.int64)

        def put(old: npt.NDArray[Any], new: npt.NDArray[Any]) -> npt.NDArray[Any]:
            out = old.copy()
            out[at] = new
            return out

        groups = {}
        for name, grouping in previous.outcomes.groups.items():
            index = {label: i for i, label in enumerate(grouping.labels)}
            sub = part.outcomes.groups[name]
            codes = np.array([index.get(label, -1) for label in sub.labels], dtype=np.int64)[sub.codes]
            if (codes < 0).any():
                return None
            groups[name] = Grouping(put(grouping.codes, codes), grouping.labels)
        o, q = previous.outcomes, part.outcomes
        outcomes = Outcomes(groups=groups, provider_answers={},
                            **{name: put(getattr(o, name), getattr(q, name)) for name in _PER_REFERRAL})
        return _Columns(outcomes, {name: put(column, part.extra[name]) for name, column in previous.extra.items()})
    return patch


# answers by provider: provider -> [rows, assignments sent, declined]
_Answers = dict[str, list[int]]


def _answer_totals(found: list[Row]) -> _Answers:
    """Rows of :func:`_answers_query` summed by provider."""
    if not found:
        return {}
    asked = np.array(found, dtype=object)
    code, providers = pd.factorize(asked[:, 1])
    rows_of = np.bincount(code, minlength=len(providers))
    sent_to, declined_by = (np.bincount(code, weights=asked[:, i].astype(np.float64), minlength=len(providers))
                            .round().astype(np.int64) for i in (2, 3))
    return {str(p): [int(r), int(n), int(d)]
            for p, r, n, d in zip(providers, rows_of, sent_to, declined_by, strict=True)}


def _patch_answer_totals(previous: _Answers, old: list[Row], rows: list[Row], positions: list[int]) -> _Answers:
    """The old rows at ``positions`` taken out of the totals, the new ones put in."""
    totals = {provider: list(counts) for provider, counts in previous.items()}
    for i in positions:
        for row, sign in ((old[i], -1), (rows[i], 1)):
            counts = totals.setdefault(str(row[1]), [0, 0, 0])
            counts[0] += sign
            counts[1] += sign * int(row[2])
            counts[2] += sign * int(row[3])
    return {provider: counts for provider, counts in totals.items() if counts[0]}


def _read_outcomes(session: Session, period: Period, calendar: HolidayCalendar,
                   rows: RowSource = fresh_rows) -> tuple[Outcomes, dict[str, Any]]:
    """Read :func:`_outcomes_query` and the answers (:func:`_answers_query`) through ``rows`` and
    build the :class:`Outcomes`; also the per-referral columns only :func:`referral_outcomes` shows.
    A source that keeps its rows keeps these columns too, patched where rows changed
    (:func:`reports.kept.derived`)."""
    dialect = session.get_bind().dialect.name
    columns = derived(rows, session, ("equity.outcomes", period),
                      fetch_query(lambda among: _outcomes_query(period, dialect, among)),
                      ("equity.columns", calendar), lambda found: _columns(found, calendar), _patch_columns(calendar))
    answers = derived(rows, session, ("equity.answers", period),
                      fetch_query(lambda among: _answers_query(period, among)), "equity.answers", _answer_totals,
                      _patch_answer_totals)
    outcomes = replace(columns.outcomes, provider_answers={p: (n, d) for p, (_, n, d) in answers.items()})
    return outcomes, columns.extra


def referral_outcomes(session: Session, period: Period, *, calendar: HolidayCalendar | None = None,
                      rows: RowSource = fresh_rows) -> pd.DataFrame:
    """Return one row per referral received in ``period``: its groups and outcomes (two queries).

    Columns: referral_id, member_id, received_date, month, county, service, source, provider,
    race_ethnicity, sex, language, age_band, outcome (placed/unplaced/pending), placed_on,
    days_to_placement, preference_stated, preference_rank1, preference_any, site_based,
    distance_miles (NaN unless a site-based placement with a site).

    :raise csmatch.calendar.CalendarRangeError: if a receipt or placement falls in a year without
        holiday data.
    """
    o, extra = _read_outcomes(session, period, calendar or default_calendar(), rows)

    def labels(name: str) -> npt.NDArray[np.object_]:
        return np.array(o.groups[name].labels, dtype=object)[o.groups[name].codes]

    def dates(days: npt.NDArray[np.datetime64]) -> list[dt.date | None]:
        return [None if np.isnat(d) else d.astype(dt.date) for d in days]

    received = extra["received"]
    out = pd.DataFrame({
        "referral_id": pd.Series(list(extra["referral_id"]), dtype=object),
        "member_id": list(extra["member_id"]),
        "received_date": pd.Series(dates(received), dtype=object),
        "month": pd.Series(np.datetime_as_string(received.astype("datetime64[M]")), dtype=object),
        **{name: labels(name) for name in ("county", "service")},
        "source": pd.Series([str(s) for s in extra["source"]], dtype=object),
        **{name: labels(name) for name in ("provider", "race_ethnicity", "sex", "language", "age_band")},
        "outcome": np.where(o.placed, "placed", np.where(o.unplaced, "unplaced", "pending")),
        "placed_on": pd.Series(dates(extra["placed_on"]), dtype=object),
        "days_to_placement": pd.array(o.days, dtype="Float64"),
        "preference_stated": o.preference_stated,
        "preference_rank1": o.preference_rank1,
        "preference_any": o.preference_any,
        "site_based": extra["site_based"].astype(bool),
        "distance_miles": o.distance,
    })
    return out.astype({c: "category" for c in ("month", *DIMENSIONS)})


def _quantiles(groups: npt.NDArray[np.int64], values: npt.NDArray[np.float64], size: int,
               qs: Sequence[float]) -> tuple[npt.NDArray[np.int64], list[npt.NDArray[np.float64]]]:
    """Per group, the count of non-NaN values and their quantiles ``qs``: pandas' groupby quantile
    (linear interpolation) for all groups at once, with the same arithmetic, so the same figures."""
    ok = ~np.isnan(values)
    g, v = groups[ok], values[ok]
    order = np.lexsort((v, g))
    g, v = g[order], v[order]
    n = np.bincount(g, minlength=size)
    first = np.concatenate(([0], np.cumsum(n)[:-1])).astype(np.int64)
    found = n > 0
    results = []
    for q in qs:
        position = q * (n - 1).astype(np.float64)  # as pandas: q * (n - 1), truncated, and its fraction
        low = position.astype(np.int64)
        fraction = position % 1
        out = np.full(size, np.nan)
        at = first[found] + low[found]
        value = v[at]
        following = v[np.minimum(at + 1, first[found] + n[found] - 1)]
        out[found] = np.where(fraction[found] == 0.0, value, value + (following - value) * fraction[found])
        results.append(out)
    return n, results


def _ratio(num: npt.NDArray[np.int64], den: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _distinct(code: npt.NDArray[np.int64], space: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``np.unique(code, return_inverse=True)`` for codes in ``[0, space)``: the sorted distinct codes
    and each value's index among them, counted instead of sorted when the space is small (a group
    code is a few thousand at most; a sort per table was a fifth of the report's Python)."""
    if space > 4 * len(code) + 4096:
        keys, inverse = np.unique(code, return_inverse=True)
        return keys.astype(np.int64), inverse.reshape(-1).astype(np.int64)
    present = np.bincount(code, minlength=space) > 0
    keys = np.flatnonzero(present).astype(np.int64)
    position = np.cumsum(present, dtype=np.int64) - 1  # index of each present code among the present ones
    return keys, position[code]


def equity_table(outcomes: Outcomes, by: Sequence[str]) -> pd.DataFrame:
    """Return the measures of the module docstring per group of ``by`` (dimensions of ``outcomes``),
    one row per group that has a referral (by provider, also per provider that was sent one),
    sorted by the group labels.

    Declines by provider go by the provider that declined; by any other dimension, by the
    referral's group.
    """
    by = list(by)
    o = outcomes
    code = np.zeros(len(o.placed), dtype=np.int64)
    space = 1
    for name in by:
        grouping = o.groups[name]
        code = code * len(grouping.labels) + grouping.codes
        space *= len(grouping.labels)
    keys, g = _distinct(code, space)
    size = len(keys)

    def total(values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
        return np.bincount(g, weights=values, minlength=size).round().astype(np.int64)

    labels: dict[str, npt.NDArray[np.object_]] = {}
    rest = keys
    for name in reversed(by):
        names = np.array(o.groups[name].labels, dtype=object)
        labels[name] = names[rest % len(names)]
        rest = rest // len(names)
    days_n, (days_median, days_p90) = _quantiles(g, o.days, size, (0.5, 0.9))
    distance_n, (distance_median, distance_p90) = _quantiles(g, o.distance, size, (0.5, 0.9))
    measured = ~np.isnan(o.distance)
    # pandas' mean (compensated summation), over the measured values only
    distance_mean = (pd.Series(o.distance[measured]).groupby(g[measured]).mean()
                     .reindex(range(size)).to_numpy(dtype=np.float64))
    table = pd.DataFrame({
        **{name: labels[name] for name in by},
        "referrals": np.bincount(g, minlength=size).astype(np.int64),
        "placed": total(o.placed), "unplaced": total(o.unplaced), "pending": total(o.pending),
        "days_n": days_n.astype(np.int64), "days_median": days_median, "days_p90": days_p90,
        "preference_stated": total(o.preference_stated), "preference_rank1": total(o.preference_rank1),
        "preference_any": total(o.preference_any),
        "distance_n": distance_n.astype(np.int64), "distance_median_miles": distance_median,
        "distance_p90_miles": distance_p90, "distance_mean_miles": distance_mean,
        "assignments_sent": total(o.sent), "assignments_declined": total(o.declined),
    })
    if "provider" in by:
        # an unplaced referral has no provider: no placement rate; declines by the provider asked
        if by != ["provider"]:
            raise ValueError("provider is a dimension of its own, not a stratum")
        table = table.set_index("provider").reindex(sorted(set(table["provider"]) | set(o.provider_answers)))
        counts = [c for c in table.columns if c in _COUNTS]
        table[counts] = table[counts].fillna(0).astype(np.int64)
        answers = [o.provider_answers.get(p, (0, 0)) for p in table.index]
        table["assignments_sent"] = np.array([a[0] for a in answers], dtype=np.int64)
        table["assignments_declined"] = np.array([a[1] for a in answers], dtype=np.int64)
        table = table.rename_axis("provider").reset_index()
    table["decided"] = table["placed"] + table["unplaced"]
    table["placement_rate"] = np.nan if "provider" in by else _ratio(table["placed"].to_numpy(),
                                                                      table["decided"].to_numpy())
    table["preference_rank1_rate"] = _ratio(table["preference_rank1"].to_numpy(), table["preference_stated"].to_numpy())
    table["preference_any_rate"] = _ratio(table["preference_any"].to_numpy(), table["preference_stated"].to_numpy())
    table["decline_rate"] = _ratio(table["assignments_declined"].to_numpy(), table["assignments_sent"].to_numpy())
    return table


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
        rows = [(self.period.label, *(getattr(f, name) for name in FLAG_COLUMNS[1:])) for f in self.flags]
        return pd.DataFrame(rows, columns=list(FLAG_COLUMNS))


def _rate_columns(table: pd.DataFrame, dimension: str) -> tuple[list[str], dict[str, list[int]]]:
    """A table's groups and the counts the four-fifths flag reads, as plain lists (sliced per stratum)."""
    names = {name for pair in RATE_MEASURES.values() for name in pair}
    return [str(g) for g in table[dimension]], {name: table[name].to_numpy().tolist() for name in names}


def _flags(groups: list[str], counts: dict[str, list[int]], dimension: str, stratum_by: str, stratum: str,
           min_group_size: int, alpha: float) -> list[FourFifthsResult]:
    results: list[FourFifthsResult] = []
    for measure, (hits, total) in RATE_MEASURES.items():
        if dimension == "provider" and measure == "placement_rate":
            continue
        found = [GroupCount(g, int(n), int(s)) for g, n, s in zip(groups, counts[total], counts[hits], strict=True)]
        results.extend(four_fifths(found, dimension=dimension, stratum_by=stratum_by, stratum=stratum, measure=measure,
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
    rows: RowSource = fresh_rows,
) -> EquityReport:
    """Build the equity report of ``period`` (7003 VI.B.4, VI.I.1.a.3): two queries (through
    ``rows``), then numpy.

    One table per dimension plan-wide, and one per member group within each value of each of
    ``strata`` (e.g. race/ethnicity within each county); the four-fifths flag on each table.

    :raise ValueError: for an unknown dimension or stratum (provider is no stratum).
    """
    unknown = [d for d in (*dimensions, *strata) if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown dimension(s) {unknown!r}; choose from {', '.join(DIMENSIONS)}")
    if "provider" in strata:
        raise ValueError("provider is a dimension of its own, not a stratum")
    outcomes, _ = _read_outcomes(session, period, calendar or default_calendar(), rows)
    tables: list[pd.DataFrame] = []
    flags: list[FourFifthsResult] = []
    for dimension in dimensions:
        table = equity_table(outcomes, [dimension])
        tables.append(table.assign(dimension=dimension, group=table[dimension], stratum_by="", stratum=""))
        flags.extend(_flags(*_rate_columns(table, dimension), dimension, "", "", min_group_size, alpha))
    for stratum_by in strata:
        for dimension in (d for d in dimensions if d in MEMBER_GROUPS and d != stratum_by):
            table = equity_table(outcomes, [stratum_by, dimension])
            tables.append(table.assign(dimension=dimension, group=table[dimension], stratum_by=stratum_by,
                                       stratum=table[stratum_by]))
            values = table[stratum_by].to_numpy()  # sorted: each stratum's rows are together
            starts = [int(i) for i in np.flatnonzero(np.r_[True, values[1:] != values[:-1]])] if len(values) else []
            groups, counts = _rate_columns(table, dimension)
            for begin, stop in zip(starts, [*starts[1:], len(values)][:len(starts)], strict=True):
                flags.extend(_flags(groups[begin:stop], {k: v[begin:stop] for k, v in counts.items()}, dimension,
                                    stratum_by, str(values[begin]), min_group_size, alpha))
    measures = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    measures["period"] = period.label
    measures = measures.reindex(columns=list(MEASURE_COLUMNS))
    return EquityReport(period=period, measures=measures, flags=flags, min_group_size=min_group_size, alpha=alpha)
