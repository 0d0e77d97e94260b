"""The csmatch dashboard and JSON API: a Flask app factory with one blueprint per area.

``create_app(config)`` takes the usual Flask keys plus:

``DATABASE_URL``
    SQLAlchemy URL (default: ``DATABASE_URL`` from the environment, else the embedded SQLite file).
``SESSION_FACTORY``
    A callable returning a new :class:`~sqlalchemy.orm.Session`; replaces the engine made from
    ``DATABASE_URL`` (tests bind sessions to one connection rolled back at the end).
``TODAY``
    A :class:`datetime.date` to use as "today" for the clocks (tests and demos pin it).
``PER_PAGE``
    Default page size of lists (50); ``MAX_PER_PAGE`` caps ``?per_page=`` (200).
``READ_CACHE_SIZE``
    How many report results :mod:`web.cache` keeps while their data are unchanged (32; 0: none).
``KEPT_ROWS_SIZE``
    How many report row sets :mod:`web.cache` keeps per referral between writes (8; 0: none).
``REPORT_WARM_SECONDS``
    How often :func:`web.cache.start_report_warmer` refreshes the reports in the background (30; 0: never).

Settings may also come from ``CSMATCH_*`` environment variables (``CSMATCH_SECRET_KEY``...).
Session cookies are HttpOnly, SameSite=Lax, and Secure unless testing or debugging.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response

from csmatch.db import database_url


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the app; ``config`` overrides defaults and the environment."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=None,
        DATABASE_URL=database_url(),
        SESSION_COOKIE_NAME="csmatch_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=8),
        TODAY=None,
        PER_PAGE=50,
        MAX_PER_PAGE=200,
        READ_CACHE_SIZE=32,
        KEPT_ROWS_SIZE=8,
        REPORT_WARM_SECONDS=30,
    )
    app.config.from_prefixed_env("CSMATCH")
    if config:
        app.config.update(config)
    if not app.config["SECRET_KEY"]:
        # Without a configured key, sessions last as long as the process: fine for a demo only.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    if "SESSION_COOKIE_SECURE" not in (config or {}) and "CSMATCH_SESSION_COOKIE_SECURE" not in os.environ:
        app.config["SESSION_COOKIE_SECURE"] = not (app.testing or app.debug)

    from web import cache, db, errors, security, templating

    db.init_app(app)
    cache.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    templating.init_app(app)

    from web.api.views import bp as api_bp
    from web.auth.views import bp as auth_bp
    from web.capacity.views import bp as capacity_bp
    from web.portal.views import bp as portal_bp
    from web.providers.views import bp as providers_bp
    from web.queue.views import bp as queue_bp
    from web.reports.views import bp as reports_bp
    from web.runs.views import bp as runs_bp

    for blueprint in (auth_bp, queue_bp, providers_bp, capacity_bp, reports_bp, runs_bp, portal_bp, api_bp):
        app.register_blueprint(blueprint)

    @app.get("/")
    def index() -> Response:
        """Send each user to where their day starts."""
        return redirect(url_for(security.home_endpoint()))

    return app


def freeze_startup_objects() -> None:
    """Take the objects made at start-up (modules, mappers, the app) out of the garbage collector's
    sweeps, as a long-lived server does once before serving (:func:`gc.freeze`).

    A full collection otherwise walks those 200,000 objects again and again, and the request it
    falls in waits 100-180 ms for it. Call it once per process, after the app is made and warmed up:
    frozen objects are never collected.
    """
    gc.collect()
    gc.freeze()
