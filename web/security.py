"""Who is asking, and may they: the signed-in user or API token, CSRF, and role checks.

A request is authenticated by the session cookie (the dashboard) or, under ``/api/``, by an
``Authorization: Bearer`` token. Every unsafe request made with the cookie must carry the
session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``); token requests need
none, since a browser never adds the header by itself. Compliance users are read-only everywhere.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, abort, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from accounts.models import PLAN_ROLES, Role, User
from accounts.services import user_for_token
from web.db import get_session

__all__ = [
    "CHANGE_CAPACITY",
    "COORDINATE",
    "PLAN_READ",
    "PROVIDER_ONLY",
    "csrf_token",
    "current_user",
    "home_endpoint",
    "login_required",
    "roles_required",
    "sign_in",
    "sign_out",
]

F = TypeVar("F", bound=Callable[..., Any])

# Who may do what. Admin is listed explicitly wherever it is allowed: nothing is implicit.
PLAN_READ = frozenset(PLAN_ROLES)
COORDINATE = frozenset({Role.COORDINATOR, Role.ADMIN})
CHANGE_CAPACITY = frozenset({Role.PROVIDER_RELATIONS, Role.ADMIN, Role.PROVIDER})
PROVIDER_ONLY = frozenset({Role.PROVIDER})

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Signing out must work for everyone, compliance included.
_READ_ONLY_EXEMPT = frozenset({"auth.logout", "auth.login"})


# No scripts, nothing from other hosts, no framing: the pages need none of it.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    app.before_request(_load_user)
    app.before_request(_protect)
    app.after_request(_headers)


def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if g.get("user") is not None:
        response.headers.setdefault("Cache-Control", "no-store")  # member data stays out of shared caches
    return response


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _load_user() -> None:
    """Set ``g.user`` from a bearer token (API only) or the session cookie, and ``g.via_token``."""
    g.user = None
    g.via_token = False
    header = request.headers.get("Authorization", "")
    if is_api_request() and header:
        scheme, _, plain = header.partition(" ")
        user = user_for_token(get_session(), plain.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            abort(401, description="The bearer token is missing, malformed, revoked or unknown.")
        g.user, g.via_token = user, True
        return
    user_id = session.get("user_id")
    if user_id is not None:
        user = get_session().get(User, user_id)
        if user is None or not user.active:
            session.clear()
        else:
            g.user = user


def _protect() -> None:
    """Refuse unsafe requests without the CSRF token, and any change by a read-only user."""
    if request.method not in UNSAFE_METHODS:
        return
    if is_api_request() and g.user is None:
        return  # the view answers 401: no session to forge a request with
    if not g.via_token:
        expected = session.get(CSRF_FIELD, "")
        sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
        if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
            abort(400, description="The CSRF token is missing or does not match this session; "
                                   "reload the page and try again.")
    user: User | None = g.user
    if user is not None and user.role is Role.COMPLIANCE and request.endpoint not in _READ_ONLY_EXEMPT:
        abort(403, description="Compliance accounts are read-only.")


def csrf_token() -> str:
    """The session's CSRF token, made on first use (templates put it in every POST form)."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return str(token)


def current_user() -> User:
    """The signed-in user; only call it behind ``login_required``."""
    user: User | None = g.user
    if user is None:
        abort(401)
    return user


def sign_in(user: User) -> None:
    """Start a fresh session for ``user`` (a new session and CSRF token: no session fixation)."""
    session.clear()
    session.permanent = True
    session["user_id"] = user.id
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def sign_out() -> None:
    session.clear()


def login_required(view: F) -> F:
    """Send anonymous users to the sign-in page (pages) or answer 401 (API)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user is None:
            if is_api_request():
                abort(401, description="Sign in or send an 'Authorization: Bearer' API token.")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def roles_required(roles: frozenset[Role]) -> Callable[[F], F]:
    """Allow only users whose role is in ``roles``; others get 403.

    :raise 401: (API) or a redirect to sign-in (pages) for anonymous users.
    :raise 403: for a signed-in user with another role.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.user.role not in roles:
                abort(403, description=f"The {g.user.role.value} role may not do this.")
            return view(*args, **kwargs)

        return login_required(cast(F, wrapped))

    return decorator


def home_endpoint() -> str:
    """Where ``/`` leads: providers to their portal, plan staff to their first page."""
    user: User | None = g.user
    if user is None:
        return "auth.login"
    if user.role is Role.PROVIDER:
        return "portal.index"
    if user.role is Role.PROVIDER_RELATIONS:
        return "capacity.board"
    if user.role is Role.COMPLIANCE:
        return "reports.timeliness"
    return "queue.index"


def client_address() -> str | None:
    """Where the request came from, for the audit log."""
    return request.remote_addr
