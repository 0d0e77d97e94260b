"""Benchmark the matcher against what a user would otherwise use, in one run.

    .venv/bin/python -m bench.bench_matcher                   # every size, every baseline
    .venv/bin/python -m bench.bench_matcher --sizes 2000,20000
    .venv/bin/python -m bench.bench_matcher --only-extras --mixed-sizes 20000   # weighted rows only

The *mixed* rows are plans made the way the service makes them: the fixtures generator's roster
files (``fixtures.generate``; unit and weighted services, meals 7-21 a week, respite 4-24 hours,
personal care 4-20 h/week; providers = referrals / 50 as in ``bench/bench_service.py``) loaded
into SQLite by the real importer and read back by the database adapter
(``placement.snapshot.load_snapshot``). That takes minutes at 250,000 referrals, so the records
and the built Problem are cached in ``bench/results/cache/`` (gitignored) and reused.

Each figure comes from its own fresh subprocess, which regenerates the seeded instance
(bench/generate.py), then times one method; peak memory is that process's maximum resident set
(``ru_maxrss``: it includes the generated data; ``base`` is the resident set just before the
method ran). Results print as a table and go to ``bench/results/`` as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import baselines  # noqa: E402
from bench.generate import generate  # noqa: E402
from matcher import build_problem, resolve, solve, validate  # noqa: E402
from matcher.resolve import current_sites, with_current  # noqa: E402

SIZES = (2_000, 20_000, 100_000, 250_000)
#: Baselines that would take minutes (or gigabytes) beyond these sizes are skipped, and said so.
NETWORKX_MAX = 20_000
MONOLITHIC_MAX = 20_000
WEIGHTED_SIZE = 5_000
RESOLVE_SIZE = 20_000
MIXED_SIZES = (20_000, 250_000)
#: The mixed plans' seed: the matcher issue's 20,000-referral example (``--seed 7``).
MIXED_SEED = 7
#: Baselines on mixed plans up to this size (greedy copies every arc into Python lists).
MIXED_BASELINE_MAX = 20_000
CACHE = ROOT / "bench" / "results" / "cache"
AS_OF = "2026-11-20"


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mixed_data(size: int, seed: int) -> Path:
    """The cached records of a fixtures-made plan of ``size`` referrals (made on first use)."""
    import datetime as dt
    import pickle
    import tempfile

    from sqlalchemy.orm import Session

    from csmatch import migrate
    from csmatch.db import make_engine
    from csmatch.seed import sync_services
    from exchange.roster import load_roster
    from fixtures.generate import generate as generate_roster
    from placement.services import _default_eligibility
    from placement.snapshot import Scope, load_snapshot

    path = CACHE / f"mixed-{size}-p{size // 50}-s{seed}.data.pkl"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    as_of = dt.date.fromisoformat(AS_OF)
    with tempfile.TemporaryDirectory() as work:
        generate_roster(Path(work) / "roster", referrals=size, providers=max(60, size // 50), seed=seed, as_of=as_of)
        engine = make_engine(f"sqlite:///{work}/plan.sqlite")
        migrate.upgrade(engine=engine)
        with Session(engine) as session:
            sync_services(session)
            load_roster(session, Path(work) / "roster", today=as_of)
            session.commit()
        with Session(engine) as session:
            snapshot = load_snapshot(session, as_of, scope=Scope(), eligibility=_default_eligibility())
        engine.dispose()
    path.with_suffix(".tmp").write_bytes(pickle.dumps(snapshot.data, protocol=pickle.HIGHEST_PROTOCOL))
    path.with_suffix(".tmp").rename(path)
    return path


def _load(path: Path) -> Any:
    import pickle

    with path.open("rb") as f:
        return pickle.load(f)  # noqa: S301 - our own cache


def measure(method: str, size: int, seed: int, weighted: bool, time_limit: float, workers: int,
            mixed: bool = False) -> dict[str, Any]:
    """Run one method on one instance in this process; return its figures."""
    if mixed:
        return _measure_mixed(method, size, MIXED_SEED, time_limit, workers)
    data = generate(size, seed=seed, weighted=weighted)
    problem = None if method == "build" else build_problem(data)
    base = _rss_mb()
    out: dict[str, Any] = {"method": method, "size": size, "weighted": weighted}
    started = time.perf_counter()
    if method == "build":
        built = build_problem(data)
        out["wall"] = time.perf_counter() - started
        out |= {"arcs": built.n_arcs, "sites": built.n_sites}
    elif problem is None:
        raise AssertionError(f"method {method!r} needs a built problem")
    elif method in ("csmatch", "csmatch-1"):
        solution = solve(problem, time_limit=time_limit, workers=1 if method == "csmatch-1" else workers)
        out["wall"] = time.perf_counter() - started
        out |= {"placed": solution.placed, "objective": solution.objective, "bound": solution.bound,
                "gap": solution.gap, "placed_bound": solution.placed_bound, "status": str(solution.status),
                "components": solution.components, "solver": solution.solver}
        checked = time.perf_counter()
        validate(solution, problem, data)
        out["validated_in"] = time.perf_counter() - checked
    elif method == "resolve":
        out |= _resolve(data, problem, workers)
    else:
        run: Callable[[], tuple[np.ndarray, dict[str, Any]]] = {
            "raw-flow": lambda: baselines.raw_flow(problem),
            "greedy": lambda: baselines.greedy_first_come(problem),
            "networkx": lambda: baselines.networkx_flow(problem),
            "cp-sat": lambda: baselines.monolithic_cp_sat(problem, time_limit),
        }[method]
        chosen, figures = run()
        out["wall"] = time.perf_counter() - started
        out["placed"], out["objective"] = baselines.score(problem, chosen)
        out |= figures
    out |= {"base_mb": round(base, 1), "peak_mb": round(_peak_mb(), 1), "load": round(os.getloadavg()[0], 2)}
    return out


def _measure_mixed(method: str, size: int, seed: int, time_limit: float, workers: int) -> dict[str, Any]:
    """Mixed plans: ``build`` times MatchData -> Problem (and caches the Problem); ``csmatch``
    times Problem -> Solution, the Problem loaded from that cache so the peak is the solve's."""
    import pickle

    data_path = mixed_data(size, seed)
    problem_path = data_path.with_name(data_path.name.replace(".data.", ".problem."))
    out: dict[str, Any] = {"method": method, "size": size, "weighted": False, "mixed": True}
    if method == "build":
        data = _load(data_path)
        base = _rss_mb()
        started = time.perf_counter()
        problem = build_problem(data)
        out["wall"] = time.perf_counter() - started
        out |= {"arcs": problem.n_arcs, "sites": problem.n_sites,
                "weighted_referrals": int((problem.referral_units > 1).sum())}
        out |= {"base_mb": round(base, 1), "peak_mb": round(_peak_mb(), 1), "load": round(os.getloadavg()[0], 2)}
        problem_path.write_bytes(pickle.dumps(problem, protocol=pickle.HIGHEST_PROTOCOL))
        return out
    if not problem_path.exists():
        problem_path.write_bytes(pickle.dumps(build_problem(_load(data_path)), protocol=pickle.HIGHEST_PROTOCOL))
    problem = _load(problem_path)
    base = _rss_mb()
    started = time.perf_counter()
    if method == "csmatch":
        solution = solve(problem, time_limit=time_limit, workers=workers)
        out["wall"] = time.perf_counter() - started
        out |= {"placed": solution.placed, "objective": solution.objective, "bound": solution.bound,
                "gap": solution.gap, "placed_bound": solution.placed_bound, "status": str(solution.status),
                "components": solution.components, "solver": solution.solver}
        peak, load = _peak_mb(), os.getloadavg()[0]
        checked = time.perf_counter()
        validate(solution, problem, _load(data_path) if size <= MIXED_BASELINE_MAX else None)
        out["validated_in"] = time.perf_counter() - checked
    else:
        chosen, figures = baselines.greedy_first_come(problem)
        out["wall"] = time.perf_counter() - started
        out["placed"], out["objective"] = baselines.score(problem, chosen)
        out |= figures
        peak, load = _peak_mb(), os.getloadavg()[0]
    return out | {"base_mb": round(base, 1), "peak_mb": round(peak, 1), "load": round(load, 2)}


