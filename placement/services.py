"""Propose, re-solve and write back: database -> matcher -> database, in the caller's transaction.

Every function here takes a Session and never commits: a CLI command, a request or the nightly
batch owns the transaction, so a solve is all-or-nothing. Writers lock the contracts of the solve
first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers with ``BEGIN IMMEDIATE``),
then read what is committed, so two coordinators or two capacity reports never over-commit a
provider.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from capacity.models import CapacityReport, CapacityReportKind, Contract, ContractCounty
from capacity.services import RecordedReport, record_capacity_report
from csmatch.db import Base, among, lock_for_update, utcnow
from csmatch.models import record_audit
from matcher import ReferralDemand
from matcher.partition import solve_by_service
from matcher.reasons import UnplacedReason
from matcher.solution import Assignment as Placement
from matcher.solution import CostTerms, Solution, Unplaced
from matcher.weights import UNRANKED
from placement.models import (
    ACTIVE_ASSIGNMENT_STATUSES,
    Assignment,
    AssignmentStatus,
    Notification,
    RunTrigger,
    SolverRun,
    UnplacedReferral,
)
from placement.snapshot import (
    MATCHABLE_STATUSES,
    EligibilityCheck,
    HeldAssignment,
    Scope,
    Snapshot,
    load_snapshot,
    split_pool_key,
)
from referrals.lifecycle import TRANSITIONS
from referrals.models import Member, Referral, ReferralStatus, ReferralStatusChange

T = TypeVar("T")


class PlacementError(Exception):
    """A request the placement rules refuse; the message names the record."""


@dataclass
class Change:
    """One referral's outcome in a run, as the run report and the dashboard show it."""

    referral_id: str
    kind: str  # NEWLY_PLACED, MOVED, KEPT, NEWLY_UNPLACED, STILL_UNPLACED
    from_provider: str | None
    to_provider: str | None
    reason: str


@dataclass
class RunOutcome:
    """What a run decided and changed (also what ``--dry-run`` prints)."""

    run_id: int | None
    solution: Solution
    snapshot: Snapshot
    scope: Scope = field(default_factory=Scope)
    changes: list[Change] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(c.kind for c in self.changes)
        return {k: counts.get(k, 0) for k in ("NEWLY_PLACED", "MOVED", "KEPT", "NEWLY_UNPLACED", "STILL_UNPLACED")}


def lock_contracts(session: Session, scope: Scope) -> list[str]:
    """Lock, in id order (no deadlocks), the contracts a solve in ``scope`` may commit units to."""
    stmt = sa.select(Contract.id).order_by(Contract.id)
    if scope.service:
        stmt = stmt.where(Contract.service_key == scope.service)
    if scope.counties is not None:
        stmt = stmt.where(Contract.id.in_(
            sa.select(ContractCounty.contract_id).where(ContractCounty.county.in_(sorted(scope.counties)))
        ))
    return list(session.scalars(lock_for_update(stmt, session)))


def explain_placement(p: Placement, demand: ReferralDemand) -> list[str]:
    """The placement in words a coordinator can read to the member (7003 closing note: disclose criteria).

    Built from the cost terms the matcher chose by, in tier order.
    """
    t = p.terms
    lines: list[str] = []
    if demand.required_language:
        lines.append(f"staff speak {demand.required_language}, which the member requires")
    if demand.preferred_providers:
        if t.preference < UNRANKED:
            lines.append("the member's first choice" if t.preference == 0
                         else f"the member's choice number {t.preference + 1}")
        else:
            lines.append("none of the member's chosen providers could take them (see below)")
    if demand.prior_providers:
        lines.append("continues with the member's current or previous provider" if t.continuity == 0
                     else "the member's previous provider could not take them")
    if demand.languages and demand.cultural_preferences:
        lines.append({0: "staff share the member's language and meet their cultural preference",
                      1: "staff share the member's language or meet their cultural preference, not both"}.get(
                          t.fit, "staff share neither the member's language nor their cultural preference"))
    elif demand.languages:
        lines.append("staff share the member's language" if t.fit == 0 else "no staff share the member's language")
    elif demand.cultural_preferences:
        lines.append("meets the member's cultural preference" if t.fit == 0
                     else "does not meet the member's cultural preference")
    if t.travel:
        standard = f" (standard {demand.max_travel_miles:.0f} mi)" if demand.max_travel_miles else ""
        lines.append(f"about {t.travel} miles from home{standard}")
    if demand.current_site is not None:
        lines.append("kept its current provider" if t.stability == 0 else "moved from its previous proposal")
    if demand.post_discharge:
        lines.append("prioritised: post-discharge")
    return lines or ["the only provider with room that meets every rule"]


