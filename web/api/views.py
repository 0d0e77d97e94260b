"""The JSON API, ``/api/v1``: the same services as the pages, the same roles and scoping.

Authenticate with ``Authorization: Bearer <token>`` (``csmatch user token EMAIL``) or the
dashboard's session cookie (then unsafe methods need the ``X-CSRF-Token`` header). Lists take
``page`` and ``per_page`` and answer ``{"items", "page", "per_page", "total", "links"}``. Errors
are RFC 9457 problem details (:mod:`web.api.problems`). A provider user sees only its own
organisation: anything else answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, jsonify, request, url_for
from werkzeug.wrappers import Response

from accounts.models import Role
from capacity.ledger import CapacityExceeded, UnknownContract, capacity_positions
from capacity.services import CapacityReportError
from placement.models import Assignment, AssignmentStatus, RunTrigger
from referrals.lifecycle import DeclineReason, LifecycleError
from web import domain
from web.api import serializers
from web.api.openapi import openapi_document
from web.api.problems import Problem, validation_problem
from web.audit import actor, audit
from web.capacity import services as capacity_services
from web.common import Page, args_with, choice_arg, page_request, positive_int, today
from web.db import get_session
from web.providers import services as provider_services
from web.queue import services as queue_services
from web.queue.forms import parse_filters
from web.runs import services as run_services
from web.security import COORDINATE, PLAN_READ, PROVIDER_ONLY, current_user, roles_required

bp = Blueprint("api", __name__, url_prefix="/api/v1")

EVERYONE = frozenset(Role)
CAPACITY_WRITERS = frozenset({Role.PROVIDER_RELATIONS, Role.ADMIN, Role.PROVIDER})
OVERRIDE_REASON_MIN = 10


# --- helpers -------------------------------------------------------------------------------------


def _scope() -> str | None:
    """The provider a provider user is confined to; None for plan staff."""
    user = current_user()
    return user.provider_id if user.role is Role.PROVIDER else None


def _paginated(page: Page[Any], items: list[dict[str, Any]], endpoint: str) -> Response:
    def link(number: int) -> str:
        return url_for(endpoint, **args_with(page=number, per_page=page.per_page))

    return jsonify({
        "items": items, "page": page.page, "per_page": page.per_page, "total": page.total,
        "links": {
            "self": link(page.page),
            "next": link(page.page + 1) if page.has_next else None,
            "prev": link(page.page - 1) if page.has_prev else None,
        },
    })


def _json_body() -> dict[str, Any]:
    """The request's JSON object.

    :raise Problem 415: if the body is not ``application/json``.
    :raise Problem 400: if it is not a JSON object.
    """
    if not request.is_json:
        raise Problem(415, "Send the body as application/json.")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Problem(400, "The body is not a JSON object.")
    return data


def _refused(exc: Exception) -> Problem:
    """A domain service's refusal as a problem: a bad field is 422, a state that forbids it 409."""
    get_session().rollback()
    if isinstance(exc, CapacityReportError):
        return validation_problem([{"pointer": f"#/{exc.field}", "detail": str(exc)}])
    if isinstance(exc, UnknownContract):
        return validation_problem([{"pointer": "#/contract_id", "detail": str(exc)}])
    if isinstance(exc, CapacityExceeded | LifecycleError):
        return Problem(409, str(exc), kind="invalid-state")
    return Problem(409, str(exc), kind="invalid-state")


def _unavailable(exc: domain.ServiceUnavailable) -> Problem:
    return Problem(503, str(exc), kind="unavailable")


# --- the document ----------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API (no sign-in needed)."""
    return jsonify(openapi_document())


# --- referrals -------------------------------------------------------------------------------------


@bp.get("/referrals")
@roles_required(EVERYONE)
def referrals() -> Response:
    """Referrals filtered by county, service, status and overdue; a provider sees its own only."""
    scope = _scope()
    filters = parse_filters(request.args, provider_id=scope)
    page = queue_services.list_referrals(get_session(), filters, page_request(), today())
    audit("referral.list", "referral", "api", filters=filters.as_dict(), page=page.page,
          referral_ids=[r.referral_id for r in page.items])
    return _paginated(page, [serializers.referral_row(r) for r in page.items], "api.referrals")