def _resolve(data: Any, problem: Any, workers: int) -> dict[str, Any]:
    """Solve, then the busiest provider reports full: time the re-solve two ways."""
    first = solve(problem, workers=workers)
    busiest = max({a.provider_id for a in first.assignments},
                  key=lambda prov: sum(a.provider_id == prov for a in first.assignments))
    # (a) Problem-level: zero that provider's sites, keep the proposals, re-solve.
    started = time.perf_counter()
    full = np.array([prov == busiest for prov in problem.site_provider])
    changed = dataclasses.replace(problem, site_capacity=np.where(full, 0, problem.site_capacity),
                                  site_reported_full=problem.site_reported_full | full)
    again = resolve(changed, first, workers=workers)
    problem_level = time.perf_counter() - started
    validate(again, with_current(changed, current_sites(first)))
    # (b) The event path: only the components of that provider's sites are re-solved.
    started = time.perf_counter()
    focused = resolve(changed, first, workers=workers,
                      focus_sites={s for s, prov in zip(problem.site_ids, problem.site_provider, strict=True)
                                   if prov == busiest})
    focused_wall = time.perf_counter() - started
    validate(focused, with_current(changed, current_sites(first)))
    # (c) From the records: rebuild from MatchData with the provider full, then re-solve.
    started = time.perf_counter()
    sites = tuple(dataclasses.replace(s, reported_full=True) if s.provider_id == busiest else s for s in data.sites)
    rebuilt = resolve(dataclasses.replace(data, sites=sites), first, workers=workers)
    from_records = time.perf_counter() - started
    moved_elsewhere = [m for m in again.moved if not m.from_site.startswith(busiest)]
    return {"wall": focused_wall, "wall_full": problem_level, "wall_rebuild": from_records,
            "focused_same": (focused.placed, focused.objective) == (again.placed, again.objective),
            "moved": len(again.moved),
            "moved_not_at_provider": len(moved_elsewhere), "provider_assignments":
            sum(a.provider_id == busiest for a in first.assignments), "placed": again.placed,
            "objective": again.objective, "rebuilt_moved": len(rebuilt.moved)}


