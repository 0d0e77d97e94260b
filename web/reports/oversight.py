"""The oversight reports as pages and CSV downloads: equity (7003 VI.B.4, VI.I.1.a.3), utilization and
referrals (VI.I.1.a.1).

Every figure comes from the report services (:mod:`reports.equity`, :mod:`reports.oversight`), the
same ones ``csmatch report ...`` writes its CSV files from, and every download is that file byte for
byte (``docs/reports.md`` lists the columns). These views only pick the period and the table to
show, put names on ids and draw the charts.

A period is ``?quarter=2026Q4``, or ``?start=`` and ``?end=`` (both days included); without
either, the quarter that contains today. Each page view and each download is audited: the equity
report reads every member's race/ethnicity, sex, language and age in the period.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pandas as pd
import sqlalchemy as sa
from flask import Response, abort, render_template, request
from markupsafe import Markup
from sqlalchemy.orm import Session

from csmatch.calendar import CalendarRangeError
from csmatch.models import Service
from providers.models import Provider
from reports.common import Period
from reports.equity import DIMENSIONS, MEMBER_GROUPS, EquityReport, equity_report
from reports.fourfifths import (
    CHI_SQUARE,
    DEFAULT_ALPHA,
    DEFAULT_MIN_GROUP_SIZE,
    FISHER,
    FOUR_FIFTHS,
    FourFifthsResult,
)
from reports.oversight import (
    EVENTS,
    capacity_in_force,
    referral_counts,
    referral_events,
    referral_summary,
    utilization,
)
from web.audit import audit
from web.cache import cached, kept_rows
from web.charts import grouped_bar_chart, hbar_chart
from web.common import ArgError, Page, PageRequest, choice_arg, date_arg, page_request, positive_int, today
from web.db import get_session
from web.reports.views import bp
from web.security import PLAN_READ, roles_required

__all__ = ["Scope", "period_from_args"]

DIMENSION_LABELS = {"county": "County", "service": "Service", "provider": "Provider",
                    "race_ethnicity": "Race/ethnicity", "language": "Language", "sex": "Sex", "age_band": "Age band"}
MEASURE_LABELS = {"placement_rate": "placement rate", "preference_rank1_rate": "placed with the first choice",
                  "preference_any_rate": "placed with a provider the member chose"}
TEST_LABELS = {FISHER: "Fisher's exact", CHI_SQUARE: "chi-square (Yates)"}
STRATA = ("county", "service")
UTILIZATION_BY = ("county", "provider")
REFERRAL_BY = ("month", "county", "service", "provider", "source")


# --- the period and other arguments --------------------------------------------------------------

def period_from_args(args: Mapping[str, str], on: dt.date) -> Period:
    """The period of ``?quarter=`` or ``?start=&end=``; the quarter containing ``on`` without either.

    :raise ArgError: for a malformed quarter or date, both kinds given, one end missing, or start after end.
    """
    quarter = (args.get("quarter") or "").strip()
    start, end = date_arg(args, "start"), date_arg(args, "end")
    if quarter:
        if start is not None or end is not None:
            raise ArgError("quarter", "give a quarter, or start and end, not both")
        try:
            return Period.quarter(quarter)
        except ValueError as exc:
            raise ArgError("quarter", str(exc)) from None
    if start is None and end is None:
        return Period.quarter(f"{on.year}Q{(on.month - 1) // 3 + 1}")
    if start is None or end is None:
        raise ArgError("start" if start is None else "end", "give both start and end (or a quarter)")
    if start > end:
        raise ArgError("end", f"{end} is before start {start}")
    return Period(start, end)


def _period_query(period: Period) -> dict[str, str]:
    """The query-string arguments that name ``period`` again (for links and downloads)."""
    if ".." not in period.label:
        return {"quarter": period.label}
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}


def _alpha(args: Mapping[str, str]) -> float:
    raw = args.get("alpha")
    if not raw:
        return DEFAULT_ALPHA
    try:
        value = float(raw)
    except ValueError:
        raise ArgError("alpha", f"must be a number, not {raw!r}") from None
    if not 0 < value < 1:
        raise ArgError("alpha", f"must be between 0 and 1, not {raw}")
    return value


def _csv_text(session: Session, key: Hashable, frame: Callable[[], pd.DataFrame]) -> tuple[str, int]:
    """The CSV text of a report table, written as ``csmatch report`` writes its files
    (:func:`reports.cli.write_csv`), and its row count; kept like the table itself (:mod:`web.cache`):
    writing tens of thousands of rows as text costs more than reading the kept table."""
    def write() -> tuple[str, int]:
        table = frame()
        return table.to_csv(index=False, date_format="%Y-%m-%d", float_format="%.6g"), len(table)

    return cached(session, ("csv", key), write)


def _csv(body: str, name: str, period: Period) -> Response:
    """``body`` as the CSV download ``name`` of ``period``."""
    filename = f"{name}_{period.label.replace('..', '_to_')}.csv"
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _bad_request(exc: ArgError | CalendarRangeError) -> NoReturn:
    abort(400, description=str(exc))


def _provider_names(session: Session, ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    return dict(session.execute(sa.select(Provider.id, Provider.name).where(Provider.id.in_(wanted))).tuples().all())


def _service_names(session: Session) -> dict[str, str]:
    return dict(session.execute(sa.select(Service.key, Service.name).order_by(Service.name)).tuples().all())


def _plain(value: Any) -> Any:
    """A frame cell as the template wants it: None for NaN/NA, Python numbers."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