@bp.get("/referrals/<referral_id>")
@roles_required(EVERYONE)
def referral(referral_id: str) -> Response:
    """One referral with its assignments (and, for plan staff, history and unplaced records).

    :raise 404: if there is no such referral, or it was never sent to the provider user's organisation.
    """
    scope = _scope()
    detail = queue_services.referral_detail(get_session(), referral_id, today(), provider_id=scope)
    if detail is None:
        raise Problem(404, f"No referral {referral_id!r}.")
    audit("referral.view", "referral", referral_id)
    return jsonify(serializers.referral_detail(detail, for_provider=scope is not None))


# --- providers and capacity --------------------------------------------------------------------------


@bp.get("/providers")
@roles_required(EVERYONE)
def providers() -> Response:
    """Providers by name, filtered by county, service or ``q``; a provider sees itself only."""
    page = provider_services.list_providers(
        get_session(), page_request(), county=request.args.get("county") or None,
        service=request.args.get("service") or None, q=request.args.get("q") or None, provider_id=_scope(),
    )
    return _paginated(page, [serializers.provider(r.provider, r.services, r.counties) for r in page.items],
                      "api.providers")


@bp.get("/providers/<provider_id>")
@roles_required(EVERYONE)
def provider(provider_id: str) -> Response:
    """One provider with its sites.

    :raise 404: if there is none with that id (or it is another organisation than the user's).
    """
    scope = _scope()
    found = None if scope not in (None, provider_id) else provider_services.get_provider(get_session(), provider_id)
    if found is None:
        raise Problem(404, f"No provider {provider_id!r}.")
    page = provider_services.list_providers(get_session(), page_request({"per_page": "1"}), provider_id=provider_id)
    row = page.items[0]
    return jsonify(serializers.provider(found, row.services, row.counties))


@bp.get("/capacity/positions")
@roles_required(EVERYONE)
def positions() -> Response:
    """Capacity positions of the contracts in effect today, filtered by provider, service or county."""
    scope = _scope()
    provider_id = scope or request.args.get("provider") or None
    found = capacity_positions(get_session(), provider_id=provider_id, service_key=request.args.get("service") or None,
                               county=request.args.get("county") or None, effective_only=True, as_of=today())
    return jsonify({"as_of": today().isoformat(), "items": [serializers.position(p) for p in found]})


@bp.get("/capacity/reports")
@roles_required(EVERYONE)
def capacity_reports() -> Response:
    """Capacity and staffing reports, newest change first, of one provider or county (or all)."""
    scope = _scope()
    page = capacity_services.report_timeline(
        get_session(), page_request(), provider_id=scope or request.args.get("provider") or None,
        county=None if scope else (request.args.get("county") or None),
    )
    return _paginated(page, [serializers.capacity_report(r) for r in page.items], "api.capacity_reports")


@bp.post("/capacity/reports")
@roles_required(CAPACITY_WRITERS)
def create_capacity_report() -> tuple[Response, int, dict[str, str]]:
    """Record a capacity or staffing report; FULL or a cut re-solves the displaced referrals.

    :raise 422: naming every invalid field (a provider naming another organisation's contract
        gets the same answer as for a contract that does not exist).
    """
    data, errors = capacity_services.parse_report(_json_body(), today())
    if data is None:
        raise validation_problem(errors)
    try:
        outcome = capacity_services.submit_report(get_session(), data, actor=actor(), as_of=today(),
                                                  provider_id=_scope())
    except capacity_services.NotYourContract:
        raise validation_problem([{"pointer": "#/contract_id",
                                   "detail": f"no contract {data.contract_id!r}"}]) from None
    except domain.refusals() as exc:
        raise _refused(exc) from None
    r = outcome.recorded
    audit("capacity_report.create", "contract", data.contract_id, report_id=r.report.id, kind=data.kind.value)
    body = {
        "report": serializers.capacity_report(r.report), "late": r.late, "due_date": r.due_date.isoformat(),
        "business_days_to_report": r.business_days_to_report, "resolve_needed": r.resolve_needed,
        "resolve_reason": r.resolve_reason, "before": serializers.position(r.before),
        "after": serializers.position(r.after),
        "resolve_run": serializers.run(outcome.run) if outcome.run is not None else None,
        "resolve_pending": outcome.resolve_pending, "message": outcome.message(),
    }
    return jsonify(body), 201, {"Location": url_for("api.capacity_reports", provider=r.report.contract.provider_id)}


# --- proposals and assignments ----------------------------------------------------------------------


