"""Timeliness and network gaps."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, render_template, request
from sqlalchemy.orm import Session

from matcher.reasons import UnplacedReason
from web.audit import audit
from web.cache import cached, kept_rows
from web.charts import bar_chart
from web.common import ArgError, choice_arg, date_arg, page_request, today
from web.db import get_session
from web.queue.services import counties
from web.queue.services import services as service_choices
from web.reports import services
from web.security import PLAN_READ, roles_required

bp = Blueprint("reports", __name__, url_prefix="/reports")

DEFAULT_WINDOW_DAYS = 365


@bp.get("/timeliness")
@roles_required(PLAN_READ)
def timeliness() -> str:
    """Share sent within 10 business days and answered within 2, by month, county, service or
    provider; and the aging of referrals still waiting for a provider."""
    session = get_session()
    as_of = today()
    try:
        by = choice_arg(request.args, "by", services.DIMENSIONS) or "month"
        end = date_arg(request.args, "end") or as_of
        start = date_arg(request.args, "start") or end - dt.timedelta(days=DEFAULT_WINDOW_DAYS)
    except ArgError as exc:
        abort(400, description=str(exc))
    if start > end:
        abort(400, description=f"start ({start}) is after end ({end}).")
    rows = timeliness_rows(session, by, start, end, as_of)
    names: dict[str, str] = {}
    if by == "provider":
        names = services.provider_names(session, [r.group for r in rows])
    charts = []
    if by == "month" and rows:
        charts = [
            ("Referred to a provider within 10 business days of receipt (7003 VI.C.3)",
             bar_chart([(r.group, r.sent_share) for r in rows], title="Sent within 10 business days",
                       value_format="{:.0%}", top=1)),
            ("Provider answered within 2 business days (7003 VI.C.3.a–c)",
             bar_chart([(r.group, r.answered_share) for r in rows], title="Answered within 2 business days",
                       value_format="{:.0%}", top=1)),
        ]
    ages = aging(session, as_of)
    aging_chart = bar_chart(ages, title="Referrals waiting for a provider, by business days since receipt",
                            highlight=[label not in ("0–5", "6–10") for label, _ in ages])
    return render_template("reports/timeliness.html", rows=rows, by=by, start=start, end=end, names=names,
                           charts=charts, aging_chart=aging_chart, ages=ages, dimensions=services.DIMENSIONS)


def timeliness_rows(session: Session, by: str, start: dt.date, end: dt.date,
                    as_of: dt.date) -> list[services.TimelinessRow]:
    """The page's figures, kept while the data stand (:mod:`web.cache`), from kept clock rows."""
    return cached(session, ("timeliness", by, start, end, as_of),
                  lambda: services.timeliness(session, by, start, end, as_of, rows=kept_rows))


def aging(session: Session, as_of: dt.date) -> list[tuple[str, int]]:
    return cached(session, ("aging", as_of), lambda: services.aging(session, as_of))


def warm_timeliness(session: Session) -> None:
    """The page as it first opens (by month, the last year), for the report warmer."""
    as_of = today()
    timeliness_rows(session, "month", as_of - dt.timedelta(days=DEFAULT_WINDOW_DAYS), as_of, as_of)
    aging(session, as_of)


@bp.get("/gaps")
@roles_required(PLAN_READ)
def gaps() -> str:
    """Unplaced referrals by county × service with their reasons, and the list with nearby providers."""
    session = get_session()
    county = request.args.get("county") or None
    service = request.args.get("service") or None
    try:
        reason = choice_arg(request.args, "reason", [r.value for r in UnplacedReason])
        unplaced = services.unplaced_list(session, page_request(), today(), county=county, service=service,
                                          reason=reason)
    except ArgError as exc:
        abort(400, description=str(exc))
    matrix_counties, matrix_services, cells = services.gap_matrix(session)
    nearby_ids = {str(site.get("provider_id")) for u in unplaced.items for site in _nearby(u.detail)}
    audit("unplaced.list", "referral", "gaps", referral_ids=[u.referral_id for u in unplaced.items])
    return render_template(
        "reports/gaps.html", unplaced=unplaced, matrix_counties=matrix_counties, matrix_services=matrix_services,
        cells=cells, county=county, service=service, reason=reason, nearby=_nearby,
        row_totals={c: sum(v.count for k, v in cells.items() if k[0] == c) for c in matrix_counties},
        column_totals={s: sum(v.count for k, v in cells.items() if k[1] == s) for s, _ in matrix_services},
        provider_names=services.provider_names(session, sorted(nearby_ids)),
        counties=[(c, c) for c in counties(session)], services=service_choices(session),
        reasons=[(r.value, r.value.replace("_", " ").lower()) for r in UnplacedReason],
    )


def _nearby(detail: object) -> list[dict[str, object]]:
    """The providers that would take the member if they had room (``detail["nearest"]``, written by
    :mod:`placement.services`)."""
    if not isinstance(detail, dict):
        return []
    found = detail.get("nearest") or []
    return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []
