"""Solver runs: a list, and each run's trigger, figures and decisions."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from placement.models import RunTrigger
from web.audit import audit
from web.common import ArgError, choice_arg, page_request
from web.db import get_session
from web.runs import services
from web.security import PLAN_READ, roles_required

bp = Blueprint("runs", __name__, url_prefix="/runs")


@bp.get("/")
@roles_required(PLAN_READ)
def index() -> str:
    """Runs, newest first, optionally of one trigger."""
    try:
        trigger = choice_arg(request.args, "trigger", [t.value for t in RunTrigger])
        page = services.list_runs(get_session(), page_request(), trigger)
    except ArgError as exc:
        abort(400, description=str(exc))
    return render_template("runs/index.html", page=page, trigger=trigger,
                           triggers=[(t.value, t.value.replace("_", " ").lower()) for t in RunTrigger])


@bp.get("/<int:run_id>")
@roles_required(PLAN_READ)
def detail(run_id: int) -> str:
    """One run: what triggered it, its figures, its assignments and unplaced referrals.

    :raise 404: if there is no run with that id.
    """
    session = get_session()
    summary = services.run_summary(session, run_id)
    if summary is None:
        abort(404, description=f"No solver run {run_id}.")
    try:
        assignments = services.run_assignments(session, run_id, page_request())
    except ArgError as exc:
        abort(400, description=str(exc))
    unplaced = services.run_unplaced(session, run_id, page_request({"per_page": "50"}))
    audit("solver_run.view", "solver_run", run_id, referral_ids=[a.referral_id for a in assignments.items])
    return render_template("runs/detail.html", summary=summary, assignments=assignments, unplaced=unplaced)
