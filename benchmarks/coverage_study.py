"""Bias and interval coverage of the primary analysis on simulated cohorts (issue 15).

For each replicate a ``cit-bayes simulate`` cohort of the scenario is drawn (seed = replicate
number), weighted as the default plan says (its primary estimand, entropy weights), and the
response model of the primary adjusted analysis is fitted (and, with ``--endpoints``, the PLT
and recovery models); the posterior of each contrast is compared with the scenario's truth
(the sample average of the potential outcomes, ``truth.json``). Printed per contrast: mean
bias with its Monte Carlo SE, the coverage of the 95 % credible interval with its MC SE, the
mean posterior SD and the empirical SD of the estimates. The unadjusted analysis's coverage is
printed beside it. A statistical check that takes about 30 s per replicate and endpoint on 2
cores (the compiled model is re-used while the design's shape stays the same), so it lives
here, not in the test suite. Usage::

    python benchmarks/coverage_study.py --replicates 200                 # response, paper-like
    python benchmarks/coverage_study.py --replicates 50 --endpoints response plt recovery
    python benchmarks/coverage_study.py --scenario baseline-confounding --replicates 100
    python benchmarks/coverage_study.py --replicates 200 --design-draws 20   # + design uncertainty

With ``--design-draws B`` the design-uncertainty analysis (:mod:`cit_bayes.analyses.design_uncertainty`:
the weights solved again under B Bayesian-bootstrap draws of the patients, the model refitted
per draw, the draws pooled) is printed as ``design`` beside the fixed-weight ``adjusted`` one;
it costs B refits per replicate and endpoint.

Exit status 0; the numbers are the result.

Measured (default plan, 200 paper-like replicates, n = 187, 2 cores; combination - rhTPO):

=============================  ====================  ==============  ==================
contrast (primary analysis)    bias (MC SE)          coverage (SE)   unadjusted cov.
=============================  ====================  ==============  ==================
response difference            -0.035 (0.005)        0.935 (0.017)   0.980
day-14 PLT difference          +2.7 (1.0) x10^9/L    0.960 (0.014)   0.945
recovered by day 14            -0.011 (0.006)        0.940 (0.017)   0.950
=============================  ====================  ==============  ==================

With ``--design-draws 10`` on 40 paper-like replicates (seeds 0-39), response difference:
fixed weights bias -0.029 (MC SE 0.012), coverage 0.950 (0.034), posterior SD 0.078 against
0.077; design uncertainty -0.065 (0.013), 0.975 (0.025), 0.121 against 0.081 (conservative:
see :mod:`cit_bayes.analyses.design_uncertainty`); 858 s.

No fit missed a gate. Before issue 15's changes (arms pooled, N(0, 1.5) intercepts) the response
difference had bias -0.110 and coverage 0.768. The response bias left is the uniform prior's
pull toward 50 % at the combination's Kish ESS (see :mod:`cit_bayes.bayes.response`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np

from cit_bayes.analyses.design_uncertainty import fit_design_uncertainty
from cit_bayes.analyses.endpoints import endpoint_runner
from cit_bayes.cohort import validate_cohort
from cit_bayes.exceptions import (
    BalanceWarning,
    ConvergenceWarning,
    PositivityWarning,
    WeightingWarning,
)
from cit_bayes.plan import Analysis, load_plan
from cit_bayes.simulate import simulate_cohort
from cit_bayes.weighting.cohort_weights import weight_analysis

PAIR = ("combination", "rhTPO")


def _contrasts(fit, endpoint: str) -> dict[str, np.ndarray]:
    """Posterior draws of the combination - rhTPO contrast of each checked quantity."""
    a, b = PAIR
    if endpoint == "response":
        rate = fit.draws["rate"]
        return {"response difference": (rate.sel(arm=a) - rate.sel(arm=b)).values.ravel()}
    if endpoint == "plt":
        mean = fit.draws["mean"].sel(day="day14")
        return {"day-14 PLT difference": (mean.sel(arm=a) - mean.sel(arm=b)).values.ravel()}
    curve = fit.draws["cumulative_recovery"].sel(day="day14")
    return {"recovered by day 14 difference": (curve.sel(arm=a) - curve.sel(arm=b)).values.ravel()}


def _truth(sim, name: str) -> float:
    a, b = PAIR
    truth = sim.truth
    if name.startswith("response"):
        return truth["response_rate"][a] - truth["response_rate"][b]
    if name.startswith("day-14"):
        return truth["plt_day14_mean"][a] - truth["plt_day14_mean"][b]
    return truth["recovery_curve"][a][13] - truth["recovery_curve"][b][13]


def _replicate(
    seed: int, scenario: str, n: int, plan, endpoints, design_draws: int = 0
) -> dict[str, dict]:
    sim = simulate_cohort(n, seed=seed, scenario=scenario)
    cohort = validate_cohort(sim.data)
    runner = endpoint_runner(cohort, plan, seed, None)
    primary = [a for a in plan.analyses() if a.adjusted][0]
    plain = [a for a in plan.analyses() if not a.adjusted][0]
    covariates = cohort.covariates().reset_index(drop=True)
    weighted = weight_analysis(
        covariates,
        cohort.data["arm"].reset_index(drop=True),
        analysis=primary.name,
        estimand=primary.estimand,
        plan=plan,
        arms=runner.arms,
    )
    out: dict[str, dict] = {}
    analyses = [("adjusted", primary, weighted), ("unadjusted", plain, None)]
    if design_draws:
        design = Analysis("design uncertainty", primary.estimand)
        fit_design_uncertainty(
            runner, design, weighted, runner.patient_data(weighted), endpoints, design_draws
        )
        analyses.append(("design", design, None))
    for label, analysis, weights in analyses:
        if label != "design":
            runner.fit(analysis, weights, tuple(endpoints))
        for endpoint in endpoints:
            fit = runner.fits[f"{endpoint}/{analysis.name}"]
            for name, draws in _contrasts(fit, endpoint).items():
                low, high = np.quantile(draws, [0.025, 0.975])
                truth = _truth(sim, name)
                out.setdefault(name, {})[label] = {
                    "estimate": float(draws.mean()),
                    "sd": float(draws.std(ddof=1)),
                    "covered": bool(low <= truth <= high),
                    "error": float(draws.mean() - truth),
                    "passed": bool(fit.passed),
                }
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--scenario", default="paper-like")
    parser.add_argument("--n", type=int, default=187)
    parser.add_argument("--endpoints", nargs="+", default=["response"],
                        choices=["response", "plt", "recovery"])  # fmt: skip
    parser.add_argument("--first", type=int, default=0, help="seed of the first replicate")
    parser.add_argument("--jsonl", help="also append each replicate's results to this file")
    parser.add_argument(
        "--design-draws",
        type=int,
        default=0,
        help="also the design-uncertainty analysis with this many design draws (0: not)",
    )
    args = parser.parse_args(argv)
    plan = load_plan()
    results: list[dict] = []
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", (BalanceWarning, PositivityWarning, WeightingWarning, ConvergenceWarning)
        )
        for seed in range(args.first, args.first + args.replicates):
            results.append(
                _replicate(seed, args.scenario, args.n, plan, args.endpoints, args.design_draws)
            )
            if args.jsonl:
                with open(args.jsonl, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"seed": seed, **results[-1]}) + "\n")
            if (seed + 1) % 10 == 0:
                print(f"{seed + 1} replicates, {time.perf_counter() - start:.0f} s", flush=True)
    print(f"\n{args.scenario}, n = {args.n}, {len(results)} replicates (contrast {PAIR[0]} - "
          f"{PAIR[1]}; 95 % intervals)")  # fmt: skip
    for name in results[0]:
        for label in results[0][name]:
            rows = [r[name][label] for r in results]
            error = np.array([r["error"] for r in rows])
            covered = np.array([r["covered"] for r in rows])
            estimates = np.array([r["estimate"] for r in rows])
            failed = sum(not r["passed"] for r in rows)
            print(
                f"  {name:32s} {label:10s} bias {error.mean():+.4f} (MC SE "
                f"{error.std(ddof=1) / np.sqrt(len(error)):.4f}); coverage {covered.mean():.3f} "
                f"(MC SE {np.sqrt(covered.mean() * (1 - covered.mean()) / len(covered)):.3f}); "
                f"mean posterior SD {np.mean([r['sd'] for r in rows]):.4f}, SD of estimates "
                f"{estimates.std(ddof=1):.4f}; fits missing a gate: {failed}"
            )
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
