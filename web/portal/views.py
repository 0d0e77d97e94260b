"""The provider portal. Everything is scoped to the signed-in user's organisation: another
organisation's referral or assignment answers 404, exactly as one that does not exist."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from placement.models import Assignment, AssignmentStatus
from referrals.lifecycle import DeclineReason
from web import domain
from web.audit import actor, audit
from web.capacity import services as capacity_services
from web.capacity.views import KINDS
from web.common import choice_arg, page_request, today
from web.db import get_session
from web.queue import services as queue_services
from web.queue.forms import parse_filters
from web.security import PROVIDER_ONLY, current_user, roles_required

bp = Blueprint("portal", __name__, url_prefix="/portal")

# An assignment's status as the provider reads it.
STATUS_LABELS = {
    AssignmentStatus.SENT.value: "waiting for your answer",
    AssignmentStatus.ACCEPTED.value: "accepted",
    AssignmentStatus.DECLINED.value: "declined",
    AssignmentStatus.SUPERSEDED.value: "withdrawn by the plan",
    AssignmentStatus.WITHDRAWN.value: "withdrawn by the plan",
    AssignmentStatus.ENDED.value: "ended",
}

DECLINE_REASONS = [
    (DeclineReason.AT_CAPACITY.value, "We are at full capacity"),
    (DeclineReason.NOT_ELIGIBLE.value, "Member not eligible for our program"),
    (DeclineReason.OUT_OF_AREA.value, "Member outside our service area"),
    (DeclineReason.OTHER.value, "Other (say why)"),
]


def _own_provider() -> str:
    provider_id = current_user().provider_id
    if provider_id is None:  # the users table forbids it; belt and braces
        abort(403, description="This account belongs to no provider.")
    return provider_id


def _own_assignment(assignment_id: int) -> Assignment:
    """The provider's own sent assignment.

    :raise 404: if there is none with that id for this organisation.
    """
    assignment = get_session().scalar(sa.select(Assignment).where(
        Assignment.id == assignment_id, Assignment.provider_id == _own_provider(), Assignment.sent_on.is_not(None)))
    if assignment is None:
        abort(404, description=f"No referral assignment {assignment_id} for your organisation.")
    return assignment


@bp.get("/")
@roles_required(PROVIDER_ONLY)
def index() -> str:
    """The organisation's referrals (oldest first) with their clocks, and its capacity now."""
    provider_id = _own_provider()
    session = get_session()
    show = choice_arg(request.args, "show", ("waiting", "all")) or "waiting"
    filters = parse_filters(request.args, provider_id=provider_id)
    if show == "waiting":
        filters = dataclasses.replace(filters, provider_status=AssignmentStatus.SENT)
    page = queue_services.list_referrals(session, filters, page_request(), today())
    audit("referral.list", "referral", "portal", filters=filters.as_dict(),
          referral_ids=[r.referral_id for r in page.items])
    return render_template("portal/index.html", page=page, filters=filters, show=show, status_labels=STATUS_LABELS,
                           rows=capacity_services.board(session, today(), provider_id=provider_id),
                           decline_reasons=DECLINE_REASONS)


@bp.get("/referrals/<referral_id>")
@roles_required(PROVIDER_ONLY)
def referral(referral_id: str) -> str:
    """One of the organisation's referrals.

    :raise 404: if there is none with that id sent to this organisation.
    """
    detail = queue_services.referral_detail(get_session(), referral_id, today(), provider_id=_own_provider())
    if detail is None:
        abort(404, description=f"No referral {referral_id!r} for your organisation.")
    audit("referral.view", "referral", referral_id)
    return render_template("portal/referral.html", detail=detail, decline_reasons=DECLINE_REASONS,
                           status_labels=STATUS_LABELS)