@bp.post("/proposals")
@roles_required(COORDINATE)
def create_proposal() -> tuple[Response, int, dict[str, str]]:
    """Run the matcher over the open referrals; answer the run with its proposal counts."""
    session = get_session()
    try:
        run = domain.propose(session, actor=actor(), as_of=today())
    except domain.ServiceUnavailable as exc:
        raise _unavailable(exc) from None
    except domain.refusals() as exc:
        raise _refused(exc) from None
    audit("proposal.create", "solver_run", run.id)
    summary = run_services.run_summary(session, run.id)
    assert summary is not None
    return jsonify(serializers.run_summary(summary)), 201, {"Location": url_for("api.run", run_id=run.id)}


@bp.post("/proposals/<int:run_id>/accept")
@roles_required(COORDINATE)
def accept_proposal(run_id: int) -> Response:
    """Send every still-proposed assignment of the run to its provider.

    :raise 404: if there is no run with that id.
    """
    session = get_session()
    if run_services.run_summary(session, run_id) is None:
        raise Problem(404, f"No solver run {run_id}.")
    try:
        domain.accept_proposal(session, run_id, actor=actor(), as_of=today())
    except domain.ServiceUnavailable as exc:
        raise _unavailable(exc) from None
    except domain.refusals() as exc:
        raise _refused(exc) from None
    audit("proposal.accept", "solver_run", run_id)
    summary = run_services.run_summary(session, run_id)
    assert summary is not None
    return jsonify(serializers.run_summary(summary))


@bp.get("/assignments")
@roles_required(EVERYONE)
def assignments() -> Response:
    """Assignments filtered by run, status, referral or provider; a provider sees its sent ones only."""
    scope = _scope()
    status = choice_arg(request.args, "status", [s.value for s in AssignmentStatus])
    stmt = sa.select(Assignment)
    if scope:
        stmt = stmt.where(Assignment.provider_id == scope, Assignment.sent_on.is_not(None))
    elif request.args.get("provider"):
        stmt = stmt.where(Assignment.provider_id == request.args["provider"])
    if request.args.get("run"):
        stmt = stmt.where(Assignment.solver_run_id == positive_int(request.args, "run", 0))
    if request.args.get("referral"):
        stmt = stmt.where(Assignment.referral_id == request.args["referral"])
    if status:
        stmt = stmt.where(Assignment.status == status)
    session = get_session()
    page_req = page_request()
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    items = list(session.scalars(stmt.order_by(Assignment.id).limit(page_req.per_page).offset(page_req.offset)))
    page = Page(items=items, page=page_req.page, per_page=page_req.per_page, total=total)
    return _paginated(page, [serializers.assignment(a, for_provider=scope is not None) for a in items],
                      "api.assignments")


def _assignment_or_404(assignment_id: int) -> Assignment:
    scope = _scope()
    stmt = sa.select(Assignment).where(Assignment.id == assignment_id)
    if scope:
        stmt = stmt.where(Assignment.provider_id == scope, Assignment.sent_on.is_not(None))
    found = get_session().scalar(stmt)
    if found is None:
        raise Problem(404, f"No assignment {assignment_id}.")
    return found


@bp.get("/assignments/<int:assignment_id>")
@roles_required(EVERYONE)
def assignment(assignment_id: int) -> Response:
    """One assignment with the reasons that decided it (plan staff).

    :raise 404: if there is none with that id (for a provider: none sent to its organisation).
    """
    return jsonify(serializers.assignment(_assignment_or_404(assignment_id), for_provider=_scope() is not None))


@bp.post("/assignments/<int:assignment_id>/override")
@roles_required(COORDINATE)
def override(assignment_id: int) -> Response:
    """Move one proposed assignment to another contract, with a written reason.

    :raise 404: if there is no assignment with that id.
    :raise 422: if ``contract_id`` is missing or the reason is shorter than 10 characters.
    """
    found = _assignment_or_404(assignment_id)
    body = _json_body()
    errors = []
    contract_id = str(body.get("contract_id") or "").strip()
    reason = str(body.get("reason") or "").strip()
    if not contract_id:
        errors.append({"pointer": "#/contract_id", "detail": "required"})
    if len(reason) < OVERRIDE_REASON_MIN:
        errors.append({"pointer": "#/reason", "detail": f"write the reason, at least {OVERRIDE_REASON_MIN} characters"})
    if errors:
        raise validation_problem(errors)
    if found.status is not AssignmentStatus.PROPOSED:
        raise Problem(409, f"Assignment {assignment_id} is {found.status.value}; only PROPOSED ones can be overridden.",
                      kind="invalid-state")
    try:
        result = domain.override(get_session(), assignment_id, contract_id=contract_id,
                                 site_id=body.get("site_id") or None, reason=reason, actor=actor(), as_of=today())
    except domain.ServiceUnavailable as exc:
        raise _unavailable(exc) from None
    except domain.refusals() as exc:
        raise _refused(exc) from None
    audit("assignment.override", "assignment", assignment_id, referral_id=found.referral_id,
          contract_id=contract_id, reason=reason)
    return jsonify(serializers.assignment(result))