# --- equity --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """Which tables of the equity report a page shows: plan-wide (``by`` empty), or the member
    groups within one county or service."""

    by: str = ""
    value: str = ""

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The member groups first (what the review is for), then the plan's own dimensions."""
        return MEMBER_GROUPS if self.by else (*MEMBER_GROUPS, *(d for d in DIMENSIONS if d not in MEMBER_GROUPS))

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Scope:
        chosen = [(s, args[s]) for s in STRATA if args.get(s)]
        if len(chosen) > 1:
            raise ArgError("county", "choose a county or a service, not both")
        return cls(*chosen[0]) if chosen else cls()


@dataclass
class EquityTable:
    """One dimension's table on the page, with its chart and four-fifths results."""

    dimension: str
    title: str
    rows: list[dict[str, Any]]
    chart: Markup | None = None
    best: FourFifthsResult | None = None
    flagged: dict[str, list[str]] = field(default_factory=dict)  # group -> measures flagged
    page: Page[dict[str, Any]] | None = None  # by provider: one page of the rows (thousands of providers)


def _equity_options(args: Mapping[str, str]) -> tuple[int, float]:
    """``?min_group_size=`` and ``?alpha=`` of the four-fifths review, or their defaults."""
    return positive_int(args, "min_group_size", DEFAULT_MIN_GROUP_SIZE), _alpha(args)


def _equity_report(session: Session, period: Period, args: Mapping[str, str]) -> EquityReport:
    min_group_size, alpha = _equity_options(args)
    return cached(session, ("equity", period, min_group_size, alpha),
                  lambda: equity_report(session, period, min_group_size=min_group_size, alpha=alpha,
                                        rows=kept_rows))


def _utilization(session: Session, period: Period, by: str) -> pd.DataFrame:
    return cached(session, ("utilization", period, by), lambda: utilization(session, period, by=by, rows=kept_rows))


def _referral_events(session: Session, period: Period) -> pd.DataFrame:
    return cached(session, ("referral_events", period), lambda: referral_events(session, period, rows=kept_rows))


def _referral_counts(session: Session, period: Period, by: str) -> pd.DataFrame:
    """What the page shows: counts by month and ``by`` (not the CSV file's finest grain)."""
    return cached(session, ("referral_counts", period, by),
                  lambda: referral_counts(session, period, ("month", by), rows=kept_rows))


def _capacity_in_force(session: Session, period: Period) -> pd.DataFrame:
    return cached(session, ("capacity_in_force", period), lambda: capacity_in_force(session, period))


def warm_reports(session: Session) -> None:
    """Compute, through the app's caches, what compliance opens first: this quarter's equity review,
    utilization by county and referrals by month, and the referral file. The report warmer calls it
    (:func:`web.cache.warm_reports`) so that the first reader after a start or a write finds them
    ready (the pages' results, and the referral file's text)."""
    period = period_from_args({}, today())
    _equity_report(session, period, {})
    _utilization(session, period, "county")
    _capacity_in_force(session, period)
    _referral_counts(session, period, "month")
    _csv_text(session, ("referrals", period), lambda: _referral_events(session, period))


