"""Models and service results as JSON-ready dicts (dates as ISO strings)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from capacity.ledger import CapacityPosition
from capacity.models import CapacityReport
from placement.models import Assignment, SolverRun, UnplacedReferral
from providers.models import Provider
from referrals.clocks import Clock, ReferralClocks
from web.queue.services import QueueRow, ReferralDetail
from web.runs.services import RunSummary


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def clock(c: Clock | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"policy": c.policy, "started": _iso(c.started), "due": _iso(c.due), "days_left": c.days_left,
            "overdue": c.overdue}


def clocks(c: ReferralClocks | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"send": clock(c.send), "answer": clock(c.answer), "update": clock(c.update), "next_due": _iso(c.next_due),
            "days_left": c.days_left, "overdue": c.overdue}


def referral_row(row: QueueRow) -> dict[str, Any]:
    return {
        "id": row.referral_id,
        "status": row.status.value,
        "service_key": row.service_key,
        "service_name": row.service_name,
        "received_date": _iso(row.received_date),
        "units_needed": row.units_needed,
        "post_discharge": row.post_discharge,
        "member": {"id": row.member_id, "cin": row.cin, "name": row.member_name, "county": row.county},
        "assignment": None if row.assignment_id is None else {
            "id": row.assignment_id, "status": row.assignment_status, "provider_id": row.provider_id,
            "provider_name": row.provider_name,
        },
        "clocks": clocks(row.clocks),
    }


def referral_detail(detail: ReferralDetail, *, for_provider: bool) -> dict[str, Any]:
    r = detail.referral
    body = referral_row(detail.row)
    body["member"].update({
        "address": r.member.address, "city": r.member.city, "zip": r.member.zip, "phone": r.member.phone,
        "spoken_languages": r.member.spoken_languages, "required_language": r.member.required_language,
    })
    body.update({
        "source": r.source.value,
        "discharge_date": _iso(r.discharge_date),
        "discharge_from": r.discharge_from,
        "assignments": [assignment(a, for_provider=for_provider) for a in detail.assignments],
    })
    if not for_provider:
        body["preferences"] = [{"rank": p.rank, "provider_id": p.provider_id} for p in r.preferences]
        body["history"] = [
            {"from": h.from_status.value if h.from_status else None, "to": h.to_status.value,
             "on_date": _iso(h.on_date), "actor": h.actor, "reason": h.reason, "reason_code": h.reason_code}
            for h in r.history
        ]
        body["unplaced"] = [unplaced(u) for u in detail.unplaced]
    return body


def assignment(a: Assignment, *, for_provider: bool = False) -> dict[str, Any]:
    body = {
        "id": a.id, "referral_id": a.referral_id, "provider_id": a.provider_id, "site_id": a.site_id,
        "contract_id": a.contract_id, "units": a.units, "status": a.status.value,
        "decline_reason": a.decline_reason, "sent_on": _iso(a.sent_on), "answered_on": _iso(a.answered_on),
        "created_at": _iso(a.created_at),
    }
    if not for_provider:  # the solver's reasoning names other providers: plan business
        body.update({"solver_run_id": a.solver_run_id, "cost_terms": a.cost_terms, "reasons": a.reasons,
                     "override_reason": a.override_reason, "created_by": a.created_by})
    return body


def unplaced(u: UnplacedReferral) -> dict[str, Any]:
    return {"id": u.id, "referral_id": u.referral_id, "solver_run_id": u.solver_run_id, "reason": u.reason,
            "detail": u.detail, "created_at": _iso(u.created_at), "resolved_at": _iso(u.resolved_at)}


def provider(p: Provider, services: list[str] | None = None, counties: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": p.id, "npi": p.npi, "name": p.name, "phone": p.phone, "active": p.active,
        "staff_languages": p.staff_languages, "cultural_competencies": p.cultural_competencies,
        "services": services or [], "counties": counties or [],
        "sites": [{"id": s.id, "name": s.name, "address": s.address, "city": s.city, "zip": s.zip,
                   "county": s.county, "latitude": s.latitude, "longitude": s.longitude} for s in p.sites],
    }


def position(p: CapacityPosition) -> dict[str, Any]:
    body = dataclasses.asdict(p)
    body["full_since"] = _iso(p.full_since)
    body["last_report_date"] = _iso(p.last_report_date)
    return body


def capacity_report(r: CapacityReport) -> dict[str, Any]:
    return {
        "id": r.id, "contract_id": r.contract_id, "provider_id": r.contract.provider_id, "kind": r.kind.value,
        "new_capacity": r.new_capacity, "staffing_change": r.staffing_change, "change_date": _iso(r.change_date),
        "reported_date": _iso(r.reported_date), "reported_by": r.reported_by, "note": r.note,
        "created_at": _iso(r.created_at),
    }


def run(r: SolverRun) -> dict[str, Any]:
    return {
        "id": r.id, "trigger": r.trigger.value, "trigger_ref": r.trigger_ref, "actor": r.actor,
        "started_at": _iso(r.started_at), "finished_at": _iso(r.finished_at), "status": r.status, "method": r.method,
        "referrals_considered": r.referrals_considered, "placed": r.placed, "unplaced": r.unplaced, "moved": r.moved,
        "newly_placed": r.newly_placed, "objective": r.objective, "bound": r.bound, "gap": r.gap,
        "runtime_seconds": r.runtime_seconds, "figures": r.figures,
    }


def run_summary(s: RunSummary) -> dict[str, Any]:
    body = run(s.run)
    body["assignments_by_status"] = s.assignments_by_status
    body["unplaced_by_reason"] = s.unplaced_by_reason
    return body
