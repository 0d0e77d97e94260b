"""The provider roster: a list, and each provider's sites, contracts, capacity and reports."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, render_template, request, url_for

from accounts.models import Role
from web.capacity import services as capacity_services
from web.capacity.views import DEFAULT_CHART_DAYS, KINDS, RECORD_FOR_PROVIDERS
from web.common import ArgError, page_request, today
from web.db import get_session
from web.providers import services
from web.queue.services import counties
from web.queue.services import services as service_choices
from web.security import PLAN_READ, current_user, roles_required

bp = Blueprint("providers", __name__, url_prefix="/providers")


@bp.get("/")
@roles_required(PLAN_READ)
def index() -> str:
    """Providers by name, filtered by county, service or a search."""
    session = get_session()
    try:
        page = services.list_providers(session, page_request(), county=request.args.get("county") or None,
                                       service=request.args.get("service") or None,
                                       q=request.args.get("q") or None)
    except ArgError as exc:
        abort(400, description=str(exc))
    return render_template("providers/index.html", page=page, counties=[(c, c) for c in counties(session)],
                           services=service_choices(session))


@bp.get("/<provider_id>")
@roles_required(PLAN_READ)
def detail(provider_id: str) -> str:
    """A provider: sites, contracts with their positions, capacity chart and recent reports.

    :raise 404: if there is no provider with that id.
    """
    session = get_session()
    provider = services.get_provider(session, provider_id)
    if provider is None:
        abort(404, description=f"No provider {provider_id!r}.")
    rows = capacity_services.board(session, today(), provider_id=provider_id)
    timeline = capacity_services.report_timeline(session, page_request({"per_page": "20"}), provider_id=provider_id)
    charts = capacity_services.history_charts(session, provider_id=provider_id,
                                              start=today() - dt.timedelta(days=DEFAULT_CHART_DAYS), end=today())
    can_record = current_user().role in RECORD_FOR_PROVIDERS and current_user().role is not Role.PROVIDER
    return render_template("providers/detail.html", provider=provider, rows=rows, timeline=timeline, charts=charts,
                           can_record=can_record, contracts=capacity_services.contracts_of(session, provider_id),
                           kinds=KINDS, report_action=url_for("capacity.record"))