def _equity_tables(report: EquityReport, scope: Scope, names: Mapping[str, Mapping[str, str]],
                   page: PageRequest) -> list[EquityTable]:
    """The tables of ``scope``; by provider, only ``page`` of its rows (all of them are in the CSV file)."""
    m = report.measures
    in_scope = m[(m["stratum_by"] == scope.by) & (m["stratum"].fillna("") == scope.value)]
    tables = []
    for dimension in scope.dimensions:
        frame = in_scope[in_scope["dimension"] == dimension]
        total = len(frame)
        if dimension == "provider":
            frame = frame.iloc[page.offset:page.offset + page.per_page]
        rows = _records(frame)
        for row in rows:
            row["label"] = names.get(dimension, {}).get(str(row["group"]), str(row["group"]))
        shown = Page(items=rows, page=page.page, per_page=page.per_page, total=total) if dimension == "provider" \
            else None
        results = [f for f in report.flags if f.dimension == dimension and f.stratum_by == scope.by
                   and f.stratum == scope.value]
        table = EquityTable(dimension, DIMENSION_LABELS[dimension], rows, page=shown)
        for f in results:
            if f.flagged:
                table.flagged.setdefault(f.group, []).append(MEASURE_LABELS[f.measure])
        placement = [f for f in results if f.measure == "placement_rate"]
        if placement:
            table.best = placement[0]
        if dimension != "provider" and rows:
            table.chart = _placement_chart(table, {f.group for f in placement if f.flagged})
        tables.append(table)
    return tables


def _placement_chart(table: EquityTable, flagged: set[str]) -> Markup:
    """Placement rate per group, flagged groups in red, and the four-fifths line of the best group."""
    reference = None
    if table.best is not None:
        line = float(FOUR_FIFTHS) * table.best.best_rate
        reference = (line, f"four fifths of {table.best.best_group}'s {table.best.best_rate:.0%} = {line:.0%}")
    return hbar_chart([(r["label"], r["placement_rate"]) for r in table.rows],
                      title=f"Placement rate by {table.title.lower()}", value_format="{:.0%}", top=1,
                      highlight=[str(r["group"]) in flagged for r in table.rows], reference=reference)


def _below_four_fifths(report: EquityReport) -> tuple[list[FourFifthsResult], int]:
    """The comparisons below four fifths that were tested and not significant (by p-value), and how
    many more were below it but too small to test."""
    four_fifths = float(FOUR_FIFTHS)  # for a float ratio, < 0.8 is < 4/5 exactly: no float lies between them
    below = [f for f in report.flags if f.ratio is not None and f.ratio < four_fifths]
    tested = [f for f in below if f.test is not None]
    not_significant = sorted((f for f in tested if not f.flagged), key=lambda f: f.p_value or 0.0)
    return not_significant, len(below) - len(tested)


@bp.get("/equity")
@roles_required(PLAN_READ)
def equity() -> str:
    """Outcomes by member group, county, service and provider, with the four-fifths review (7003 VI.B.4)."""
    session = get_session()
    try:
        period = period_from_args(request.args, today())
        scope = Scope.from_args(request.args)
        page = page_request()
        report = _equity_report(session, period, request.args)
    except (ArgError, CalendarRangeError) as exc:
        _bad_request(exc)
    m = report.measures
    services = _service_names(session)
    names = {"service": services, "provider": _provider_names(session, m.loc[m["dimension"] == "provider", "group"])}
    tables = _equity_tables(report, scope, names, page)
    not_significant, untested = _below_four_fifths(report)
    totals = tables[0].rows if tables else []
    referrals = sum(int(r["referrals"]) for r in totals)
    audit("report.view", "report", "equity", period=period.label, reads="member_demographics", referrals=referrals,
          scope=f"{scope.by}={scope.value}" if scope.by else "plan")
    strata = {s: sorted(str(v) for v in m.loc[m["stratum_by"] == s, "stratum"].dropna().unique()) for s in STRATA}
    return render_template(
        "reports/equity.html", period=period, query=_period_query(period), report=report, scope=scope, tables=tables,
        not_significant=not_significant, untested=untested, names=names, dimension_labels=DIMENSION_LABELS,
        measure_labels=MEASURE_LABELS, test_labels=TEST_LABELS,
        totals={k: sum(int(r[k]) for r in totals) for k in ("referrals", "decided", "placed", "unplaced", "pending")},
        counties=[(c, c) for c in strata["county"]], services=[(s, services.get(s, s)) for s in strata["service"]],
        min_group_size=report.min_group_size, alpha=report.alpha,
    )


