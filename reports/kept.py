"""A report's rows, kept per referral between reads and refreshed from the referral change log.

The equity, referral and utilization reports read every referral of their period: at 100,000
referrals, most of a second of SQL. Between two reads, a user's write touches a few referrals (a
decline, an acceptance, a capacity report's re-solve). A :class:`KeptRows` keeps each report's
rows by referral and, on the next read, asks the change log (:mod:`csmatch.changes`) which
referrals changed and reads only theirs again. Reports then count from the rows in Python, as
they do from a fresh read: both go through a :data:`RowSource`, and the rows come back in the
same order (by referral id), so a kept read and a fresh one give the same figures.

A row source is called with a name (what is read: the query and its arguments, such as the
period) and ``fetch``, which reads the rows of the referrals given (or of all, for None); each
row's first column is its referral id, and a referral may have several rows or none.

A report may also keep what it computes from the rows (:func:`derived`): the value is kept with
the rows and, after a refresh, patched at the rows that changed instead of computed again from all
of them (the equity review's columns: business days, distances, age bands, group codes).

Nothing is kept when a read cannot be trusted to stay in step: the session's transaction has
written, or a PostgreSQL writer is in flight. Those reads are fresh, as are the command line's
(:func:`fresh_rows`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Protocol, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from csmatch.changes import changes_since, latest_change
from csmatch.dataversion import data_version
from csmatch.db import among

__all__ = ["Among", "Build", "Fetch", "KeptRows", "Patch", "Row", "RowSource", "derived", "fetch_query", "fresh_rows"]

T = TypeVar("T")

Row = tuple[Any, ...]
# the rows of the given referrals (None: of every referral), read on the session; column 0 is the
# referral id
Fetch = Callable[[Session, Sequence[str] | None], Iterable[Sequence[Any]]]
# given a referral id column, the condition "it is one of the referrals to read"
Among = Callable[[Any], sa.ColumnElement[bool]]


class RowSource(Protocol):
    def __call__(self, session: Session, name: Hashable, fetch: Fetch) -> list[Row]: ...


def fresh_rows(session: Session, name: Hashable, fetch: Fetch) -> list[Row]:
    """Every row, read now, ordered by referral id (stable within a referral)."""
    rows = [tuple(row) for row in fetch(session, None)]
    rows.sort(key=itemgetter(0))
    return rows


def fetch_query(query: Callable[[Among | None], sa.Executable]) -> Fetch:
    """A :data:`Fetch` of a statement: ``query(None)`` reads every referral, ``query(among)`` only
    those whose id column ``among`` admits. Plain tuples from the driver: report rows hold numbers,
    strings and NULLs only (dates as day numbers or month labels), so SQLAlchemy has nothing to
    convert, and building its rows cost a fifth of the read."""
    def fetch(session: Session, referral_ids: Sequence[str] | None) -> Sequence[Any]:
        session.flush()
        ids = None if referral_ids is None else list(referral_ids)
        condition: Among | None = None if ids is None else (lambda column: among(session, column, ids))
        result = session.connection().execute(query(condition))
        rows = result.cursor.fetchall()
        result.close()
        return rows
    return fetch


# a value computed from the rows, and how to patch it where rows changed: patch(previous value,
# previous rows, rows, positions that differ) gives the new value, or None when it cannot (a full build)
Build = Callable[[list[Row]], T]
Patch = Callable[[T, list[Row], list[Row], list[int]], "T | None"]


def derived(rows: RowSource, session: Session, name: Hashable, fetch: Fetch, what: Hashable, build: Build[T],
            patch: Patch[T]) -> T:
    """``build`` of the rows ``rows`` gives for ``name``; where the source keeps values derived from
    its rows (:meth:`KeptRows.derived`), the value kept under ``what``, patched at the rows that changed.

    ``what`` names the value and everything else it depends on (a calendar, say): two calls with
    equal ``what`` must build equal values from equal rows.
    """
    keeper = getattr(rows, "derived", None)
    if keeper is None:
        return build(rows(session, name, fetch))
    return cast(T, keeper(session, name, fetch, what, build, patch))


@dataclass
class _Kept:
    """One name's rows by referral (keys in id order), the change log's place they are as of, how
    to read them again, and values derived from them (each with the rows it was derived from)."""

    rows: dict[str, list[Row]]
    place: int
    fetch: Fetch
    derived: dict[Hashable, tuple[list[Row], Any]] = field(default_factory=dict)
    _flat: list[Row] | None = None

    def flat(self) -> list[Row]:
        """The rows in order, made once per version of the rows (a refresh makes a new version)."""
        if self._flat is None:
            self._flat = [row for rows in self.rows.values() for row in rows]
        return self._flat


def _by_referral(rows: Iterable[Sequence[Any]]) -> dict[str, list[Row]]:
    found: dict[str, list[Row]] = {}
    for row in rows:
        found.setdefault(row[0], []).append(tuple(row))
    return found


class KeptRows:
    """The rows of the ``size`` most recently read names, per database. Thread-safe: one refresh
    of a name at a time; readers of other names do not wait."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, _Kept] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()
        self.refreshed = 0  # referrals read again, over this store's life (tests and the benchmark read it)
        self.full_reads = 0
        self.patched = 0  # derived values patched instead of built

    def __call__(self, session: Session, name: Hashable, fetch: Fetch) -> list[Row]:
        before = data_version(session)
        if before is None or self.size <= 0:
            return fresh_rows(session, name, fetch)
        kept = self._sync(session, (before[0], name), fetch, before)  # type: ignore[index]  # (URL, version)
        return list(kept.flat())

    def derived(self, session: Session, name: Hashable, fetch: Fetch, what: Hashable, build: Build[T],
                patch: Patch[T]) -> T:
        """The value of :func:`derived`: kept with the rows, and when they change, patched at the
        positions whose row is another object (a refresh replaces only the rows of the referrals read
        again; a row added or removed moves the others, and the value is built anew)."""
        before = data_version(session)
        if before is None or self.size <= 0:
            return build(fresh_rows(session, name, fetch))
        key = (before[0], name)  # type: ignore[index]
        kept = self._sync(session, key, fetch, before)
        rows = kept.flat()
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            previous = kept.derived.get(what)
            value: T | None = None
            if previous is not None and previous[0] is rows:
                return cast(T, previous[1])
            if previous is not None and len(previous[0]) == len(rows):
                changed = [i for i, (old, new) in enumerate(zip(previous[0], rows, strict=True)) if old is not new]
                if len(changed) <= max(64, len(rows) // 20):
                    value = patch(previous[1], previous[0], rows, changed)
                    self.patched += value is not None
            if value is None:
                value = build(list(rows))
            kept.derived[what] = (rows, value)
            return value

    def refresh(self, session: Session) -> int:
        """Bring every kept name of the session's database up to date, as a read would (a warmer
        calls this between requests, so that a read after a write finds the rows refreshed);
        return how many names were."""
        before = data_version(session)
        if before is None:
            return 0
        url = before[0]  # type: ignore[index]
        with self._lock:
            names = [(key, kept.fetch) for key, kept in self._kept.items() if key[0] == url]  # type: ignore[index]
        for key, fetch in names:
            self._sync(session, key, fetch, before)
        return len(names)

    def _sync(self, session: Session, key: Hashable, fetch: Fetch, before: Hashable) -> _Kept:
        """The rows of ``key`` as the session reads them: the kept ones, the changed referrals read again."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            connection = session.connection()
            with self._lock:
                kept = self._kept.get(key)
            if kept is None:
                kept = self._read_all(session, fetch, latest_change(connection))
            else:
                changes = changes_since(connection, kept.place)
                if changes.referral_ids is None:
                    kept = self._read_all(session, fetch, changes.through)
                elif changes.referral_ids:
                    kept = self._refresh(session, kept, sorted(changes.referral_ids), changes.through)
            with self._lock:
                if data_version(session) == before:  # nothing committed or in flight meanwhile: the place holds
                    self._kept[key] = kept
                    self._kept.move_to_end(key)
                    while len(self._kept) > self.size:
                        dropped, _ = self._kept.popitem(last=False)
                        self._locks.pop(dropped, None)
                # else the write that moved the version may be missing from what was read: the rows
                # are right for this read, but the place is not to be trusted; the entry kept before stays
            return kept

    def _read_all(self, session: Session, fetch: Fetch, place: int) -> _Kept:
        self.full_reads += 1
        return _Kept(_by_referral(fresh_rows(session, None, fetch)), place, fetch)

    def _refresh(self, session: Session, kept: _Kept, referral_ids: list[str], place: int) -> _Kept:
        self.refreshed += len(referral_ids)
        found = _by_referral(kept.fetch(session, referral_ids))
        rows = dict(kept.rows)  # a new dict: a reader of the old one (another thread) keeps its rows
        added = False
        for referral_id in referral_ids:
            if referral_id in found:
                added = added or referral_id not in rows
                rows[referral_id] = found[referral_id]  # an existing key keeps its place in the order
            else:
                rows.pop(referral_id, None)  # out of the period, or gone
        if added:
            rows = dict(sorted(rows.items(), key=itemgetter(0)))
        return _Kept(rows, place, kept.fetch, kept.derived)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
