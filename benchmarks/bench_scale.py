"""How the cost of a patient-level fit grows with the number of patients (issue 17's scale table).

For each size n (default 1,000 and 10,000; ``--sizes 1000,10000,100000`` for more), a simulated
paper-like cohort is validated and weighted for the primary estimand (the default plan's entropy
weights), and the response and recovery models of the primary adjusted analysis are fitted as
``cit-bayes fit`` fits them (the plan's sampler, chains, draws and seed; through
:class:`cit_bayes.analyses.endpoints.EndpointRunner`), each model in a fresh process whose
PyTensor and numba caches the same model's smaller size has filled (warm: the compile time left
is what a warm run pays).

Printed per model and size: seconds to validate + weight; of the fit, the compile seconds
that are left (building the graph and loading the compiled functions from the cache, or
compiling them where the structure is new to the machine), the rest that is not sampling
(building the data and the model, the g-computation on the draws, the diagnostics) and the
sampling; the number of likelihood rows (patients with identical inputs merge into one row,
:mod:`cit_bayes.bayes.sufficient`: with the default plan's numeric covariates nearly every
patient is a row; ``--categorical`` drops them to show the merged case); the smallest bulk ESS
over the reported quantities and its rate per second of sampling; the peak resident memory of
the process; and the ratio of each time to that of the size ten times smaller (10 = linear in
patients). ``--models plt`` times the trajectory model (one likelihood row per patient; the
default plan's four planned days). ``--follow-up-days 9 --missing 0.2`` gives the trajectory
model of issue 17's goal: nine follow-up days (1, 2, 3, 5, 7, 9, 11, 13, 14), their counts
interpolated on the log scale between the simulated days 0, 3, 7 and 14 with N(0, 0.1) noise,
each count missing with probability 0.2 (completely at random), the recovery day the first
recorded day at PLT >= 100, and the plan's ``[plt] planned_days`` and ``days`` set to match
(a benchmark's stand-in for a cohort with daily counts: the simulator writes four days).
Usage::

    python benchmarks/bench_scale.py                     # n = 1,000 and 10,000
    python benchmarks/bench_scale.py --sizes 1000,100000
    python benchmarks/bench_scale.py --sizes 1000,100000 --categorical
    python benchmarks/bench_scale.py --models plt --sizes 1000,10000 \\
        --follow-up-days 9 --missing 0.2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from _common import cold_env, run_python

CODE = """
import dataclasses, json, resource, time, warnings
import numpy as np
from cit_bayes.analyses.endpoints import endpoint_runner
from cit_bayes.analyses.patient import weight_cohort
from cit_bayes.cohort import validate_cohort
from cit_bayes.exceptions import ConvergenceWarning
from cit_bayes.plan import load_plan
from cit_bayes.simulate import simulate_cohort

warnings.simplefilter("ignore", ConvergenceWarning)


def with_daily_counts(frame, follow, share, rng):
    # counts on the days `follow`: log-linear between the simulated days, noise, missing
    known = np.array([0, 3, 7, 14])
    logs = np.log(frame[[f"plt_day{{d}}" for d in known]].to_numpy(float))
    for d in follow:
        j = np.searchsorted(known, d)
        lo, hi = max(j - 1, 0), min(j, 3)
        t = 0.0 if known[hi] == known[lo] else (d - known[lo]) / (known[hi] - known[lo])
        value = (1 - t) * logs[:, lo] + t * logs[:, hi] + rng.normal(0, 0.1, len(frame))
        frame[f"plt_day{{d}}"] = np.round(np.exp(value))
    missing = rng.random((len(frame), len(follow))) < share
    for c, d in enumerate(follow):
        frame.loc[missing[:, c], f"plt_day{{d}}"] = np.nan
    counts = frame[[f"plt_day{{d}}" for d in follow]].to_numpy(float)
    reached = np.nan_to_num(counts, nan=0.0) >= 100
    first = np.array(follow)[reached.argmax(axis=1)]
    frame["recovery_day"] = np.where(reached.any(axis=1), first, np.nan)
    planned = (0, *follow)
    keep = [c for c in frame if not c.startswith("plt_day") or int(c[7:]) in planned]
    return frame[keep], planned


plan = load_plan()
start = time.perf_counter()
frame = simulate_cohort({n}, seed=11, scenario="paper-like").data.copy()
follow = {follow!r}
if follow:
    frame, planned = with_daily_counts(frame, follow, {missing!r}, np.random.default_rng(11))
    plan = dataclasses.replace(
        plan, planned_days=planned, days=tuple(f"day{{d}}" for d in follow)
    )
