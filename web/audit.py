"""Audit events for the web: who (the signed-in user), what, when, from where (remote address).

Every view of member data and every change goes through :func:`audit`; the event joins the
request's transaction, so a change and its audit event are committed together or not at all.
"""

from __future__ import annotations

from typing import Any

from flask import g, request

from csmatch.models import AuditEvent, record_audit
from web.db import get_session


def actor() -> str:
    """The audit name of the requester: their e-mail, with ``token:`` for API-token requests."""
    user = g.get("user")
    if user is None:
        return "anonymous"
    return f"token:{user.email}" if g.get("via_token") else str(user.email)


def audit(action: str, entity_type: str, entity_id: object, **details: Any) -> AuditEvent:
    """Record ``web.<action>`` on an entity by the current user, from the request's address.

    The ``web.`` prefix tells the request's own event (with its address) from the event the domain
    service records for the same change (e.g. ``web.assignment.decline`` and ``assignment.decline``).
    """
    return record_audit(
        get_session(),
        actor=actor(),
        action=f"web.{action}",
        entity_type=entity_type,
        entity_id=entity_id,
        details={"path": request.full_path.rstrip("?"), **details},
        remote_addr=request.remote_addr,
    )
