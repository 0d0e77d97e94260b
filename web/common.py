"""Small helpers shared by the areas: today's date, query-string parsing, pagination."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import current_app, request

T = TypeVar("T")


def today() -> dt.date:
    """The app's "today": ``TODAY`` from the config when pinned (tests, demos), else the real date."""
    pinned = current_app.config.get("TODAY")
    if isinstance(pinned, str):
        return dt.date.fromisoformat(pinned)
    return pinned or dt.date.today()


def days_label(days: int | None) -> str:
    """``3 days left``, ``due today``, ``2 days overdue`` (business days)."""
    if days is None:
        return "—"
    if days == 0:
        return "due today"
    if days > 0:
        return f"{days} day{'s' if days != 1 else ''} left"
    return f"{-days} day{'s' if days != -1 else ''} overdue"


class ArgError(ValueError):
    """A query-string value that cannot be used; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class PageRequest:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def page_request(args: Mapping[str, str] | None = None) -> PageRequest:
    """Read ``page`` and ``per_page`` from the query string.

    :raise ArgError: if either is not a positive integer or ``per_page`` exceeds ``MAX_PER_PAGE``.
    """
    args = request.args if args is None else args
    default = int(current_app.config["PER_PAGE"])
    cap = int(current_app.config["MAX_PER_PAGE"])
    page = positive_int(args, "page", 1)
    per_page = positive_int(args, "per_page", default)
    if per_page > cap:
        raise ArgError("per_page", f"at most {cap}")
    return PageRequest(page, per_page)


def positive_int(args: Mapping[str, str], name: str, default: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise ArgError(name, f"must be a whole number, not {raw!r}") from None
    if value < 1:
        raise ArgError(name, f"must be 1 or more, not {value}")
    return value


def date_arg(args: Mapping[str, str], name: str) -> dt.date | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ArgError(name, f"must be a date YYYY-MM-DD, not {raw!r}") from None


def choice_arg(args: Mapping[str, str], name: str, choices: Sequence[str]) -> str | None:
    raw = args.get(name)
    if not raw:
        return None
    if raw not in choices:
        raise ArgError(name, f"must be one of {', '.join(choices)}, not {raw!r}")
    return raw


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, with the total the whole filtered list has."""

    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def args_with(**changes: Any) -> dict[str, Any]:
    """The current path's arguments and query with some replaced (for next/previous links)."""
    merged: dict[str, Any] = dict(request.view_args or {})
    merged.update({k: v for k, v in request.args.items() if v != ""})
    merged.update({k: v for k, v in changes.items()})
    return {k: v for k, v in merged.items() if v is not None}
