"""One SQLAlchemy session per request, and one transaction: committed when the view answers with
a success or a redirect, rolled back on any error (as warehouse's pyramid_tm does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from flask import Flask, current_app, g
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from csmatch.db import make_engine, make_session_factory

_FACTORY = "csmatch.session_factory"


def init_app(app: Flask) -> None:
    """Make the session factory (unless the config gives one) and hook up commit and close."""
    factory = app.config.get("SESSION_FACTORY")
    if factory is None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["csmatch.engine"] = engine
        factory = make_session_factory(engine)
    app.extensions[_FACTORY] = factory
    app.after_request(_finish_transaction)
    app.teardown_appcontext(close_session)


def new_session(app: Flask) -> Session:
    """A session of the app's own, outside any request (the report warmer's, :mod:`web.cache`)."""
    factory = cast(Callable[[], Session], app.extensions[_FACTORY])
    return factory()


def get_session() -> Session:
    """The request's session, opened on first use."""
    if "db" not in g:
        factory = cast(Callable[[], Session], current_app.extensions[_FACTORY])
        g.db = factory()
    return cast(Session, g.db)


def _finish_transaction(response: Response) -> Response:
    session: Session | None = g.get("db")
    if session is not None:
        if response.status_code < 400:
            session.commit()
        else:
            session.rollback()
    return response


def close_session(_exc: BaseException | None = None) -> None:
    """Roll back anything uncommitted (an exception skipped the commit) and close the session."""
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.close()