def _child(method: str, size: int, seed: int, weighted: bool, time_limit: float, workers: int,
           timeout: float, mixed: bool = False) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.bench_matcher", "--measure", method, "--sizes", str(size),
               "--seed", str(seed), "--time-limit", str(time_limit), "--workers", str(workers)]
    if weighted:
        command.append("--weighted")
    if mixed:
        command.append("--mixed")
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"method": method, "size": size, "weighted": weighted, "mixed": mixed,
                "skipped": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        return {"method": method, "size": size, "weighted": weighted, "mixed": mixed,
                "skipped": "failed: " + done.stderr[-400:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def _table(rows: list[dict[str, Any]]) -> str:
    lines = ["| size | method | wall s | peak MB (base) | placed | objective | note (vs = csmatch / baseline) |",
             "|---:|---|---:|---:|---:|---:|---|"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['size']:,} | {r['method']} | - | - | - | - | skipped: {r['skipped']} |")
            continue
        note = []
        for key in ("status", "gap", "placed_bound", "components", "arcs", "weighted_referrals", "solver", "moved",
                    "moved_not_at_provider", "wall_full", "wall_rebuild", "focused_same", "load", "vs"):
            if key in r and r[key] is not None:
                value = r[key]
                note.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
        kind = " w" if r.get("weighted") else " mixed" if r.get("mixed") else ""
        lines.append(f"| {r['size']:,}{kind} | {r['method']} | {r['wall']:.3f} | "
                     f"{r['peak_mb']:.0f} ({r['base_mb']:.0f}) | {r.get('placed', '-')} | {r.get('objective', '-')} | "
                     f"{', '.join(note)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated referral counts")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=1, help="solve(workers=...): processes for large flows")
    parser.add_argument("--time-limit", type=float, default=30.0, help="CP-SAT seconds (csmatch and monolithic)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a baseline is given up")
    parser.add_argument("--no-extras", action="store_true", help="skip the weighted and re-solve runs")
    parser.add_argument("--only-extras", action="store_true", help="only the weighted and re-solve runs")
    parser.add_argument("--mixed-sizes", default=",".join(map(str, MIXED_SIZES)),
                        help="fixtures-made mixed plans (unit + weighted) to run as extras")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--weighted", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mixed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.measure:
        print(json.dumps(measure(args.measure, sizes[0], args.seed, args.weighted, args.time_limit, args.workers,
                                 args.mixed)))
        return
    rows: list[dict[str, Any]] = []

    def run(method: str, size: int, weighted: bool = False, why_not: str | None = None,
            mixed: bool = False) -> dict[str, Any]:
        row = ({"method": method, "size": size, "weighted": weighted, "mixed": mixed, "skipped": why_not} if why_not
               else _child(method, size, args.seed, weighted, args.time_limit, args.workers,
                           args.timeout * (4 if mixed else 1), mixed))
        rows.append(row)
        print(_table([row]).splitlines()[-1], flush=True)
        return row

    print(_table([]))
    for size in [] if args.only_extras else sizes:
        run("build", size)
        ours = run("csmatch", size)
        run("csmatch-1", size)
        raw = run("raw-flow", size)
        greedy = run("greedy", size)
        nxrow = run("networkx", size, why_not=None if size <= NETWORKX_MAX else
                    f"networkx.max_flow_min_cost over {size:,} referrals takes many minutes")
        cp = run("cp-sat", size, why_not=None if size <= MONOLITHIC_MAX else
                 f"a monolithic model of {size:,} referrals (one boolean per arc) needs minutes to build alone")
        for other in (raw, greedy, nxrow, cp):
            if "skipped" not in ours and "skipped" not in other:
                other["vs"] = (f"csmatch time {_ratio(ours['wall'], other['wall'])}, placed "
                               f"{ours['placed'] - other['placed']:+d}, objective "
                               f"{_ratio(ours['objective'], other['objective'])}")
    if not args.no_extras:
        ours = run("csmatch", WEIGHTED_SIZE, weighted=True)
        for method in ("greedy", "cp-sat"):
            other = run(method, WEIGHTED_SIZE, weighted=True)
            if "skipped" not in ours and "skipped" not in other:
                other["vs"] = (f"csmatch placed {ours['placed'] - other['placed']:+d}, objective "
                               f"{_ratio(ours['objective'], other['objective'])}")
        run("resolve", RESOLVE_SIZE)
        for size in [int(x) for x in args.mixed_sizes.split(",") if x]:
            run("build", size, mixed=True)
            ours = run("csmatch", size, mixed=True)
            greedy = run("greedy", size, mixed=True, why_not=None if size <= MIXED_BASELINE_MAX else
                         f"greedy copies {size:,} referrals' arcs into Python lists (gigabytes)")
            if "skipped" not in ours and "skipped" not in greedy:
                greedy["vs"] = (f"csmatch placed {ours['placed'] - greedy['placed']:+d}, objective "
                                f"{_ratio(ours['objective'], greedy['objective'])}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"bench-{stamp}.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    (out / f"bench-{stamp}.md").write_text(_table(rows) + "\n", encoding="utf-8")
    print("\n" + _table(rows))
    print(f"\nwritten to {out}/bench-{stamp}.json and .md")


if __name__ == "__main__":
    main()
