"""RFC 9457 problem details: the one error shape of the API.

Every error answers ``application/problem+json`` with ``type``, ``title``, ``status``, ``detail``
and ``instance``; a validation error adds ``errors``, a list of ``{"pointer" | "parameter",
"detail"}`` naming each bad field of the body (a JSON pointer) or of the query string.
"""

from __future__ import annotations

from typing import Any

from flask import json, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response

PROBLEM_MIMETYPE = "application/problem+json"
PROBLEM_BASE = "/api/v1/problems/"

# Problem types beyond plain HTTP statuses ("about:blank"); each has a title that never varies.
PROBLEM_TYPES = {
    "invalid-parameter": "A query parameter is not valid",
    "validation-error": "Your request is not valid",
    "invalid-state": "The record is not in a state that allows this",
    "unavailable": "The service this needs is not available yet",
}


class Problem(Exception):
    """An API error to answer as problem details.

    ``kind`` is a key of :data:`PROBLEM_TYPES`, or None for a plain HTTP status ("about:blank").
    """

    def __init__(self, status: int, detail: str, *, kind: str | None = None,
                 errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.errors = errors


def validation_problem(errors: list[dict[str, str]]) -> Problem:
    """A 422 listing every invalid field (all of them, not only the first)."""
    fields = ", ".join(e.get("pointer") or e.get("parameter") or "?" for e in errors)
    return Problem(422, f"{len(errors)} invalid field(s): {fields}", kind="validation-error", errors=errors)


def problem_body(status: int, detail: str, kind: str | None = None,
                 errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind if kind else "about:blank",
        "title": PROBLEM_TYPES[kind] if kind else HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(status: int, detail: str, kind: str | None = None,
                     errors: list[dict[str, str]] | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(problem_body(status, detail, kind, errors)), status=status,
                        mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="csmatch"'
    if status == 405 and exc.response is None:
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return problem_response(status, exc.description or HTTP_STATUS_CODES.get(status, ""), headers=headers)