@bp.post("/assignments/<int:assignment_id>/accept")
@roles_required(PROVIDER_ONLY)
def accept(assignment_id: int) -> Response:
    """Accept a referral sent to the organisation (7003 VI.C.3.a).

    :raise 404: if the assignment is not the organisation's.
    """
    assignment = _own_assignment(assignment_id)
    if assignment.status is not AssignmentStatus.SENT:
        flash(f"Referral {assignment.referral_id} is {assignment.status.value.lower()}, not waiting for you.", "error")
        return redirect(url_for("portal.index"))
    session = get_session()
    try:
        domain.provider_accept(session, assignment_id, actor=actor(), as_of=today())
    except domain.ServiceUnavailable as exc:
        abort(503, description=str(exc))
    except domain.refusals() as exc:
        session.rollback()
        flash(f"Not accepted: {exc}", "error")
        return redirect(url_for("portal.index"))
    audit("assignment.accept", "assignment", assignment_id, referral_id=assignment.referral_id)
    flash(f"Referral {assignment.referral_id} accepted. Please contact the member and send weekly updates.",
          "success")
    return redirect(url_for("portal.index"))


@bp.post("/assignments/<int:assignment_id>/decline")
@roles_required(PROVIDER_ONLY)
def decline(assignment_id: int) -> Response:
    """Decline a referral (full capacity, or another reason); the plan re-refers the member.

    :raise 404: if the assignment is not the organisation's.
    """
    assignment = _own_assignment(assignment_id)
    reason = request.form.get("reason", "")
    note = request.form.get("note", "").strip()
    if reason not in {r for r, _ in DECLINE_REASONS}:
        flash("Choose why you decline.", "error")
        return redirect(url_for("portal.index"))
    if reason == DeclineReason.OTHER.value and not note:
        flash("Say why you decline (the reason 'other' needs a note).", "error")
        return redirect(url_for("portal.index"))
    if assignment.status is not AssignmentStatus.SENT:
        flash(f"Referral {assignment.referral_id} is {assignment.status.value.lower()}, not waiting for you.", "error")
        return redirect(url_for("portal.index"))
    session = get_session()
    try:
        declined = domain.decline(session, assignment_id, reason=reason, note=note, actor=actor(), as_of=today())
    except domain.ServiceUnavailable as exc:
        abort(503, description=str(exc))
    except domain.refusals() as exc:
        session.rollback()
        flash(f"Not declined: {exc}", "error")
        return redirect(url_for("portal.index"))
    audit("assignment.decline", "assignment", assignment_id, referral_id=assignment.referral_id, reason=reason,
          note=note)
    message = f"Referral {assignment.referral_id} declined; the plan re-refers the member."
    if declined.full_report_id is not None:
        message += " Your contract is now reported full: no new referrals until you report again."
    if declined.run is not None:
        run = declined.run
        message += (f" Re-solve run {run.id}: {run.moved} referral(s) moved, {run.newly_placed} newly placed, "
                    f"{run.unplaced} unplaced.")
    flash(message, "success")
    return redirect(url_for("portal.index"))


@bp.get("/capacity")
@roles_required(PROVIDER_ONLY)
def capacity() -> str:
    """The organisation's capacity now, the report form, and its past reports."""
    provider_id = _own_provider()
    session = get_session()
    return render_template(
        "portal/capacity.html", rows=capacity_services.board(session, today(), provider_id=provider_id),
        contracts=capacity_services.contracts_of(session, provider_id), kinds=KINDS,
        timeline=capacity_services.report_timeline(session, page_request({"per_page": "20"}), provider_id=provider_id),
        report_action=url_for("portal.report"),
    )


@bp.post("/capacity")
@roles_required(PROVIDER_ONLY)
def report() -> Response:
    """Report a capacity or staffing change (7003 VI.E.6); a FULL report re-solves at once.

    :raise 404: if the contract is not the organisation's.
    """
    session = get_session()
    data, errors = capacity_services.parse_report(request.form, today())
    if data is None:
        flash("Not recorded: " + "; ".join(f"{e['pointer'][2:]} {e['detail']}" for e in errors), "error")
        return redirect(url_for("portal.capacity"))
    try:
        outcome = capacity_services.submit_report(session, data, actor=actor(), as_of=today(),
                                                  provider_id=_own_provider())
    except capacity_services.NotYourContract:
        abort(404, description=f"No contract {data.contract_id!r} for your organisation.")
    except domain.refusals() as exc:
        session.rollback()
        flash(f"Not recorded: {exc}", "error")
        return redirect(url_for("portal.capacity"))
    audit("capacity_report.create", "contract", data.contract_id, report_id=outcome.recorded.report.id,
          kind=data.kind.value)
    flash(outcome.message(), "success")
    return redirect(url_for("portal.capacity"))