@bp.get("/equity.csv")
@roles_required(PLAN_READ)
def equity_csv() -> Response:
    """``equity_measures.csv`` of ``csmatch report equity`` for the period."""
    return _equity_download("equity_measures", lambda report: report.measures)


@bp.get("/equity_flags.csv")
@roles_required(PLAN_READ)
def equity_flags_csv() -> Response:
    """``equity_flags.csv`` of ``csmatch report equity`` for the period."""
    return _equity_download("equity_flags", lambda report: report.flags_frame())


def _equity_download(name: str, table: Callable[[EquityReport], pd.DataFrame]) -> Response:
    session = get_session()
    try:
        period = period_from_args(request.args, today())
        body, rows = _csv_text(session, (name, period, *_equity_options(request.args)),
                               lambda: table(_equity_report(session, period, request.args)))
    except (ArgError, CalendarRangeError) as exc:
        _bad_request(exc)
    audit("report.download", "report", "equity", period=period.label, file=f"{name}.csv",
          reads="member_demographics", rows=rows)
    return _csv(body, name, period)


# --- utilization ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceUse:
    """One service's units committed and contracted capacity on each month's snapshot, plan-wide."""

    service: str
    name: str
    months: dict[str, tuple[int, int, float | None]]  # month -> (committed, capacity, share)


def _service_use(committed: pd.DataFrame, capacity: pd.DataFrame, services: Mapping[str, str]) -> list[ServiceUse]:
    """Per service and month, plan-wide: the units committed (summed over counties or providers: each
    assignment counts once in either) against the capacity in force (each contract once)."""
    units = committed.groupby(["service", "month"], sort=True)[["units_committed"]].sum()
    in_force = capacity.groupby(["service", "month"], sort=True)[["contracted_capacity"]].sum()
    sums = units.join(in_force, how="outer").fillna(0).astype("int64")
    found: dict[str, dict[str, tuple[int, int, float | None]]] = {}
    for service, month, held, in_force_then in sums.reset_index().itertuples(index=False, name=None):
        found.setdefault(str(service), {})[str(month)] = (int(held), int(in_force_then),
                                                          int(held) / int(in_force_then) if in_force_then else None)
    return [ServiceUse(key, services.get(key, key), months) for key, months in found.items()]


def _utilization_chart(uses: list[ServiceUse], month: str) -> Markup | None:
    """Utilization per service on the period's last snapshot."""
    if not uses:
        return None
    bars = [(u.name, u.months.get(month, (0, 0, None))[2]) for u in uses]
    highest = max((v for _, v in bars if v is not None), default=0.0)
    return hbar_chart(bars, title=f"Utilization by service, {month}", value_format="{:.0%}",
                      top=1.0 if highest <= 1 else None, highlight=[v is not None and v >= 1 for _, v in bars])


@bp.get("/utilization")
@roles_required(PLAN_READ)
def utilization_page() -> str:
    """Contracted capacity, units committed and members served per month × service × county or
    provider (7003 VI.I.1.a.1.a)."""
    session = get_session()
    services = _service_names(session)
    try:
        period = period_from_args(request.args, today())
        by = choice_arg(request.args, "by", UTILIZATION_BY) or "county"
        service = choice_arg(request.args, "service", list(services))
        page = page_request()
    except ArgError as exc:
        _bad_request(exc)
    frame = _utilization(session, period, by)
    capacity = _capacity_in_force(session, period)
    shown = frame[frame["service"] == service] if service else frame
    # a page of the rows: by provider, three months of every contract are thousands (the CSV has them all)
    shown = shown.iloc[page.offset:page.offset + page.per_page]
    rows = _records(shown)
    table = Page(items=rows, page=page.page, per_page=page.per_page,
                 total=int((frame["service"] == service).sum()) if service else len(frame))
    uses = _service_use(frame, capacity, services)
    months = [label for label, _, _ in period.months()]
    audit("report.view", "report", "utilization", period=period.label, by=by, service=service)
    return render_template(
        "reports/utilization.html", period=period, query=_period_query(period), by=by, service=service, rows=rows,
        table=table,
        uses=uses, months=months, chart=_utilization_chart(uses, months[-1]), services=services,
        dimensions=UTILIZATION_BY,
        providers=_provider_names(session, shown["provider"]) if by == "provider" else {},
    )