cohort = validate_cohort(frame, days=plan.planned_days)
plan = dataclasses.replace(plan, sensitivity_estimands=())
if {categorical!r}:  # the numeric covariates dropped: the likelihood runs over merged rows
    numeric = ("age", "bmi", "log_plt_day0")
    plan = dataclasses.replace(
        plan, covariates=tuple(c for c in plan.covariates if c not in numeric)
    )
weighting = weight_cohort(cohort, plan)
prepare = time.perf_counter() - start
runner = endpoint_runner(cohort, plan, plan.seed, None)
primary = next(a for a in plan.analyses() if a.adjusted)
start = time.perf_counter()
runner.fit(primary, weighting[primary.name], ({model!r},))
fit = next(iter(runner.fits.values()))
total = time.perf_counter() - start
checks = fit.diagnostics
data = fit.fit.idata["constant_data"]
rows = data["row_weight"].size if "row_weight" in data else {n}  # the trajectory: one per patient
print(json.dumps({{
    "rows": int(rows),
    "prepare": prepare, "fit": total, "compile": fit.fit.compile_seconds or 0.0,
    "sampling": fit.fit.sampling_seconds, "min_ess_bulk": checks.min_ess_bulk,
    "passed": bool(fit.passed), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}}))
"""


def _print_row(model: str, n: int, result: dict, previous: dict) -> None:
    ratio = ""
    if model in previous and n == 10 * previous[model][0]:
        ratio = f"{result['fit'] / previous[model][1]:.1f}"
    previous[model] = (n, result["fit"])
    other = result["fit"] - result["sampling"] - result["compile"]
    rate = result["min_ess_bulk"] / max(result["sampling"], 1e-9)
    print(
        f"{model:<10}{n:>8}{result['prepare']:>11.1f}{result['compile']:>11.1f}{other:>9.1f}"
        f"{result['sampling']:>12.1f}{result['fit']:>8.1f}{ratio:>10}{result['rows']:>8}"
        f"{result['min_ess_bulk']:>9.0f}{rate:>8.0f}{result['peak_mb']:>9.0f}  "
        + ("passed" if result["passed"] else "FAILED"),
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated cohort sizes")
    parser.add_argument("--models", default="response,recovery", help="comma-separated models")
    parser.add_argument(
        "--categorical",
        action="store_true",
        help="the default plan's categorical covariates only (age, BMI, log baseline PLT "
        "dropped), so that identical patients merge into one likelihood row",
    )
    parser.add_argument(
        "--follow-up-days",
        type=int,
        default=0,
        choices=(0, 9),
        help="9: the trajectory model on nine follow-up days (issue 17's goal), counts "
        "interpolated between the simulated days (module docstring); 0: the plan's three",
    )
    parser.add_argument(
        "--missing", type=float, default=0.0, help="share of follow-up counts missing (MCAR)"
    )
    args = parser.parse_args()
    follow = (1, 2, 3, 5, 7, 9, 11, 13, 14) if args.follow_up_days else ()
    if not 0.0 <= args.missing < 1.0 or (args.missing and not follow):
        parser.error("--missing needs --follow-up-days and a share in [0, 1)")
    sizes = sorted(int(s) for s in args.sizes.split(","))
    models = [m.strip() for m in args.models.split(",")]
    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    covariates = (
        "categorical covariates only" if args.categorical else "the default plan's covariates"
    )
    if follow:
        covariates += f"; follow-up days {follow}, {args.missing:.0%} of counts missing"
    print(f"patient-level fits by cohort size ({os.cpu_count()} cores, warm caches; {covariates})")
    print(
        f"{'model':<10}{'n':>8}{'prepare s':>11}{'compile s':>11}{'other s':>9}{'sampling s':>12}"
        f"{'fit s':>8}{'x (10x n)':>10}{'rows':>8}{'min ESS':>9}{'ESS/s':>8}{'peak MB':>9}  gates",
        flush=True,
    )
    days = {"follow": follow, "missing": args.missing}
    rows = []
    previous: dict[str, tuple[int, float]] = {}
    try:
        for model in models:
            env = cold_env(root / model)
            run_python(
                CODE.format(n=min(sizes), model=model, categorical=args.categorical, **days), env
            )  # fills the caches
            for n in sizes:
                result = run_python(
                    CODE.format(n=n, model=model, categorical=args.categorical, **days), env
                )
                rows.append((model, n, result))
                _print_row(model, n, result, previous)  # as it comes: a 10^5 run takes minutes
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps([{"model": m, "n": n, **r} for m, n, r in rows]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