@bp.post("/assignments/<int:assignment_id>/accept")
@roles_required(PROVIDER_ONLY)
def provider_accept(assignment_id: int) -> Response:
    """The provider accepts a referral sent to it.

    :raise 404: if the assignment was not sent to the user's organisation.
    :raise 409: if it is no longer waiting for an answer.
    """
    found = _assignment_or_404(assignment_id)
    if found.status is not AssignmentStatus.SENT:
        raise Problem(409, f"Assignment {assignment_id} is {found.status.value}, not waiting for an answer.",
                      kind="invalid-state")
    try:
        found = domain.provider_accept(get_session(), assignment_id, actor=actor(), as_of=today())
    except domain.ServiceUnavailable as exc:
        raise _unavailable(exc) from None
    except domain.refusals() as exc:
        raise _refused(exc) from None
    audit("assignment.accept", "assignment", assignment_id, referral_id=found.referral_id)
    return jsonify(serializers.assignment(found, for_provider=True))


@bp.post("/assignments/<int:assignment_id>/decline")
@roles_required(PROVIDER_ONLY)
def provider_decline(assignment_id: int) -> Response:
    """The provider declines (``AT_CAPACITY``, ``NOT_ELIGIBLE``, ``OUT_OF_AREA`` or ``OTHER`` with a note).

    :raise 404: if the assignment was not sent to the user's organisation.
    :raise 409: if it is no longer waiting for an answer.
    :raise 422: for an unknown reason, or OTHER without a note.
    """
    found = _assignment_or_404(assignment_id)
    body = _json_body()
    reason = str(body.get("reason") or "")
    note = str(body.get("note") or "").strip()
    errors = []
    if reason not in {r.value for r in DeclineReason}:
        errors.append({"pointer": "#/reason", "detail": f"one of {', '.join(r.value for r in DeclineReason)}"})
    elif reason == DeclineReason.OTHER.value and not note:
        errors.append({"pointer": "#/note", "detail": "required when the reason is OTHER"})
    if errors:
        raise validation_problem(errors)
    if found.status is not AssignmentStatus.SENT:
        raise Problem(409, f"Assignment {assignment_id} is {found.status.value}, not waiting for an answer.",
                      kind="invalid-state")
    try:
        declined = domain.decline(get_session(), assignment_id, reason=reason, note=note, actor=actor(),
                                  as_of=today())
    except domain.ServiceUnavailable as exc:
        raise _unavailable(exc) from None
    except domain.refusals() as exc:
        raise _refused(exc) from None
    audit("assignment.decline", "assignment", assignment_id, referral_id=found.referral_id, reason=reason,
          note=note)
    return jsonify({"assignment": serializers.assignment(declined.assignment, for_provider=True),
                    "full_report_id": declined.full_report_id,
                    "resolve_run_id": declined.run.id if declined.run is not None else None})


# --- solver runs -----------------------------------------------------------------------------------


@bp.get("/runs")
@roles_required(PLAN_READ)
def runs() -> Response:
    """Solver runs, newest first, optionally of one trigger."""
    trigger = choice_arg(request.args, "trigger", [t.value for t in RunTrigger])
    page = run_services.list_runs(get_session(), page_request(), trigger)
    return _paginated(page, [serializers.run(r) for r in page.items], "api.runs")


@bp.get("/runs/<int:run_id>")
@roles_required(PLAN_READ)
def run(run_id: int) -> Response:
    """One run with its assignments counted by status and its unplaced referrals by reason.

    :raise 404: if there is no run with that id.
    """
    summary = run_services.run_summary(get_session(), run_id)
    if summary is None:
        raise Problem(404, f"No solver run {run_id}.")
    return jsonify(serializers.run_summary(summary))