@bp.get("/utilization.csv")
@roles_required(PLAN_READ)
def utilization_csv() -> Response:
    """``utilization.csv`` (``?by=county``, the default) or ``utilization_by_provider.csv`` (``?by=provider``)."""
    try:
        period = period_from_args(request.args, today())
        by = choice_arg(request.args, "by", UTILIZATION_BY) or "county"
    except ArgError as exc:
        _bad_request(exc)
    name = "utilization" if by == "county" else "utilization_by_provider"
    session = get_session()
    body, rows = _csv_text(session, (name, period), lambda: _utilization(session, period, by))
    audit("report.download", "report", "utilization", period=period.label, file=f"{name}.csv", rows=rows)
    return _csv(body, name, period)


# --- referrals -----------------------------------------------------------------------------------

def _referral_chart(events: pd.DataFrame, period: Period) -> Markup:
    """Referrals received, sent, accepted, declined and unplaced, per month of the period."""
    months = [label for label, _, _ in period.months()]
    monthly = referral_summary(events, ["month"]).set_index("month") if not events.empty else pd.DataFrame()
    counts = monthly.reindex(index=months, columns=list(EVENTS), fill_value=0)
    series = [(event.lower(), [float(v) for v in counts[event]]) for event in EVENTS]
    return grouped_bar_chart(months, series, title="Referrals per month, by event")


@bp.get("/referrals")
@roles_required(PLAN_READ)
def referrals_page() -> str:
    """Referrals received, sent, accepted, declined and unplaced, by month, county, service, provider
    or source, with the reasons (7003 VI.I.1.a.1.c)."""
    session = get_session()
    try:
        period = period_from_args(request.args, today())
        by = choice_arg(request.args, "by", REFERRAL_BY) or "month"
    except ArgError as exc:
        _bad_request(exc)
    events = _referral_counts(session, period, by)
    rows = []
    if not events.empty:
        summary = referral_summary(events, [by])
        if by == "month":  # every month of the period, quiet ones too
            months = [label for label, _, _ in period.months()]
            summary = summary.set_index("month").reindex(months, fill_value=0).rename_axis("month").reset_index()
        rows = _records(summary)
    reasons = events[events["event"].isin(["DECLINED", "UNPLACED"])]
    reasons = reasons.groupby(["event", "reason"], sort=True)["count"].sum().reset_index()
    names: dict[str, str] = {}
    if by == "provider":
        names = _provider_names(session, events["provider"])
    elif by == "service":
        names = _service_names(session)
    audit("report.view", "report", "referrals", period=period.label, by=by)
    return render_template(
        "reports/referrals.html", period=period, query=_period_query(period), by=by, rows=rows, names=names,
        events=EVENTS, reasons=_records(reasons), chart=_referral_chart(events, period),
        dimensions=REFERRAL_BY, totals={e: int(events.loc[events["event"] == e, "count"].sum()) for e in EVENTS},
    )


@bp.get("/referrals.csv")
@roles_required(PLAN_READ)
def referrals_csv() -> Response:
    """``referrals.csv`` of ``csmatch report referrals``: tidy counts at the finest grain."""
    try:
        period = period_from_args(request.args, today())
    except ArgError as exc:
        _bad_request(exc)
    session = get_session()
    body, rows = _csv_text(session, ("referrals", period), lambda: _referral_events(session, period))
    audit("report.download", "report", "referrals", period=period.label, file="referrals.csv", rows=rows)
    return _csv(body, "referrals", period)
