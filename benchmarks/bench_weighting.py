"""Benchmark of propensity-score weighting on a paper-sized cohort (187 patients, 4 arms).

Weighting compiles nothing (no PyTensor), so *cold* is the first call in a fresh interpreter
(imports, first scikit-learn fit) with empty caches from ``_common.cold_env()``, and *warm* is
the median of repeated calls in the same interpreter. Printed: fit (logistic, ATO), the
sandwich outcome estimate, a 200-resample bootstrap, and a boosting fit.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cold_env, run_python

CHILD = r"""
import json, time, warnings
t0 = time.perf_counter()
from cit_bayes.simulate import simulate_cohort
from cit_bayes.cohort import validate_cohort
from cit_bayes.weighting import PropensityWeighting, weighted_outcome
warnings.simplefilter("ignore")
cohort = validate_cohort(simulate_cohort(187, seed=1, scenario="paper-like").data)
X, arm, y = cohort.covariates(), cohort.data["arm"], cohort.data["response"]
imports = time.perf_counter() - t0

def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return times

fit = lambda: PropensityWeighting("ato", arms=cohort.arms).fit(X, arm)
fitted = fit()
result = {"imports_and_data_s": imports}
for name, fn, repeat in [
    ("fit_logistic_ato", fit, 5),
    ("outcome_sandwich", lambda: weighted_outcome(fitted, y), 5),
    ("outcome_bootstrap_200", lambda: weighted_outcome(fitted, y, n_bootstrap=200, random_state=1), 2),
    ("fit_boosting_crossfit", lambda: PropensityWeighting("ato", model="boosting", arms=cohort.arms, random_state=1).fit(X, arm), 2),
]:
    times = timed(fn, repeat)
    result[name + "_cold_s"] = times[0]
    result[name + "_warm_s"] = sorted(times[1:])[len(times[1:]) // 2]
print(json.dumps(result))
"""


def main() -> int:
    result = run_python(CHILD, cold_env())
    print(f"{'step':<28}{'cold (s)':>10}{'warm (s)':>10}")
    print(f"{'imports + data':<28}{result['imports_and_data_s']:>10.2f}{'':>10}")
    for step in (
        "fit_logistic_ato",
        "outcome_sandwich",
        "outcome_bootstrap_200",
        "fit_boosting_crossfit",
    ):
        print(f"{step:<28}{result[step + '_cold_s']:>10.3f}{result[step + '_warm_s']:>10.3f}")
    print(f"{'whole child process':<28}{result['process_seconds']:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
