"""Problem and solution files (JSON), so any instance can be solved and any run reproduced.

The schema is documented, with an example, in ``docs/problem-format.md``. Arcs may be listed as
objects (``{"referral": ..., "site": ..., "cost": ..., "units": ...}``) or, for large problems,
as columns (``{"referral": [...], "site": [...], "cost": [...], "units": [...]}``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from matcher.errors import ProblemError
from matcher.problem import NO_LIMIT, IntArray, Problem
from matcher.reasons import MoveReason, PreferenceMissReason, SolveStatus, UnplacedReason
from matcher.solution import Assignment, CostTerms, Move, NearbySite, PreferenceMiss, Solution, Unplaced
from matcher.weights import TIERS

__all__ = [
    "PROBLEM_FORMAT",
    "SOLUTION_FORMAT",
    "problem_from_dict",
    "problem_to_dict",
    "read_problem",
    "read_solution",
    "solution_from_dict",
    "solution_to_dict",
    "write_problem",
    "write_solution",
]

PROBLEM_FORMAT = "csmatch-problem"
SOLUTION_FORMAT = "csmatch-solution"
VERSION = 1


def _get(record: Mapping[str, Any], key: str, kind: str, default: Any = ..., types: tuple[type, ...] = ()) -> Any:
    """Field ``key`` of a file record; a ProblemError naming the record if missing or mistyped."""
    if not isinstance(record, Mapping):
        raise ProblemError(f"{kind} record {record!r} is not an object")
    if key not in record:
        if default is ...:
            raise ProblemError(f"{kind} {record!r} has no {key!r}")
        return default
    value = record[key]
    if types and value is not None and (not isinstance(value, types) or isinstance(value, bool) and bool not in types):
        raise ProblemError(f"{kind} {record!r}: {key!r} must be {' or '.join(t.__name__ for t in types)}")
    return value


def _rows(section: Any, kind: str, columns: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """Accept a list of objects, or an object of equal-length columns."""
    if isinstance(section, Mapping):
        lengths = {len(v) for v in section.values()}
        if len(lengths) > 1:
            raise ProblemError(f"{kind} columns have different lengths {sorted(lengths)!r}")
        keys = [k for k in columns if k in section]
        return [dict(zip(keys, values, strict=True)) for values in zip(*(section[k] for k in keys), strict=True)]
    if not isinstance(section, list):
        raise ProblemError(f"{kind}s must be a list of objects or an object of columns")
    return section


def problem_from_dict(document: Mapping[str, Any]) -> Problem:
    """Build a Problem from a parsed problem file; bad records raise ProblemError naming them."""
    if document.get("format", PROBLEM_FORMAT) != PROBLEM_FORMAT:
        raise ProblemError(f"not a {PROBLEM_FORMAT!r} file: format is {document.get('format')!r}")
    referrals = _rows(document.get("referrals", []), "referral", ())
    sites = _rows(document.get("sites", []), "site", ())
    contracts = _rows(document.get("contracts", []), "contract", ())
    arcs = _rows(document.get("arcs", []), "arc", ("referral", "site", "cost", "units", "miles", "terms"))
    preferences = _rows(document.get("preferences", []), "preference", ())
    referral_ids = tuple(str(_get(r, "id", "referral", types=(str,))) for r in referrals)
    site_ids = tuple(str(_get(s, "id", "site", types=(str,))) for s in sites)
    contract_ids = tuple(str(_get(c, "id", "contract", types=(str,))) for c in contracts)
    referral_index = {k: i for i, k in enumerate(referral_ids)}
    site_index = {k: i for i, k in enumerate(site_ids)}
    contract_index = {k: i for i, k in enumerate(contract_ids)}

    def look_up(index: dict[str, int], key: Any, kind: str, record: Any, what: str) -> int:
        if key is None:
            return -1
        if key not in index:
            raise ProblemError(f"{kind} {record!r} names unknown {what} {key!r}")
        return index[key]

    def capacity(record: Mapping[str, Any], kind: str, default: Any = ...) -> int:
        value = _get(record, "capacity", kind, default, types=(int,))
        if value is not None and value < 0:
            raise ProblemError(f"{kind} {record!r} has negative capacity {value!r}")
        return NO_LIMIT if value is None else int(value)

    arc_terms = np.zeros((len(arcs), len(TIERS)), dtype=np.int32)
    for i, a in enumerate(arcs):
        terms = _get(a, "terms", "arc", None, types=(dict, list))
        if isinstance(terms, dict):
            unknown = set(terms) - set(TIERS)
            if unknown:
                raise ProblemError(f"arc {a!r} has unknown terms {sorted(unknown)!r}")
            arc_terms[i] = [int(terms.get(t, 0)) for t in TIERS]
        elif isinstance(terms, list):
            arc_terms[i] = terms
    def ints(values: list[Any]) -> IntArray:
        return np.array(values, dtype=np.int64)

    return Problem(
        referral_ids=referral_ids,
        referral_penalty=ints([_get(r, "penalty", "referral", 0, types=(int,)) for r in referrals]),
        referral_units=ints([_get(r, "units", "referral", 1, types=(int,)) for r in referrals]),
        referral_current=ints([look_up(site_index, _get(r, "current_site", "referral", None), "referral", r, "site")
                               for r in referrals]),
        referral_locked=np.array([_get(r, "locked", "referral", False, types=(bool,)) for r in referrals], bool),
        referral_block=tuple(_enum(UnplacedReason, _get(r, "block", "referral", None), "referral", r)
                             for r in referrals),
        site_ids=site_ids,
        site_provider=tuple(str(_get(s, "provider", "site", s.get("id") if isinstance(s, Mapping) else None))
                            for s in sites),
        site_capacity=ints([capacity(s, "site", None) for s in sites]),
        site_contract=ints([look_up(contract_index, _get(s, "contract", "site", None), "site", s, "contract")
                            for s in sites]),
        site_reported_full=np.array([_get(s, "reported_full", "site", False, types=(bool,)) for s in sites], bool),
        contract_ids=contract_ids,
        contract_capacity=ints([capacity(c, "contract") for c in contracts]),
        arc_referral=ints([look_up(referral_index, _get(a, "referral", "arc"), "arc", a, "referral") for a in arcs]),
        arc_site=ints([look_up(site_index, _get(a, "site", "arc"), "arc", a, "site") for a in arcs]),
        arc_units=ints([_get(a, "units", "arc", types=(int,)) for a in arcs]),
        arc_cost=ints([_get(a, "cost", "arc", types=(int,)) for a in arcs]),
        arc_terms=arc_terms,
        arc_miles=np.array([_get(a, "miles", "arc", None, types=(int, float)) for a in arcs], dtype=np.float64),
        preference_referral=ints([look_up(referral_index, _get(x, "referral", "preference"), "preference", x,
                                          "referral") for x in preferences]),
        preference_provider=tuple(str(_get(x, "provider", "preference")) for x in preferences),
        preference_rank=ints([_get(x, "rank", "preference", types=(int,)) for x in preferences]),
        preference_block=tuple(_enum(PreferenceMissReason, _get(x, "block", "preference", None), "preference", x)
                               for x in preferences),
    )


def _enum(kind: Any, value: Any, record_kind: str, record: Any) -> Any:
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise ProblemError(f"{record_kind} {record!r} has unknown reason {value!r}") from None


def problem_to_dict(problem: Problem, *, columns: bool = False) -> dict[str, Any]:
    """The file form of ``problem``; ``columns=True`` writes arcs as columns (compact, fast)."""
    p = problem

    def site_key(i: int) -> str | None:
        return None if i < 0 else p.site_ids[i]

    arcs: Any
    arc_columns = {
        "referral": [p.referral_ids[r] for r in p.arc_referral.tolist()],
        "site": [p.site_ids[s] for s in p.arc_site.tolist()],
        "cost": p.arc_cost.tolist(),
        "units": p.arc_units.tolist(),
        "miles": [None if math.isnan(m) else m for m in p.arc_miles.tolist()],
        "terms": p.arc_terms.tolist(),
    }
    if columns:
        arcs = arc_columns
    else:
        arcs = [dict(zip(arc_columns, values, strict=True)) for values in zip(*arc_columns.values(), strict=True)]
        for arc in arcs:
            arc["terms"] = dict(zip(TIERS, arc["terms"], strict=True))
    return {
        "format": PROBLEM_FORMAT,
        "version": VERSION,
        "referrals": [
            {"id": k, "penalty": pen, "units": u, "current_site": site_key(cur), "locked": lock,
             "block": None if b is None else b.value}
            for k, pen, u, cur, lock, b in zip(p.referral_ids, p.referral_penalty.tolist(), p.referral_units.tolist(),
                                               p.referral_current.tolist(), p.referral_locked.tolist(),
                                               p.referral_block, strict=True)
        ],
        "sites": [
            {"id": k, "provider": prov, "capacity": None if cap == NO_LIMIT else cap,
             "contract": None if c < 0 else p.contract_ids[c], "reported_full": full}
            for k, prov, cap, c, full in zip(p.site_ids, p.site_provider, p.site_capacity.tolist(),
                                             p.site_contract.tolist(), p.site_reported_full.tolist(), strict=True)
        ],
        "contracts": [{"id": k, "capacity": cap} for k, cap in zip(p.contract_ids, p.contract_capacity.tolist(),
                                                                   strict=True)],
        "arcs": arcs,
        "preferences": [
            {"referral": p.referral_ids[r], "provider": prov, "rank": rank, "block": None if b is None else b.value}
            for r, prov, rank, b in zip(p.preference_referral.tolist(), p.preference_provider,
                                        p.preference_rank.tolist(), p.preference_block, strict=True)
        ],
    }


def read_problem(path: str | Path) -> Problem:
    """Read a problem file.

    Raises
    ------
    ProblemError
        If the file is not valid JSON or a record is malformed (the message names it).
    """
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ProblemError(f"{str(path)!r} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ProblemError(f"{str(path)!r} does not hold a JSON object")
    return problem_from_dict(document)


def write_problem(problem: Problem, path: str | Path, *, columns: bool = False) -> None:
    """Write a problem file that :func:`read_problem` reads back to the same problem."""
    Path(path).write_text(json.dumps(problem_to_dict(problem, columns=columns), indent=1), encoding="utf-8")


def solution_to_dict(solution: Solution) -> dict[str, Any]:
    """The file form of ``solution``."""
    s = solution
    return {
        "format": SOLUTION_FORMAT,
        "version": VERSION,
        "status": s.status.value,
        "objective": s.objective,
        "bound": s.bound,
        "gap": s.gap,
        "placed": s.placed,
        "placed_bound": s.placed_bound,
        "runtime": round(s.runtime, 6),
        "components": s.components,
        "solver": s.solver,
        "assignments": [
            {"referral": a.referral_id, "site": a.site_id, "provider": a.provider_id, "units": a.units,
             "cost": a.cost, "terms": {t: getattr(a.terms, t) for t in TIERS}, "locked": a.locked,
             "preference_misses": [{"provider": m.provider_id, "rank": m.rank, "reason": m.reason.value}
                                   for m in a.preference_misses]}
            for a in s.assignments
        ],
        "unplaced": [
            {"referral": u.referral_id, "reason": u.reason.value, "side": u.side.value, "penalty": u.penalty,
             "would_take": [{"site": n.site_id, "provider": n.provider_id,
                             "miles": None if math.isnan(n.miles) else n.miles} for n in u.would_take]}
            for u in s.unplaced
        ],
        "moved": [
            {"referral": m.referral_id, "from_site": m.from_site, "to_site": m.to_site, "reason": m.reason.value,
             "detail": m.detail}
            for m in s.moved
        ],
    }


def solution_from_dict(document: Mapping[str, Any]) -> Solution:
    """Rebuild a Solution from its file form."""
    if document.get("format") != SOLUTION_FORMAT:
        raise ProblemError(f"not a {SOLUTION_FORMAT!r} file: format is {document.get('format')!r}")
    return Solution(
        status=SolveStatus(document["status"]),
        objective=int(document["objective"]),
        bound=int(document["bound"]),
        placed=int(document["placed"]),
        placed_bound=int(document.get("placed_bound", document["placed"])),
        runtime=float(document["runtime"]),
        components=int(document["components"]),
        solver=str(document.get("solver", "")),
        assignments=tuple(
            Assignment(a["referral"], a["site"], a["provider"], a["units"], a["cost"], CostTerms(**a["terms"]),
                       a["locked"], tuple(PreferenceMiss(m["provider"], m["rank"], PreferenceMissReason(m["reason"]))
                                          for m in a["preference_misses"]))
            for a in document["assignments"]
        ),
        unplaced=tuple(
            Unplaced(u["referral"], UnplacedReason(u["reason"]), u["penalty"],
                     tuple(NearbySite(n["site"], n["provider"], math.nan if n["miles"] is None else n["miles"])
                           for n in u["would_take"]))
            for u in document["unplaced"]
        ),
        moved=tuple(
            Move(m["referral"], m["from_site"], m["to_site"], MoveReason(m["reason"]), m["detail"])
            for m in document["moved"]
        ),
    )


def write_solution(solution: Solution, path: str | Path) -> None:
    """Write a solution file."""
    Path(path).write_text(json.dumps(solution_to_dict(solution), indent=1), encoding="utf-8")


def read_solution(path: str | Path) -> Solution:
    """Read a solution file written by :func:`write_solution`."""
    return solution_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
