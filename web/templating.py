"""What every template may use: the CSRF token, the user, the navigation for their role."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, g
from markupsafe import Markup, escape

from accounts.models import Role
from matcher.reasons import MoveReason, PreferenceMissReason, UnplacedReason
from web.common import args_with, days_label, today
from web.security import csrf_token

# (endpoint, label, roles that see it)
NAVIGATION: list[tuple[str, str, frozenset[Role]]] = [
    ("queue.index", "Referral queue", frozenset({Role.COORDINATOR, Role.PROVIDER_RELATIONS, Role.COMPLIANCE,
                                                  Role.ADMIN})),
    ("capacity.board", "Capacity board", frozenset({Role.COORDINATOR, Role.PROVIDER_RELATIONS, Role.COMPLIANCE,
                                                     Role.ADMIN})),
    ("capacity.changes", "Capacity changes", frozenset({Role.COORDINATOR, Role.PROVIDER_RELATIONS,
                                                         Role.COMPLIANCE, Role.ADMIN})),
    ("providers.index", "Providers", frozenset({Role.COORDINATOR, Role.PROVIDER_RELATIONS, Role.COMPLIANCE,
                                                 Role.ADMIN})),
    ("reports.timeliness", "Timeliness", frozenset({Role.COORDINATOR, Role.PROVIDER_RELATIONS, Role.COMPLIANCE,
                                                     Role.ADMIN})),
    ("reports.gaps", "Network gaps", frozenset({Role.COORDINATOR, Role.PROVIDER_RELATIONS, Role.COMPLIANCE,
                                                 Role.ADMIN})),
    ("reports.equity", "Equity & oversight", frozenset({Role.COORDINATOR, Role.PROVIDER_RELATIONS, Role.COMPLIANCE,
                                                         Role.ADMIN})),
    ("runs.index", "Solver runs", frozenset({Role.COORDINATOR, Role.PROVIDER_RELATIONS, Role.COMPLIANCE,
                                              Role.ADMIN})),
    ("portal.index", "My referrals", frozenset({Role.PROVIDER})),
    ("portal.capacity", "Report capacity", frozenset({Role.PROVIDER})),
]


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(csrf_token=csrf_token, args_with=args_with)
    app.jinja_env.filters.update(date=_format_date, datetime=_format_datetime, days=days_label,
                                 explain=explain, reason_text=reason_text, reasons=reasons)
    app.context_processor(_context)


def _context() -> dict[str, Any]:
    user = g.get("user")
    nav = [(endpoint, label) for endpoint, label, roles in NAVIGATION if user is not None and user.role in roles]
    return {"current_user": user, "navigation": nav, "today": today()}


def _format_date(value: dt.date | None) -> str:
    return value.isoformat() if value else "—"


def _format_datetime(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def reason_text(code: str | None) -> str:
    """A reason code as the sentence a coordinator reads (unknown codes are shown as they are)."""
    if not code:
        return "—"
    for enum in (UnplacedReason, PreferenceMissReason):
        try:
            return f"{code}: {enum(code).description}"
        except ValueError:
            continue
    try:
        return MoveReason(code).value.replace("_", " ").lower()
    except ValueError:
        return code


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_value(v) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, str) and value.isupper() and "_" in value:
        return reason_text(value)
    return str(value)


def explain(details: Any) -> Markup:
    """A decision's reasons or cost terms (a JSON dict) as a short list; "—" when empty."""
    if not details:
        return Markup("—")
    if not isinstance(details, dict):
        return Markup(escape(_value(details)))
    items = "".join(
        f"<li><b>{escape(str(k).replace('_', ' '))}</b>: {escape(_value(v))}</li>"
        for k, v in details.items() if v not in ([], {}, None, "")
    )
    return Markup(f'<ul class="explain">{items}</ul>')


def reasons(details: Any) -> Markup:
    """An assignment's reasons: the placement's sentences first (``explanation``), the rest folded."""
    if not isinstance(details, dict) or not details.get("explanation"):
        return explain(details)
    sentences = details["explanation"]
    if isinstance(sentences, str):
        sentences = [sentences]
    items = "".join(f"<li>{escape(str(s))}</li>" for s in sentences)
    rest = {k: v for k, v in details.items() if k != "explanation"}
    folded = f"<details><summary>details</summary>{explain(rest)}</details>" if rest else ""
    return Markup(f'<ul class="explain">{items}</ul>{folded}')
