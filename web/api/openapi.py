"""The OpenAPI 3.1 document of ``/api/v1``, written by hand (a test checks that every route is in it)."""

from __future__ import annotations

from typing import Any

from capacity.models import CapacityReportKind
from placement.models import AssignmentStatus, RunTrigger
from referrals.lifecycle import DeclineReason
from referrals.models import ReferralStatus

PROBLEM_STATUSES = {
    "400": "Bad request: a malformed query parameter (with `errors`) or body",
    "401": "No valid sign-in or bearer token",
    "403": "Your role may not do this (compliance is read-only)",
    "404": "Not found, or not your organisation's",
    "405": "Method not allowed",
    "409": "The record's state does not allow this",
    "415": "The body must be application/json",
    "422": "Invalid fields, listed in `errors`",
    "503": "A service this needs is not available yet",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problems(*codes: str) -> dict[str, Any]:
    return {code: {"$ref": f"#/components/responses/Problem{code}"} for code in codes}


def _ok(schema: dict[str, Any], description: str = "OK", code: str = "200") -> dict[str, Any]:
    return {code: {"description": description, "content": {"application/json": {"schema": schema}}}}


def _page_of(name: str) -> dict[str, Any]:
    items = {"type": "object", "properties": {"items": {"type": "array", "items": _ref(name)}}}
    return {"allOf": [_ref("Page"), items]}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def _path(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


PAGING = [{"$ref": "#/components/parameters/page"}, {"$ref": "#/components/parameters/per_page"}]


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _schemas() -> dict[str, Any]:
    nullable_date = {"type": ["string", "null"], "format": "date"}
    clock = {"type": ["object", "null"], "properties": {
        "policy": {"type": "string"}, "started": {"type": "string", "format": "date"},
        "due": {"type": "string", "format": "date"}, "days_left": {"type": "integer"}, "overdue": {"type": "boolean"}}}
    return {
        "Problem": {
            "type": "object", "description": "RFC 9457 problem details",
            "required": ["type", "title", "status", "detail", "instance"],
            "properties": {
                "type": {"type": "string", "description": "about:blank, or /api/v1/problems/<kind>"},
                "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                "instance": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "object", "properties": {
                    "pointer": {"type": "string", "description": "JSON pointer into the body, e.g. #/new_capacity"},
                    "parameter": {"type": "string", "description": "query parameter"},
                    "detail": {"type": "string"}}, "required": ["detail"]}},
            },
        },
        "Page": {
            "type": "object", "required": ["items", "page", "per_page", "total", "links"],
            "properties": {
                "items": {"type": "array"}, "page": {"type": "integer"}, "per_page": {"type": "integer"},
                "total": {"type": "integer"},
                "links": {"type": "object", "properties": {
                    "self": {"type": "string"}, "next": {"type": ["string", "null"]},
                    "prev": {"type": ["string", "null"]}}},
            },
        },
        "Clocks": {"type": ["object", "null"], "properties": {
            "send": clock, "answer": clock, "update": clock, "next_due": nullable_date,
            "days_left": {"type": ["integer", "null"]}, "overdue": {"type": "boolean"}}},
        "Referral": {
            "type": "object", "properties": {
                "id": {"type": "string"}, "status": {"enum": [s.value for s in ReferralStatus]},
                "service_key": {"type": "string"}, "service_name": {"type": "string"},
                "received_date": {"type": "string", "format": "date"}, "units_needed": {"type": "integer"},
                "post_discharge": {"type": "boolean"},
                "member": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "cin": {"type": "string"}, "name": {"type": "string"},
                    "county": {"type": "string"}}},
                "assignment": {"type": ["object", "null"]}, "clocks": _ref("Clocks"),
            },
        },
        "ReferralDetail": {"allOf": [_ref("Referral"), {"type": "object", "properties": {
            "source": {"type": "string"}, "discharge_date": nullable_date,
            "assignments": {"type": "array", "items": _ref("Assignment")},
            "history": {"type": "array", "description": "plan staff only"},
            "preferences": {"type": "array", "description": "plan staff only"},
            "unplaced": {"type": "array", "description": "plan staff only"}}}]},
        "Provider": {"type": "object", "properties": {
            "id": {"type": "string"}, "npi": {"type": "string"}, "name": {"type": "string"},
            "active": {"type": "boolean"}, "staff_languages": {"type": "array", "items": {"type": "string"}},
            "services": {"type": "array", "items": {"type": "string"}},
            "counties": {"type": "array", "items": {"type": "string"}}, "sites": {"type": "array"}}},
        "CapacityPosition": {"type": "object", "properties": {
            "contract_id": {"type": "string"}, "provider_id": {"type": "string"}, "service_key": {"type": "string"},
            "contracted": {"type": "integer"}, "capacity": {"type": "integer"}, "committed": {"type": "integer"},
            "open": {"type": "integer"}, "reported_full": {"type": "boolean"}, "full_since": nullable_date,
            "last_report_date": nullable_date, "report_age_business_days": {"type": ["integer", "null"]},
            "staffing_changes": {"type": "integer"}, "last_staffing_change": {"type": ["string", "null"]},
            "waitlist_consent": {"type": "boolean"}}},
        "CapacityReport": {"type": "object", "properties": {
            "id": {"type": "integer"}, "contract_id": {"type": "string"}, "provider_id": {"type": "string"},
            "kind": {"enum": [k.value for k in CapacityReportKind]}, "new_capacity": {"type": ["integer", "null"]},
            "staffing_change": {"type": ["string", "null"]}, "change_date": {"type": "string", "format": "date"},
            "reported_date": {"type": "string", "format": "date"}, "reported_by": {"type": "string"},
            "note": {"type": "string"}}},
        "CapacityReportInput": {"type": "object", "required": ["contract_id", "kind"], "properties": {
            "contract_id": {"type": "string"}, "kind": {"enum": [k.value for k in CapacityReportKind]},
            "change_date": {"type": "string", "format": "date", "description": "default: today"},
            "new_capacity": {"type": "integer", "minimum": 0, "description": "required for NEW_CAPACITY"},
            "staffing_change": {"type": "string", "maxLength": 200, "description": "required for STAFFING_CHANGE"},
            "note": {"type": "string"}}},
        "CapacityReportOutcome": {"type": "object", "properties": {
            "report": _ref("CapacityReport"), "late": {"type": "boolean"},
            "due_date": {"type": "string", "format": "date"}, "resolve_needed": {"type": "boolean"},
            "resolve_reason": {"type": ["string", "null"]}, "before": _ref("CapacityPosition"),
            "after": _ref("CapacityPosition"), "resolve_run": {"oneOf": [_ref("Run"), {"type": "null"}]},
            "resolve_pending": {"type": "boolean"}, "message": {"type": "string"}}},
        "Assignment": {"type": "object", "properties": {
            "id": {"type": "integer"}, "referral_id": {"type": "string"}, "provider_id": {"type": "string"},
            "site_id": {"type": "string"}, "contract_id": {"type": "string"}, "units": {"type": "integer"},
            "status": {"enum": [s.value for s in AssignmentStatus]}, "sent_on": nullable_date,
            "answered_on": nullable_date, "decline_reason": {"type": ["string", "null"]},
            "solver_run_id": {"type": ["integer", "null"], "description": "plan staff only"},
            "reasons": {"type": "object", "description": "plan staff only"},
            "cost_terms": {"type": "object", "description": "plan staff only"},
            "override_reason": {"type": ["string", "null"], "description": "plan staff only"}}},
        "Run": {"type": "object", "properties": {
            "id": {"type": "integer"}, "trigger": {"enum": [t.value for t in RunTrigger]},
            "trigger_ref": {"type": ["string", "null"]}, "actor": {"type": "string"},
            "started_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"}, "status": {"type": "string"},
            "referrals_considered": {"type": "integer"}, "placed": {"type": "integer"},
            "unplaced": {"type": "integer"}, "moved": {"type": "integer"}, "newly_placed": {"type": "integer"},
            "objective": {"type": ["number", "null"]}, "bound": {"type": ["number", "null"]},
            "gap": {"type": ["number", "null"]}, "runtime_seconds": {"type": ["number", "null"]},
            "figures": {"type": "object"}}},
        "RunSummary": {"allOf": [_ref("Run"), {"type": "object", "properties": {
            "assignments_by_status": {"type": "object", "additionalProperties": {"type": "integer"}},
            "unplaced_by_reason": {"type": "object", "additionalProperties": {"type": "integer"}}}}]},
    }


