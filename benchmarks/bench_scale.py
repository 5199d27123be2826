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
default plan's four planned days). Usage::

    python benchmarks/bench_scale.py                     # n = 1,000 and 10,000
    python benchmarks/bench_scale.py --sizes 1000,100000
    python benchmarks/bench_scale.py --sizes 1000,100000 --categorical
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
from cit_bayes.analyses.endpoints import endpoint_runner
from cit_bayes.analyses.patient import weight_cohort
from cit_bayes.cohort import validate_cohort
from cit_bayes.exceptions import ConvergenceWarning
from cit_bayes.plan import load_plan
from cit_bayes.simulate import simulate_cohort

warnings.simplefilter("ignore", ConvergenceWarning)
plan = load_plan()
start = time.perf_counter()
cohort = validate_cohort(simulate_cohort({n}, seed=11, scenario="paper-like").data)
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
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    models = [m.strip() for m in args.models.split(",")]
    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    covariates = (
        "categorical covariates only" if args.categorical else "the default plan's covariates"
    )
    print(f"patient-level fits by cohort size ({os.cpu_count()} cores, warm caches; {covariates})")
    print(
        f"{'model':<10}{'n':>8}{'prepare s':>11}{'compile s':>11}{'other s':>9}{'sampling s':>12}"
        f"{'fit s':>8}{'x (10x n)':>10}{'rows':>8}{'min ESS':>9}{'ESS/s':>8}{'peak MB':>9}  gates",
        flush=True,
    )
    rows = []
    previous: dict[str, tuple[int, float]] = {}
    try:
        for model in models:
            env = cold_env(root / model)
            run_python(
                CODE.format(n=min(sizes), model=model, categorical=args.categorical), env
            )  # fills the caches
            for n in sizes:
                result = run_python(
                    CODE.format(n=n, model=model, categorical=args.categorical), env
                )
                rows.append((model, n, result))
                _print_row(model, n, result, previous)  # as it comes: a 10^5 run takes minutes
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps([{"model": m, "n": n, **r} for m, n, r in rows]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
