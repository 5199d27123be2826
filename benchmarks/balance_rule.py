"""Balance the default weighting reaches on simulated cohorts, by ``arm_level_min`` (issue 15).

For each replicate a ``cit-bayes simulate`` cohort of the scenario is drawn (seed = replicate
number) and weighted as the default plan says, once with ``weighting.arm_level_min = 0`` (every
balance function balanced in every arm) and once with the plan's value. Printed per estimand:
the median and the share below 0.1 of the largest pairwise |SMD| after weighting, over all
covariates and over the covariates every arm can be balanced on; the median number of
covariates left to the outcome models; the combination arm's Kish ESS. About 0.2 s per cohort
and setting. Usage::

    python benchmarks/balance_rule.py --replicates 100

Exit status 0; the numbers are the result.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings

import numpy as np

from cit_bayes.cohort import validate_cohort
from cit_bayes.plan import load_plan
from cit_bayes.simulate import simulate_cohort
from cit_bayes.weighting.cohort_weights import weight_analysis

ARMS = ["rhTPO", "hetrombopag", "combination", "rhIL-11"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--scenario", default="paper-like")
    parser.add_argument("--n", type=int, default=187)
    args = parser.parse_args(argv)
    plan = load_plan()
    cohorts = [
        validate_cohort(simulate_cohort(args.n, seed=seed, scenario=args.scenario).data)
        for seed in range(args.replicates)
    ]
    for minimum in sorted({0, plan.weighting.arm_level_min}):
        settings = dataclasses.replace(plan.weighting, arm_level_min=minimum)
        rule = dataclasses.replace(plan, weighting=settings)
        for estimand in ("ate", "ato"):
            rows = []
            for cohort in cohorts:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    weighted = weight_analysis(
                        cohort.covariates().reset_index(drop=True),
                        cohort.data["arm"].reset_index(drop=True),
                        analysis="adjusted", estimand=estimand, plan=rule, arms=ARMS,
                    )  # fmt: skip
                ess = weighted.ess.set_index("arm").loc["combination"]
                rows.append((weighted.max_smd_weighted, weighted.max_smd_balanceable,
                             len(weighted.left_to_outcome_model), ess["ess"], ess["n"]))  # fmt: skip
            r = np.array(rows, dtype=float)
            print(
                f"arm_level_min {minimum} {estimand.upper()}: max |SMD| over all covariates "
                f"median {np.median(r[:, 0]):.3f} (< 0.1 in {np.mean(r[:, 0] < 0.1):.0%}); over "
                f"the balanceable median {np.median(r[:, 1]):.3f} (< 0.1 in "
                f"{np.mean(r[:, 1] < 0.1):.0%}); covariates left to the models median "
                f"{np.median(r[:, 2]):.0f}; combination Kish ESS median {np.median(r[:, 3]):.1f} "
                f"of {np.median(r[:, 4]):.0f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
