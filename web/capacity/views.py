"""The capacity board, capacity changes over time, and recording a report for a provider."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from accounts.models import Role
from capacity.models import CapacityReportKind
from web.audit import actor, audit
from web.capacity import services
from web.common import ArgError, choice_arg, date_arg, page_request, today
from web.db import get_session
from web.domain import refusals
from web.queue.services import counties
from web.queue.services import services as service_choices
from web.security import PLAN_READ, roles_required

bp = Blueprint("capacity", __name__, url_prefix="/capacity")

RECORD_FOR_PROVIDERS = frozenset({Role.PROVIDER_RELATIONS, Role.ADMIN})
DEFAULT_CHART_DAYS = 120


@bp.get("/")
@roles_required(PLAN_READ)
def board() -> str:
    """Per provider × service: contracted, committed and open units, full flag, report age; silent
    providers and full contracts first, a page at a time."""
    session = get_session()
    county = request.args.get("county") or None
    service = request.args.get("service") or None
    provider_id = request.args.get("provider") or None
    try:
        show = choice_arg(request.args, "show", list(services.BOARD_SHOW))
        board = services.board_page(session, today(), page_request(), county=county, service=service,
                                    provider_id=provider_id, show=show)
    except ArgError as exc:
        abort(400, description=str(exc))
    from web.providers.services import provider_choices

    return render_template("capacity/board.html", board=board, rows=board.page.items, county=county,
                           service=service, provider_id=provider_id, show=show,
                           counties=[(c, c) for c in counties(session)], services=service_choices(session),
                           providers=provider_choices(session), shows=list(services.BOARD_SHOW.items()))


@bp.get("/changes")
@roles_required(PLAN_READ)
def changes() -> str:
    """Capacity over time (a chart per service) and the report timeline, per provider or county."""
    session = get_session()
    provider_id = request.args.get("provider") or None
    county = None if provider_id else (request.args.get("county") or None)
    try:
        end = date_arg(request.args, "end") or today()
        start = date_arg(request.args, "start") or end - dt.timedelta(days=DEFAULT_CHART_DAYS)
        timeline = services.report_timeline(session, page_request(), provider_id=provider_id, county=county)
    except ArgError as exc:
        abort(400, description=str(exc))
    charts = services.history_charts(session, provider_id=provider_id, county=county, start=start, end=end) \
        if (provider_id or county) else []
    from web.providers.services import provider_choices

    return render_template("capacity/changes.html", charts=charts, timeline=timeline, provider_id=provider_id,
                           start=start, end=end,
                           county=county, providers=provider_choices(session),
                           counties=[(c, c) for c in counties(session)])


@bp.post("/reports")
@roles_required(RECORD_FOR_PROVIDERS)
def record() -> Response:
    """Record a capacity or staffing report on behalf of a provider (e.g. phoned in)."""
    session = get_session()
    back = request.form.get("back") or url_for("capacity.board")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("capacity.board")
    data, errors = services.parse_report(request.form, today())
    if data is None:
        flash("Not recorded: " + "; ".join(f"{e['pointer'][2:]} {e['detail']}" for e in errors), "error")
        return redirect(back)
    try:
        outcome = services.submit_report(session, data, actor=actor(), as_of=today())
    except refusals() as exc:
        session.rollback()
        flash(f"Not recorded: {exc}", "error")
        return redirect(back)
    audit("capacity_report.create", "contract", data.contract_id, report_id=outcome.recorded.report.id,
          kind=data.kind.value, on_behalf=True)
    flash(outcome.message(), "success")
    return redirect(back)


KINDS = [(k.value, k.value.replace("_", " ").lower()) for k in CapacityReportKind]
