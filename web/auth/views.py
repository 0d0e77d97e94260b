"""Sign-in with e-mail and password, and sign-out; both audited."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from accounts.services import authenticate, normalise_email
from web.audit import audit
from web.db import get_session
from web.security import home_endpoint, sign_in, sign_out

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _safe_next(target: str | None) -> str | None:
    """Only redirect to a path on this site (no ``//evil.example`` or absolute URLs)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=("GET", "POST"))
def login() -> Response | str:
    """Show the sign-in form; on POST, sign in and go to ``next`` or the user's home page."""
    if request.method == "POST":
        email = request.form.get("email", "")
        user = authenticate(get_session(), email, request.form.get("password", ""))
        if user is None:
            g.user = None
            audit("user.login_failed", "user", normalise_email(email)[:60])
            flash("E-mail or password is wrong, or the account is inactive.", "error")
            return render_template("auth/login.html", email=email)
        sign_in(user)
        g.user = user
        audit("user.login", "user", user.id)
        return redirect(_safe_next(request.args.get("next")) or url_for(home_endpoint()))
    return render_template("auth/login.html", email="")


@bp.post("/logout")
def logout() -> Response:
    if g.user is not None:
        audit("user.logout", "user", g.user.id)
    sign_out()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))
