"""A read cache for the dashboard's dearest pages: a result is kept while the data it read is unchanged.

The equity, utilization, referral and timeliness reports read every referral of their period
(100,000 referrals: seconds of SQL); compliance opens them, switches tables and pages, downloads the
CSV files, while the data stay the same. Each result is kept under its arguments and the token of
:func:`csmatch.dataversion.data_version`, which triggers move on every write to any table but the
audit log and the sign-in tables (``users``, ``api_tokens``; no report reads them): a cached
result is never older than the data the request would read. A request that gets no token (its
transaction has written, a writer is in flight) computes afresh and keeps nothing; so does a
result whose token moved while it was computed.

When the data did change, the dearest reports do not start from nothing: their per-referral rows
are kept too (:func:`kept_rows`, :class:`reports.kept.KeptRows`), and only the referrals a write
touched are read again (the referral change log, :mod:`csmatch.changes`).

Results are shared between requests: callers must not change them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from flask import Flask, current_app
from sqlalchemy.orm import Session

from csmatch.dataversion import data_version
from reports.kept import Build, Fetch, KeptRows, Patch, Row, fresh_rows

__all__ = ["ReadCache", "ReportWarmer", "cached", "init_app", "kept_rows", "start_report_warmer", "warm_reports"]

T = TypeVar("T")
_EXTENSION = "csmatch.read_cache"
_KEPT = "csmatch.kept_rows"


class ReadCache:
    """The ``size`` most recently used results, each under (data version, key). Thread-safe."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[Hashable, Hashable], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, session: Session, key: Hashable, compute: Callable[[], T]) -> T:
        """Return the kept result of ``compute`` for ``key`` at the session's data version, computing it when
        there is none."""
        version = data_version(session)
        if version is None:
            return compute()
        with self._lock:
            if (version, key) in self._entries:
                self._entries.move_to_end((version, key))
                self.hits += 1
                return self._entries[(version, key)]
            self.misses += 1
        value = compute()
        if data_version(session) == version:  # nothing committed meanwhile (PostgreSQL reads each statement anew)
            with self._lock:
                self._entries[(version, key)] = value
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def init_app(app: Flask) -> None:
    """One cache per app (``READ_CACHE_SIZE`` results; 0 turns it off) and one store of report rows
    (``KEPT_ROWS_SIZE`` row sets, each a report's query over one period; 0 turns it off)."""
    app.extensions[_EXTENSION] = ReadCache(int(app.config.get("READ_CACHE_SIZE", 32)))
    app.extensions[_KEPT] = KeptRows(int(app.config.get("KEPT_ROWS_SIZE", 8)))


class _AppRows:
    """A :data:`reports.kept.RowSource` on the app's store (:class:`reports.kept.KeptRows`): the rows
    kept from the last read, with the referrals changed since read again, and the values derived
    from them patched (fresh rows outside an app, or with the store turned off)."""

    @staticmethod
    def _store() -> KeptRows | None:
        return cast(KeptRows | None, current_app.extensions.get(_KEPT))

    def __call__(self, session: Session, name: Hashable, fetch: Fetch) -> list[Row]:
        store = self._store()
        return fresh_rows(session, name, fetch) if store is None else store(session, name, fetch)

    def derived(self, session: Session, name: Hashable, fetch: Fetch, what: Hashable, build: Build[T],
                patch: Patch[T]) -> T:
        store = self._store()
        if store is None:
            return build(fresh_rows(session, name, fetch))
        return store.derived(session, name, fetch, what, build, patch)


kept_rows = _AppRows()


def cached(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """:meth:`ReadCache.get_or_compute` on the app's cache (computes every time when it is off)."""
    cache: ReadCache | None = current_app.extensions.get(_EXTENSION)
    if cache is None or cache.size <= 0:
        return compute()
    return cache.get_or_compute(session, key, compute)


def warm_reports(app: Flask) -> float:
    """One pass of the report warmer: every kept row set brought up to date, then the results the
    report pages show first computed (:func:`web.reports.oversight.warm_reports`,
    :func:`web.reports.views.warm_timeliness`); return its seconds. Read-only: the session is rolled back."""
    from web.db import new_session
    from web.reports.oversight import warm_reports as warm_pages
    from web.reports.views import warm_timeliness

    started = time.perf_counter()
    with app.app_context():
        session = new_session(app)
        try:
            store: KeptRows | None = app.extensions.get(_KEPT)
            if store is not None:
                store.refresh(session)
            warm_pages(session)
            warm_timeliness(session)
        finally:
            session.rollback()
            session.close()
    return time.perf_counter() - started


class ReportWarmer(threading.Thread):
    """Warms the reports every ``seconds`` in the background (a daemon thread), starting at once.

    A server's first read of a report reads every referral of the period (1.4 s at 100,000), and so
    does the first read after the nightly run; a read right after a user's write recomputes the
    figures from the kept rows (0.2-0.4 s). With the warmer, those reads usually find it done.
    """

    def __init__(self, app: Flask, seconds: float) -> None:
        super().__init__(name="csmatch-report-warmer", daemon=True)
        self.app, self.seconds = app, seconds
        self.stopped = threading.Event()
        self.passes = 0

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                warm_reports(self.app)
                self.passes += 1
            except Exception:  # noqa: BLE001 - a failed pass is logged; the pages compute on demand
                self.app.logger.exception("report warmer pass failed")
            self.stopped.wait(self.seconds)

    def stop(self) -> None:
        self.stopped.set()


def start_report_warmer(app: Flask) -> ReportWarmer | None:
    """Start a :class:`ReportWarmer` every ``REPORT_WARM_SECONDS`` (30; 0: none). A server calls it
    once per process after :func:`web.create_app` (``csmatch demo`` does); tests do not."""
    seconds = float(app.config.get("REPORT_WARM_SECONDS", 30))
    if seconds <= 0:
        return None
    warmer = ReportWarmer(app, seconds)
    warmer.start()
    return warmer