def _reason_text(p: Placement, demand: ReferralDemand) -> dict[str, Any]:
    return {
        "cost": p.cost,
        "explanation": explain_placement(p, demand),
        "preference_misses": [
            {"provider_id": m.provider_id, "rank": m.rank, "reason": str(m.reason)} for m in p.preference_misses
        ],
    }


def _terms(t: CostTerms) -> dict[str, Any]:
    return {"preference": t.preference, "continuity": t.continuity, "fit": t.fit, "travel": t.travel,
            "stability": t.stability}


def _unplaced_detail(u: Unplaced, waitlists: dict[str, str]) -> dict[str, Any]:
    """The gap report's row; ``waitlist_at`` only where a full provider has the plan's consent."""
    detail: dict[str, Any] = {
        "reason": str(u.reason),
        "side": str(u.side),
        "description": u.reason.description,
        "nearest": [{"provider_id": n.provider_id, "site": n.site_id, "miles": round(n.miles, 1)}
                    for n in u.would_take],
    }
    if u.reason is UnplacedReason.ALL_IN_AREA_FULL:
        # 7003 VI.E.5: no waitlists, except at a provider with the plan's recorded consent. The
        # referral stays unplaced (a network gap) and escalated either way.
        consenting = [n for n in u.would_take if split_pool_key(n.site_id)[0] in waitlists]
        if consenting:
            nearest = consenting[0]
            detail["waitlist_at"] = {"provider_id": nearest.provider_id,
                                     "contract_id": split_pool_key(nearest.site_id)[0]}
    return detail


def waitlist_contracts(session: Session, on_date: dt.date) -> dict[str, str]:
    """Contracts that may keep a waitlist on ``on_date`` (recorded plan consent), by id."""
    rows = session.execute(sa.select(Contract.id, Contract.provider_id).where(
        Contract.waitlist_consent.is_(True),
        sa.or_(Contract.waitlist_consent_date.is_(None), Contract.waitlist_consent_date <= on_date)))
    return {contract_id: provider_id for contract_id, provider_id in rows}


def run_solver(
    session: Session,
    *,
    on_date: dt.date,
    actor: str,
    trigger: RunTrigger,
    scope: Scope | None = None,
    trigger_ref: str | None = None,
    dry_run: bool = False,
    eligibility: EligibilityCheck | None = None,
    time_limit: float = 30.0,
    workers: int | None = None,
) -> RunOutcome:
    """Solve the open referrals in ``scope`` and write the result back (unless ``dry_run``).

    Accepted referrals are never in the solve; referrals already proposed or sent keep their
    provider unless moving them places more members or better (the stable re-solve). Unplaced
    referrals are recorded with their reason: never queued at a full provider (7003 VI.E.5).
    """
    outcome = solve_open_referrals(session, on_date=on_date, scope=scope, lock=not dry_run,
                                   eligibility=eligibility, time_limit=time_limit, workers=workers)
    if not dry_run:
        write_outcome(session, outcome, actor=actor, trigger=trigger, trigger_ref=trigger_ref)
    return outcome


