"""Error answers: problem+json under ``/api/``, a small page elsewhere."""

from __future__ import annotations

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from web.api.problems import Problem, from_http_exception, problem_response
from web.common import ArgError
from web.security import is_api_request


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Problem, _problem)
    app.register_error_handler(InternalServerError, _internal_error)
    app.register_error_handler(ArgError, _arg_error)


def _http_error(exc: HTTPException) -> Response | tuple[str, int]:
    if is_api_request():
        return from_http_exception(exc)
    return render_template("error.html", code=exc.code, name=exc.name, detail=exc.description), exc.code or 500


def _problem(exc: Problem) -> Response | tuple[str, int]:
    if is_api_request():
        return problem_response(exc.status, exc.detail, exc.kind, exc.errors)
    return render_template("error.html", code=exc.status, name="Error", detail=exc.detail), exc.status


def _internal_error(exc: InternalServerError) -> Response | tuple[str, int]:
    detail = "Something went wrong on our side; the change, if any, was not saved."
    if is_api_request():
        return problem_response(500, detail)
    return render_template("error.html", code=500, name="Internal Server Error", detail=detail), 500


def _arg_error(exc: ArgError) -> Response | tuple[str, int]:
    if is_api_request():
        return problem_response(400, str(exc), "invalid-parameter",
                                [{"parameter": exc.parameter, "detail": exc.message}])
    return render_template("error.html", code=400, name="Bad Request", detail=str(exc)), 400
