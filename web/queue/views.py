"""The referral queue, a referral's page, and the proposal the lead accepts or overrides."""

from __future__ import annotations

import dataclasses

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from placement.models import Assignment, AssignmentStatus
from referrals.models import ReferralStatus
from web import domain
from web.audit import actor, audit
from web.common import ArgError, page_request, today
from web.db import get_session
from web.queue import services
from web.queue.forms import parse_filters
from web.runs.services import run_assignments, run_summary, run_unplaced
from web.security import COORDINATE, PLAN_READ, roles_required

bp = Blueprint("queue", __name__, url_prefix="/queue")

OVERRIDE_REASON_MIN = 10


@bp.get("/")
@roles_required(PLAN_READ)
def index() -> str:
    """The queue: filters, counts by status, one page of referrals with their clocks."""
    try:
        filters = parse_filters(request.args)
        page_req = page_request()
    except ArgError as exc:
        abort(400, description=str(exc))
    session = get_session()
    page = services.list_referrals(session, filters, page_req, today())
    audit("referral.list", "referral", "queue", filters=filters.as_dict(), page=page.page,
          referral_ids=[r.referral_id for r in page.items])
    overdue = page.total if filters.overdue else services.count_referrals(
        session, dataclasses.replace(filters, overdue=True), today())
    return render_template(
        "queue/index.html", page=page, filters=filters, counts=services.status_counts(session, filters, today()),
        overdue=overdue,
        counties=[(c, c) for c in services.counties(session)], services=services.services(session),
        statuses=[(s.value, s.value.replace("_", " ").lower()) for s in ReferralStatus],
    )


@bp.get("/referrals/<referral_id>")
@roles_required(PLAN_READ)
def referral(referral_id: str) -> str:
    """One referral: member, clocks, history, assignments and unplaced reasons.

    :raise 404: if there is no referral with that id.
    """
    detail = services.referral_detail(get_session(), referral_id, today())
    if detail is None:
        abort(404, description=f"No referral {referral_id!r}.")
    audit("referral.view", "referral", referral_id)
    return render_template("queue/referral.html", detail=detail)


@bp.post("/propose")
@roles_required(COORDINATE)
def propose() -> Response:
    """Run the matcher over the open referrals and show its proposal."""
    try:
        run = domain.propose(get_session(), actor=actor(), as_of=today())
    except domain.ServiceUnavailable as exc:
        abort(503, description=str(exc))
    audit("proposal.create", "solver_run", run.id)
    flash(f"Proposal {run.id}: {run.placed} placed, {run.unplaced} unplaced.", "success")
    return redirect(url_for("queue.proposal", run_id=run.id))


@bp.get("/proposals/<int:run_id>")
@roles_required(PLAN_READ)
def proposal(run_id: int) -> str:
    """A run's proposal with each assignment's explanation, and the accept and override forms.

    :raise 404: if there is no run with that id.
    """
    session = get_session()
    summary = run_summary(session, run_id)
    if summary is None:
        abort(404, description=f"No solver run {run_id}.")
    try:
        page_req = page_request()
    except ArgError as exc:
        abort(400, description=str(exc))
    assignments = run_assignments(session, run_id, page_req)
    options = services.override_options(
        session, {(a.referral.service_key, a.referral.member.county) for a in assignments.items
                  if a.status is AssignmentStatus.PROPOSED}, today())
    unplaced = run_unplaced(session, run_id, page_request({"per_page": "50"}))
    audit("proposal.view", "solver_run", run_id, referral_ids=[a.referral_id for a in assignments.items])
    return render_template("queue/proposal.html", summary=summary, assignments=assignments, options=options,
                           unplaced=unplaced, reason_min=OVERRIDE_REASON_MIN)


@bp.post("/proposals/<int:run_id>/accept")
@roles_required(COORDINATE)
def accept(run_id: int) -> Response:
    """Send every still-proposed assignment of the run to its provider.

    :raise 404: if there is no run with that id.
    """
    session = get_session()
    if run_summary(session, run_id) is None:
        abort(404, description=f"No solver run {run_id}.")
    try:
        result = domain.accept_proposal(session, run_id, actor=actor(), as_of=today())
    except domain.ServiceUnavailable as exc:
        abort(503, description=str(exc))
    except domain.refusals() as exc:
        session.rollback()
        flash(f"Not sent: {exc}", "error")
        return redirect(url_for("queue.proposal", run_id=run_id))
    audit("proposal.accept", "solver_run", run_id)
    flash(f"Proposal {run_id} accepted: {result} referral(s) sent to providers.", "success")
    return redirect(url_for("queue.proposal", run_id=run_id))


@bp.post("/assignments/<int:assignment_id>/override")
@roles_required(COORDINATE)
def override(assignment_id: int) -> Response:
    """Move one proposed assignment to another contract, with the lead's written reason.

    :raise 404: if there is no assignment with that id.
    """
    session = get_session()
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        abort(404, description=f"No assignment {assignment_id}.")
    back = url_for("queue.proposal", run_id=assignment.solver_run_id) if assignment.solver_run_id else url_for(
        "queue.referral", referral_id=assignment.referral_id)
    reason = request.form.get("reason", "").strip()
    contract_id = request.form.get("contract_id", "").strip()
    if len(reason) < OVERRIDE_REASON_MIN or not contract_id:
        flash(f"Choose a provider and write the reason (at least {OVERRIDE_REASON_MIN} characters).", "error")
        return redirect(back)
    try:
        domain.override(session, assignment_id, contract_id=contract_id, site_id=request.form.get("site_id") or None,
                        reason=reason, actor=actor(), as_of=today())
    except domain.ServiceUnavailable as exc:
        abort(503, description=str(exc))
    except domain.refusals() as exc:
        session.rollback()
        flash(f"Not moved: {exc}", "error")
        return redirect(back)
    audit("assignment.override", "assignment", assignment_id, referral_id=assignment.referral_id,
          contract_id=contract_id, reason=reason)
    flash(f"Referral {assignment.referral_id} moved to contract {contract_id}.", "success")
    return redirect(back)