def solve_open_referrals(
    session: Session,
    *,
    on_date: dt.date,
    scope: Scope | None = None,
    lock: bool = True,
    eligibility: EligibilityCheck | None = None,
    time_limit: float = 30.0,
    workers: int | None = None,
) -> RunOutcome:
    """The first half of :func:`run_solver`: lock (when it will write), read, solve and diff.

    Nothing is written; :func:`write_outcome` writes the outcome in the same transaction (the
    contract locks taken here hold until it ends).
    """
    scope = scope or Scope()
    if eligibility is None:
        eligibility = _default_eligibility()
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    if lock:
        lock_contracts(session, scope)
    snapshot = load_snapshot(session, on_date, scope=scope, eligibility=eligibility)
    seconds["load"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    # Service by service (exact: no pool or rule spans two services), each part checked by the
    # matcher's independent validator: never write an answer that breaks a hard rule.
    solution = solve_by_service(snapshot.data, time_limit=time_limit, workers=workers, check=True)
    seconds["solve"] = time.perf_counter() - t1
    return RunOutcome(run_id=None, solution=solution, snapshot=snapshot, scope=scope,
                      changes=_diff(snapshot, solution), seconds=seconds)


def _default_eligibility() -> EligibilityCheck | None:
    try:
        from referrals.eligibility import ineligible_referrals
    except ImportError:  # pragma: no cover - present once referrals.eligibility lands
        return None
    return ineligible_referrals


def _diff(snapshot: Snapshot, solution: Solution) -> list[Change]:
    placed = solution.assignment_by_referral
    unplaced = solution.unplaced_by_referral
    moves = {m.referral_id: m for m in solution.moved}
    changes: list[Change] = []
    for demand in snapshot.data.referrals:
        rid = demand.referral_id
        current = snapshot.current.get(rid)
        before = current.provider_id if current is not None else None
        if rid in placed:
            p = placed[rid]
            if demand.current_site == p.site_id:
                changes.append(Change(rid, "KEPT", before, p.provider_id, "kept its provider"))
            elif current is not None:
                move = moves.get(rid)
                why = move.detail if move is not None else "the re-solve found a better placement"
                changes.append(Change(rid, "MOVED", before, p.provider_id, why))
            else:
                changes.append(Change(rid, "NEWLY_PLACED", None, p.provider_id, "placed"))
        else:
            u = unplaced[rid]
            was = snapshot.referral_status.get(rid)
            kind = "STILL_UNPLACED" if was is ReferralStatus.UNPLACED and current is None else "NEWLY_UNPLACED"
            changes.append(Change(rid, kind, before, None, u.reason.description))
    return changes


def write_outcome(
    session: Session, outcome: RunOutcome, *, actor: str, trigger: RunTrigger, trigger_ref: str | None = None,
) -> None:
    """Write a solved outcome back: the run, new assignments, superseded ones, statuses and their
    history, unplaced records and the providers' notifications (the second half of :func:`run_solver`)."""
    started = time.perf_counter()
    _write(session, outcome, actor=actor, trigger=trigger, trigger_ref=trigger_ref)
    outcome.seconds["write"] = time.perf_counter() - started


def _write(
    session: Session, outcome: RunOutcome, *, actor: str, trigger: RunTrigger, trigger_ref: str | None,
) -> None:
    snapshot, solution, scope = outcome.snapshot, outcome.solution, outcome.scope
    now = utcnow()
    summary = outcome.summary
    run = SolverRun(
        trigger=trigger, trigger_ref=trigger_ref, actor=actor, started_at=now, finished_at=now,
        status=str(solution.status), method=solution.solver,
        referrals_considered=len(snapshot.data.referrals), placed=solution.placed,
        unplaced=len(solution.unplaced), moved=summary["MOVED"], newly_placed=summary["NEWLY_PLACED"],
        objective=float(solution.objective), bound=float(solution.bound), gap=float(solution.gap),
        runtime_seconds=solution.runtime,
        figures={"scope": scope.describe(), "components": solution.components, "seconds": outcome.seconds,
                 "summary": summary, "placed_bound": solution.placed_bound},
    )
    session.add(run)
    session.flush()
    outcome.run_id = run.id
    placed = solution.assignment_by_referral
    unplaced = solution.unplaced_by_referral
    on_date = snapshot.on_date

    superseded: list[int] = []
    assignment_writer = _DriverRows(session, _table(Assignment), ASSIGNMENT_COLUMNS)
    unplaced_writer = _DriverRows(session, _table(UnplacedReferral), UNPLACED_COLUMNS)
    new_rows: list[tuple[Any, ...]] = []
    moved_to: dict[ReferralStatus, list[str]] = defaultdict(list)  # new status -> referrals
    # History rows grouped by (step number, from, to, reason): a statewide run writes half a million
    # rows with a handful of distinct values besides the referral id.
    history: dict[tuple[int, ReferralStatus, ReferralStatus, str], list[str]] = defaultdict(list)
    unplaced_rows: list[tuple[Any, ...]] = []
    withdrawn_sent: list[HeldAssignment] = []
    re_referred: list[tuple[str, str, str | None]] = []  # referral, new provider, provider it left

    def move_status(rid: str, to: ReferralStatus, reason: str) -> None:
        was = snapshot.referral_status[rid]
        if was is to:
            return
        for number, step in enumerate(status_path(was, to)):
            history[(number, was, step, reason)].append(rid)
            was = step
        moved_to[to].append(rid)

    # The values every row shares, as the driver takes them; the few distinct texts made once each.
    at, created_by, run_id = assignment_writer.value("created_at", now), actor, run.id
    proposed, sent = (assignment_writer.value("status", s) for s in (AssignmentStatus.PROPOSED, AssignmentStatus.SENT))
    sent_on = assignment_writer.value("sent_on", on_date)
    reason_text = functools.cache(lambda prefix, why: f"solver run {run_id}: {prefix}{why}")
    terms_json = functools.cache(lambda t: assignment_writer.value("cost_terms", _terms(t)))
    demands = {d.referral_id: d for d in snapshot.data.referrals}
    waitlists = waitlist_contracts(session, on_date)
    for change in outcome.changes:
        rid = change.referral_id
        current = snapshot.current.get(rid)
        if change.kind == "KEPT":
            continue
        if current is not None:
            superseded.append(current.id)
            if current.status is AssignmentStatus.SENT:
                withdrawn_sent.append(current)
        if rid in placed:
            p = placed[rid]
            contract_id, site_id = split_pool_key(p.site_id)
            # 7003 VI.C.3.c: a referral a provider declined, or that a full provider held, is
            # re-referred at once: sent to the newly chosen provider, which gets a notification.
            re_referral = snapshot.referral_status[rid] is ReferralStatus.DECLINED or (
                current is not None and current.status is AssignmentStatus.SENT)
            new_rows.append((
                rid, p.provider_id, site_id, contract_id, p.units, run_id, sent if re_referral else proposed,
                sent_on if re_referral else None, terms_json(p.terms),
                assignment_writer.value("reasons", _reason_text(p, demands[rid]) | {"why": change.reason}),
                created_by, at,
            ))
            if re_referral:
                re_referred.append((rid, p.provider_id, current.provider_id if current else None))
                move_status(rid, ReferralStatus.SENT, reason_text("re-referred: ", change.reason))
            else:
                move_status(rid, ReferralStatus.PROPOSED, reason_text("", change.reason))
        else:
            u = unplaced[rid]
            unplaced_rows.append((rid, run_id, str(u.reason),
                                  unplaced_writer.value("detail", _unplaced_detail(u, waitlists)), at))
            move_status(rid, ReferralStatus.UNPLACED, reason_text("", u.reason.description))

    # Earlier unplaced records of the referrals in this solve are superseded by this run's answer.
    in_solve = [d.referral_id for d in snapshot.data.referrals]
    earlier = _table(UnplacedReferral)
    for chunk in _chunks(in_solve):
        session.execute(
            sa.update(earlier)
            .where(among(session, earlier.c.referral_id, chunk), earlier.c.resolved_at.is_(None),
                   earlier.c.solver_run_id != run.id)
            .values(resolved_at=now)
        )
    # One UPDATE per chunk of ids with the same new values, not one per row: a statewide run moves a
    # quarter of a million referrals to a handful of statuses.
    assignments, referrals = _table(Assignment), _table(Referral)
    for ids in _chunks(superseded):
        session.execute(sa.update(assignments).where(among(session, assignments.c.id, ids))
                        .values(status=AssignmentStatus.SUPERSEDED, ended_at=now))
    for status, rids in moved_to.items():
        for chunk in _chunks(rids):
            session.execute(sa.update(referrals).where(among(session, referrals.c.id, chunk))
                            .values(status=status, updated_at=now))
    _insert_history(session, history, on_date=on_date, at=now, actor=actor)
    unplaced_writer.insert(unplaced_rows)
    assignment_writer.insert(new_rows)
    new_ids: dict[str, int] = {}
    for chunk in _chunks([rid for rid, _, _ in re_referred]):
        new_ids.update((rid, aid) for aid, rid in session.execute(
            sa.select(assignments.c.id, assignments.c.referral_id)
            .where(assignments.c.solver_run_id == run_id, among(session, assignments.c.referral_id, chunk))))
    # Outbox: a provider that had the referral in hand hears it is withdrawn; a re-referral's new
    # provider hears of it at once; other proposals reach providers when the lead sends them.
    notes: list[dict[str, Any]] = [
        {"provider_id": old.provider_id, "referral_id": old.referral_id, "assignment_id": old.id,
         "kind": "WITHDRAWN", "payload": {"run": run.id}, "created_at": now}
        for old in withdrawn_sent
    ]
    notes.extend(
        {"provider_id": provider_id, "referral_id": rid, "assignment_id": new_ids.get(rid), "kind": "RE_REFERRAL",
         "payload": {"run": run.id, "from_provider": left, "sent_on": on_date.isoformat()}, "created_at": now}
        for rid, provider_id, left in re_referred
    )
    if notes:
        session.execute(sa.insert(Notification), notes)
    record_audit(session, actor=actor, action="solver.run", entity_type="solver_run", entity_id=run.id,
                 details={"trigger": str(trigger), "trigger_ref": trigger_ref, "scope": scope.describe(),
                          "summary": summary})
    session.flush()
    # The bulk UPDATEs bypassed the identity map: expire what they may have changed, nothing else.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, (Assignment, Referral, UnplacedReferral)):
            session.expire(obj)


@functools.cache
def status_path(start: ReferralStatus, goal: ReferralStatus) -> tuple[ReferralStatus, ...]:
    """The shortest legal walk through the life cycle (e.g. DECLINED -> PROPOSED -> SENT); cached:
    a statewide run asks the same few questions a quarter of a million times."""
    frontier: list[list[ReferralStatus]] = [[start]]
    seen = {start}
    while frontier:
        path = frontier.pop(0)
        for step in sorted(TRANSITIONS[path[-1]]):
            if step is goal:
                return (*path[1:], step)
            if step not in seen:
                seen.add(step)
                frontier.append(path + [step])
    raise PlacementError(f"no legal path from {start.value} to {goal.value}")


def _table(model: type[Base]) -> sa.Table:
    return cast(sa.Table, model.__table__)


#: The columns a run writes, in the order of the tuples :func:`_write` builds.
ASSIGNMENT_COLUMNS = ("referral_id", "provider_id", "site_id", "contract_id", "units", "solver_run_id", "status",
                      "sent_on", "cost_terms", "reasons", "created_by", "created_at")
UNPLACED_COLUMNS = ("referral_id", "solver_run_id", "reason", "detail", "created_at")


class _DriverRows:
    """Rows inserted through the driver in bulk, each value made by its column's bind processor
    (:meth:`value`): at state scale SQLAlchemy's per-row parameter handling cost more than the
    insert (a quarter of a million rows, each with two JSON documents). Values shared by every row
    are processed once by the caller. PostgreSQL (psycopg) takes them by ``COPY``, SQLite in
    multi-row ``INSERT`` statements."""

    #: Parameters per INSERT statement, within SQLite's limit (32,766).
    PARAMETERS = 12_000

    def __init__(self, session: Session, table: sa.Table, columns: tuple[str, ...]) -> None:
        self.connection = session.connection()
        dialect = self.connection.dialect
        # the dialect's own implementation of each type (psycopg wraps JSON, SQLite formats datetimes)
        self.processors = {name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns}
        names = ", ".join(dialect.identifier_preparer.quote(name) for name in columns)
        self.copy = f"COPY {table.name} ({names}) FROM STDIN" if dialect.driver == "psycopg" else None
        self.head = f"INSERT INTO {table.name} ({names}) VALUES "
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.row_marks = f"({', '.join([mark] * len(columns))})"
        self.per_statement = max(1, self.PARAMETERS // len(columns))

    def value(self, column: str, value: Any) -> Any:
        process = self.processors[column]
        return value if process is None or value is None else process(value)

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        if self.copy is not None:
            if rows:
                with self.connection.connection.cursor().copy(self.copy) as copy:
                    for row in rows:
                        copy.write_row(row)
            return
        full = self.head + ", ".join([self.row_marks] * self.per_statement)
        for start in range(0, len(rows), self.per_statement):
            batch = rows[start : start + self.per_statement]
            sql = full if len(batch) == self.per_statement else self.head + ", ".join([self.row_marks] * len(batch))
            self.connection.exec_driver_sql(sql, tuple(itertools.chain.from_iterable(batch)))


def _insert_history(
    session: Session, history: dict[tuple[int, ReferralStatus, ReferralStatus, str], list[str]], *,
    on_date: dt.date, at: dt.datetime, actor: str,
) -> None:
    """Write the status-history rows as ``INSERT ... SELECT`` per group and chunk of referral ids.

    First steps are written before second steps, so a referral's rows keep their order by id.
    """
    changes, referrals = _table(ReferralStatusChange), _table(Referral)
    columns = ["referral_id", "from_status", "to_status", "on_date", "at", "actor", "reason", "reason_code"]
    for (_, was, step, reason), rids in sorted(history.items(), key=lambda item: item[0][0]):
        values = [sa.literal(v, type_=changes.c[name].type).label(name) for name, v in
                  (("from_status", was), ("to_status", step), ("on_date", on_date), ("at", at), ("actor", actor),
                   ("reason", reason))]
        for chunk in _chunks(sorted(rids)):
            rows = (sa.select(referrals.c.id, *values, sa.null().label("reason_code"))
                    .where(among(session, referrals.c.id, chunk)))
            session.execute(sa.insert(changes).from_select(columns, rows))


def _chunks(items: list[T], size: int = 5000) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def resolve_after_capacity_change(
    session: Session, contract_id: str, *, on_date: dt.date, actor: str, trigger_ref: str | None = None,
    trigger: RunTrigger = RunTrigger.CAPACITY_REPORT,
) -> RunOutcome:
    """Re-solve at once what a capacity change at this contract affects, and nothing else.

    The referrals it holds but has not accepted are re-solved (they may stay if it still has room,
    which the stable re-solve prefers), together with the members of its service and counties who
    are waiting unplaced (new room may take them). Everyone else keeps their provider and their
    units: an unrelated provider's referrals never move here; the nightly rebalance is the place
    for a whole-plan re-solve. Accepted referrals never move.
    """
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise PlacementError(f"contract {contract_id!r} does not exist")
    at_contract = select_unaccepted_at(contract_id)
    waiting = (
        sa.select(Referral.id)
        .join(Member, Member.id == Referral.member_id)
        .where(Referral.service_key == contract.service_key,
               Member.county.in_(contract.county_names),
               Referral.status.in_(MATCHABLE_STATUSES),
               ~sa.exists().where(Assignment.referral_id == Referral.id,
                                  Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES)))
    )
    ids = frozenset(session.scalars(at_contract)) | frozenset(session.scalars(waiting))
    scope = Scope(service=contract.service_key, referral_ids=ids)
    return run_solver(session, on_date=on_date, actor=actor, trigger=trigger, scope=scope,
                      trigger_ref=trigger_ref or contract_id)


def select_unaccepted_at(contract_id: str) -> sa.Select[str]:
    """Referrals proposed or sent to this contract and not yet accepted."""
    return sa.select(Assignment.referral_id).where(
        Assignment.contract_id == contract_id,
        Assignment.status.in_((AssignmentStatus.PROPOSED, AssignmentStatus.SENT)),
    )


def active_assignment(session: Session, referral_id: str) -> Assignment | None:
    return session.scalar(
        sa.select(Assignment).where(Assignment.referral_id == referral_id,
                                    Assignment.status.in_((AssignmentStatus.PROPOSED, AssignmentStatus.SENT,
                                                           AssignmentStatus.ACCEPTED)))
    )


def send_assignments(session: Session, assignment_ids: list[int], *, actor: str, on_date: dt.date) -> int:
    """The lead accepts proposals: each is sent to its provider (7003 VI.C.3: within 10 business days)."""
    from referrals.lifecycle import transition

    sent = 0
    for assignment in session.scalars(sa.select(Assignment).where(Assignment.id.in_(assignment_ids))):
        if assignment.status is not AssignmentStatus.PROPOSED:
            raise PlacementError(f"assignment {assignment.id!r} is {assignment.status.value}, not PROPOSED")
        transition(session, assignment.referral, ReferralStatus.SENT, actor=actor, on_date=on_date,
                   reason=f"sent to {assignment.provider_id}")
        assignment.status = AssignmentStatus.SENT
        assignment.sent_on = on_date
        session.add(Notification(provider_id=assignment.provider_id, referral_id=assignment.referral_id,
                                 assignment_id=assignment.id, kind="NEW_REFERRAL", payload={"sent_on": str(on_date)}))
        sent += 1
    session.flush()
    return sent


def accept_assignment(session: Session, assignment_id: int, *, actor: str, on_date: dt.date) -> Assignment:
    """The provider accepts (7003 VI.C.3.a); from now on no re-solve moves this referral."""
    from referrals.lifecycle import transition

    assignment = _get_assignment(session, assignment_id)
    if assignment.status is not AssignmentStatus.SENT:
        raise PlacementError(f"assignment {assignment_id!r} is {assignment.status.value}; only SENT can be accepted")
    transition(session, assignment.referral, ReferralStatus.ACCEPTED, actor=actor, on_date=on_date)
    assignment.status = AssignmentStatus.ACCEPTED
    assignment.answered_on = on_date
    session.flush()
    return assignment


@dataclass
class DeclineOutcome:
    assignment: Assignment
    full_report: CapacityReport | None
    resolve: RunOutcome


def decline_assignment(
    session: Session, assignment_id: int, *, reason_code: str, actor: str, on_date: dt.date, reason: str = "",
) -> DeclineOutcome:
    """The provider declines. At full capacity (7003 VI.C.3.b) that is also a FULL capacity report and
    the provider's unaccepted referrals are re-solved at once; otherwise the member is re-referred."""
    from referrals.lifecycle import DeclineReason, transition
    from referrals.models import ExclusionReason, ReferralExclusion

    assignment = _get_assignment(session, assignment_id)
    if assignment.status is not AssignmentStatus.SENT:
        raise PlacementError(f"assignment {assignment_id!r} is {assignment.status.value}; only SENT can be declined")
    transition(session, assignment.referral, ReferralStatus.DECLINED, actor=actor, on_date=on_date,
               reason=reason, reason_code=reason_code)
    assignment.status = AssignmentStatus.DECLINED
    assignment.decline_reason = reason_code
    assignment.answered_on = on_date
    assignment.ended_at = utcnow()
    if session.get(ReferralExclusion, (assignment.referral_id, assignment.provider_id)) is None:
        session.add(ReferralExclusion(referral_id=assignment.referral_id, provider_id=assignment.provider_id,
                                      reason=ExclusionReason.DECLINED))
    report = None
    if DeclineReason(reason_code) is DeclineReason.AT_CAPACITY:
        # 7003 VI.C.3.b: declining at full capacity is also the provider saying it is full.
        report = record_capacity_report(
            session, assignment.contract_id, CapacityReportKind.FULL, on_date, on_date, actor,
            note=f"declined referral {assignment.referral_id} at full capacity",
        ).report
    session.flush()
    record_audit(session, actor=actor, action="assignment.decline", entity_type="assignment",
                 entity_id=assignment.id, details={"reason_code": reason_code, "reason": reason,
                                                   "referral": assignment.referral_id})
    if report is not None:
        outcome = resolve_after_capacity_change(session, assignment.contract_id, on_date=on_date, actor=actor,
                                                trigger=RunTrigger.DECLINE, trigger_ref=assignment.referral_id)
    else:
        outcome = run_solver(session, on_date=on_date, actor=actor, trigger=RunTrigger.DECLINE,
                             trigger_ref=assignment.referral_id,
                             scope=Scope(service=assignment.contract.service_key,
                                         referral_ids=frozenset({assignment.referral_id})))
    return DeclineOutcome(assignment=assignment, full_report=report, resolve=outcome)


def _get_assignment(session: Session, assignment_id: int) -> Assignment:
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        raise PlacementError(f"assignment {assignment_id!r} does not exist")
    return assignment


@dataclass
class CapacityChangeOutcome:
    """A recorded capacity report and, when it changed what is open, the re-solve it triggered."""

    recorded: RecordedReport
    resolve: RunOutcome | None


def report_capacity(
    session: Session,
    contract_id: str,
    kind: CapacityReportKind | str,
    change_date: dt.date,
    reported_date: dt.date,
    actor: str,
    *,
    new_capacity: int | None = None,
    staffing_change: str | None = None,
    note: str = "",
) -> CapacityChangeOutcome:
    """Record a capacity report and, if it changes the open units today, re-solve at once.

    A FULL report or a shrink moves that provider's unaccepted referrals elsewhere; a reopening or a
    larger number lets waiting (unplaced) referrals in. A pure staffing change, or a change dated in
    the future, re-solves nothing yet (the nightly rebalance picks it up on the day).
    """
    recorded = record_capacity_report(
        session, contract_id, kind, change_date, reported_date, actor,
        new_capacity=new_capacity, staffing_change=staffing_change, note=note,
    )
    capacity_moved = recorded.before.open != recorded.after.open or recorded.resolve_needed
    resolve = None
    if capacity_moved and change_date <= reported_date:
        resolve = resolve_after_capacity_change(
            session, contract_id, on_date=reported_date, actor=actor, trigger_ref=f"report {recorded.report.id}",
        )
    return CapacityChangeOutcome(recorded=recorded, resolve=resolve)


def override_assignment(
    session: Session,
    assignment_id: int,
    *,
    contract_id: str,
    site_id: str | None,
    reason: str,
    actor: str,
    on_date: dt.date,
) -> Assignment:
    """The lead replaces one proposal with another provider, with a written reason.

    An override is a human decision, but not one above the rules: the new provider must pass every
    hard rule (service, area, travel standard, required language, exclusions, eligibility) and
    have room, checked under the contract lock exactly as the solver's placements are.

    :raise PlacementError: no reason given, the assignment is not a proposal, the contract or site
        is unknown or does not deliver the referral's service, a hard rule fails, or no room.
    """
    from matcher.validate import rule_violation

    if not reason.strip():
        raise PlacementError(f"assignment {assignment_id!r}: an override needs a written reason")
    old = _get_assignment(session, assignment_id)
    if old.status is not AssignmentStatus.PROPOSED:
        raise PlacementError(f"assignment {assignment_id!r} is {old.status.value}; only a proposal can be overridden")
    contract = session.get(Contract, contract_id)
    referral = old.referral
    if contract is None or contract.service_key != referral.service_key:
        raise PlacementError(f"contract {contract_id!r} does not deliver {referral.service_key} "
                             f"(referral {referral.id!r})")
    scope = Scope(service=referral.service_key, referral_ids=frozenset({referral.id}))
    lock_contracts(session, Scope(service=referral.service_key))
    snapshot = load_snapshot(session, on_date, scope=scope, eligibility=_default_eligibility())
    (demand,) = snapshot.data.referrals
    pools = [s for s in snapshot.data.sites if s.contract_id == contract_id
             and (site_id is None or s.site_id.endswith(f"@{site_id}"))]
    if not pools:
        raise PlacementError(f"contract {contract_id!r} is not in force on {on_date} or has no site {site_id!r}")
    site = pools[0]
    violation = rule_violation(demand, site)
    if violation is not None:
        raise PlacementError(f"referral {referral.id!r} cannot go to {site.provider_id!r}: {violation}")
    pool = next(c for c in snapshot.data.contracts if c.contract_id == contract_id)
    room = pool.remaining_units if site.remaining_units is None else min(pool.remaining_units, site.remaining_units)
    if site.reported_full or room < referral.units_needed:
        raise PlacementError(f"provider {site.provider_id!r} has {0 if site.reported_full else room} open units "
                             f"under contract {contract_id!r}; referral {referral.id!r} needs {referral.units_needed}")
    old.status = AssignmentStatus.SUPERSEDED
    old.ended_at = utcnow()
    session.flush()
    _, chosen_site = split_pool_key(site.site_id)
    new = Assignment(
        referral_id=referral.id, provider_id=site.provider_id, site_id=chosen_site, contract_id=contract_id,
        units=referral.units_needed, solver_run_id=old.solver_run_id, status=AssignmentStatus.PROPOSED,
        override_reason=reason, created_by=actor, cost_terms={},
        reasons={"override": reason, "replaces": old.provider_id, "explanation": [f"chosen by {actor}: {reason}"]},
    )
    session.add(new)
    session.flush()
    record_audit(session, actor=actor, action="assignment.override", entity_type="assignment", entity_id=new.id,
                 details={"referral": referral.id, "from": old.provider_id, "to": site.provider_id,
                          "reason": reason})
    return new