def openapi_document() -> dict[str, Any]:
    """Return the document served at ``/api/v1/openapi.json``."""
    referral_filters = [
        _query("county", "member's county"), _query("service", "service key"),
        _query("status", "referral status", {"enum": [s.value for s in ReferralStatus]}),
        _query("overdue", "only referrals with an overdue clock", {"type": "boolean"}),
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "csmatch API", "version": "1",
            "description": "Referrals for CalAIM Community Supports, providers, capacity, proposals and solver "
                           "runs. Provider users see only their organisation's records; anything else is 404.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                                             "responses": _ok({"type": "object"})}},
            "/api/v1/referrals": {"get": {
                "summary": "List referrals", "parameters": referral_filters + PAGING,
                "responses": {**_ok(_page_of("Referral")), **_problems("400", "401")}}},
            "/api/v1/referrals/{referral_id}": {"get": {
                "summary": "One referral", "parameters": [_path("referral_id")],
                "responses": {**_ok(_ref("ReferralDetail")), **_problems("401", "404")}}},
            "/api/v1/providers": {"get": {
                "summary": "List providers",
                "parameters": [_query("county", "has a contract there"), _query("service", "has a contract for it"),
                               _query("q", "name, id or NPI")] + PAGING,
                "responses": {**_ok(_page_of("Provider")), **_problems("400", "401")}}},
            "/api/v1/providers/{provider_id}": {"get": {
                "summary": "One provider", "parameters": [_path("provider_id")],
                "responses": {**_ok(_ref("Provider")), **_problems("401", "404")}}},
            "/api/v1/capacity/positions": {"get": {
                "summary": "Capacity positions of contracts in effect today",
                "parameters": [_query("provider", "provider id"), _query("service", "service key"),
                               _query("county", "county served")],
                "responses": {**_ok({"type": "object", "properties": {
                    "as_of": {"type": "string", "format": "date"},
                    "items": {"type": "array", "items": _ref("CapacityPosition")}}}), **_problems("401")}}},
            "/api/v1/capacity/reports": {
                "get": {"summary": "Capacity and staffing reports, newest first",
                        "parameters": [_query("provider", "provider id"), _query("county", "county served")] + PAGING,
                        "responses": {**_ok(_page_of("CapacityReport")), **_problems("400", "401")}},
                "post": {"summary": "Record a capacity or staffing report (7003 VI.E.6); FULL re-solves",
                         "requestBody": _body(_ref("CapacityReportInput")),
                         "responses": {**_ok(_ref("CapacityReportOutcome"), "Recorded", "201"),
                                       **_problems("400", "401", "403", "415", "422")}},
            },
            "/api/v1/proposals": {"post": {
                "summary": "Run the matcher and store a proposal",
                "responses": {**_ok(_ref("RunSummary"), "Proposed", "201"), **_problems("401", "403", "503")}}},
            "/api/v1/proposals/{run_id}/accept": {"post": {
                "summary": "Send every still-proposed assignment of a run", "parameters": [_path("run_id", "integer")],
                "responses": {**_ok(_ref("RunSummary")), **_problems("401", "403", "404", "409", "503")}}},
            "/api/v1/assignments": {"get": {
                "summary": "List assignments",
                "parameters": [_query("run", "solver run id", {"type": "integer"}),
                               _query("status", "assignment status", {"enum": [s.value for s in AssignmentStatus]}),
                               _query("referral", "referral id"), _query("provider", "provider id")] + PAGING,
                "responses": {**_ok(_page_of("Assignment")), **_problems("400", "401")}}},
            "/api/v1/assignments/{assignment_id}": {"get": {
                "summary": "One assignment", "parameters": [_path("assignment_id", "integer")],
                "responses": {**_ok(_ref("Assignment")), **_problems("401", "404")}}},
            "/api/v1/assignments/{assignment_id}/override": {"post": {
                "summary": "Move a proposed assignment to another contract, with a written reason",
                "parameters": [_path("assignment_id", "integer")],
                "requestBody": _body({"type": "object", "required": ["contract_id", "reason"], "properties": {
                    "contract_id": {"type": "string"}, "site_id": {"type": "string"},
                    "reason": {"type": "string", "minLength": 10}}}),
                "responses": {**_ok(_ref("Assignment")),
                              **_problems("400", "401", "403", "404", "409", "415", "422", "503")}}},
            "/api/v1/assignments/{assignment_id}/accept": {"post": {
                "summary": "The provider accepts a referral sent to it",
                "parameters": [_path("assignment_id", "integer")],
                "responses": {**_ok(_ref("Assignment")), **_problems("401", "403", "404", "409", "503")}}},
            "/api/v1/assignments/{assignment_id}/decline": {"post": {
                "summary": "The provider declines a referral; it is re-referred",
                "parameters": [_path("assignment_id", "integer")],
                "requestBody": _body({"type": "object", "required": ["reason"], "properties": {
                    "reason": {"enum": [r.value for r in DeclineReason]},
                    "note": {"type": "string", "description": "required for OTHER"}}}),
                "responses": {**_ok({"type": "object", "properties": {
                    "assignment": _ref("Assignment"), "full_report_id": {"type": ["integer", "null"]},
                    "resolve_run_id": {"type": ["integer", "null"]}}}),
                    **_problems("400", "401", "403", "404", "409", "415", "422", "503")}}},
            "/api/v1/runs": {"get": {
                "summary": "Solver runs, newest first",
                "parameters": [_query("trigger", "what started the run", {"enum": [t.value for t in RunTrigger]})]
                + PAGING,
                "responses": {**_ok(_page_of("Run")), **_problems("400", "401", "403")}}},
            "/api/v1/runs/{run_id}": {"get": {
                "summary": "One solver run", "parameters": [_path("run_id", "integer")],
                "responses": {**_ok(_ref("RunSummary")), **_problems("401", "403", "404")}}},
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "csmatch user token EMAIL"},
                "session": {"type": "apiKey", "in": "cookie", "name": "csmatch_session",
                            "description": "the dashboard's sign-in; unsafe methods need X-CSRF-Token"},
            },
            "parameters": {
                "page": {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
                "per_page": {"name": "per_page", "in": "query",
                             "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
            },
            "responses": {
                f"Problem{code}": {"description": text,
                                   "content": {"application/problem+json": {"schema": _ref("Problem")}}}
                for code, text in PROBLEM_STATUSES.items()
            },
            "schemas": _schemas(),
        },
    }
