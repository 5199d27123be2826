"""One calibration replicate: simulate a cohort, fit the analyses, compare each interval with
the truth.

A replicate is a function of the setup, the scenario and the replicate's number only (its seed
is derived from them), so it gives the same numbers in this process or on any Dask worker,
cold or warm. Its record is plain JSON-able data: the truth, per analysis and quantity the
posterior mean, SD, equal-tailed intervals at each level and whether they cover the truth,
P(difference > 0), and per fit its diagnostics (R-hat, ESS, divergences, gates). A replicate
that raises is recorded as failed with the error's name and message (simulated data only,
no patient's values), never dropped.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import Counter

import numpy as np

from cit_bayes.analyses.design_uncertainty import fit_design_uncertainty
from cit_bayes.analyses.endpoints import EndpointRunner, fit_name
from cit_bayes.bayes.seeds import derive_seed
from cit_bayes.calibration.sbc import SBC_PREFIX, run_sbc_replicate
from cit_bayes.calibration.setup import CalibrationSetup
from cit_bayes.calibration.truth import estimand_truth
from cit_bayes.cohort import validate_cohort
from cit_bayes.plan import Analysis
from cit_bayes.simulate import simulate_cohort
from cit_bayes.weighting.cohort_weights import weight_analysis

__all__ = ["replicate_seed", "run_replicate"]

#: PyTensor's compilation is not thread-safe: a worker process runs one replicate at a time
#: even when it was started with several threads.
_ONE_AT_A_TIME = threading.Lock()


def replicate_seed(seed: int, scenario: str, index: int) -> int:
    """The seed of replicate ``index`` of ``scenario`` (independent of the workers).

    Examples
    --------
    >>> replicate_seed(1, "null", 0) == replicate_seed(1, "null", 0)
    True
    >>> replicate_seed(1, "null", 0) == replicate_seed(1, "null", 1)
    False
    """
    return derive_seed(seed, "calibrate", scenario, str(index))


def run_replicate(setup: CalibrationSetup, scenario: str, index: int) -> dict:
    """Run replicate ``index`` of ``scenario`` and return its record (plain data).

    ``scenario`` may be an SBC group (``sbc-<model>``): the record then holds that model's SBC
    replicate (:func:`cit_bayes.calibration.sbc.run_sbc_replicate`).

    Examples
    --------
    A replicate that cannot be analysed (here: the plan adjusts for a covariate the simulated
    cohorts do not hold) gives a failed record, not an error:

    >>> import dataclasses
    >>> from cit_bayes.plan import load_plan
    >>> plan = dataclasses.replace(load_plan(), covariates=("albumin",))
    >>> setup = CalibrationSetup(plan, scenarios=("null",), n=20, analyses=("fixed weights",),
    ...                          endpoints=("response",), replicates=1)
    >>> record = run_replicate(setup, "null", 0)
    >>> record["status"], record["index"], record["error"][:40]
    ('failed', 0, 'PlanError: the plan names covariate(s) [')
    """
    start = time.perf_counter()
    seed = replicate_seed(setup.seed, setup.scenario_name(scenario), index)
    record: dict = {"scenario": setup.scenario_name(scenario), "index": index, "seed": seed}
    with _ONE_AT_A_TIME:
        try:
            if scenario.startswith(SBC_PREFIX):
                endpoint = scenario.removeprefix(SBC_PREFIX)
                record |= run_sbc_replicate(setup, endpoint, index, seed)
            else:
                record |= _compare(setup, scenario, seed)
            record["status"] = "done"
        except Exception as error:  # counted as a failed replicate by the summary
            record |= {"status": "failed", "error": f"{type(error).__name__}: {error}"}
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def _compare(setup: CalibrationSetup, scenario: str, seed: int) -> dict:
    plan = setup.plan
    sim = simulate_cohort(setup.n, seed=seed, scenario=scenario)
    cohort = validate_cohort(sim.data)
    primary = Analysis("adjusted", plan.primary_estimand)
    truth = estimand_truth(
        sim, primary.estimand, att_arm=plan.att_arm, days=plan.days, horizon=plan.horizon
    )
    endpoints = tuple(setup.endpoints)
    quantities: list[dict] = []
    fits: list[dict] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner = EndpointRunner(cohort, plan, seed, progress=lambda _message: None)
        weighted = None
        if {"fixed weights", "design uncertainty"} & set(setup.analyses):
            weighted = weight_analysis(
                plan.cohort_covariates(cohort).reset_index(drop=True),
                cohort.data["arm"].reset_index(drop=True),
                analysis=primary.name,
                estimand=primary.estimand,
                plan=plan,
                arms=runner.arms,
            )
        for label in setup.analyses:
            analysis = _fit(runner, label, primary, weighted, endpoints, setup.design_draws)
            for endpoint in endpoints:
                fit = runner.fits[fit_name(endpoint, analysis.name)]
                fits.append(
                    {"analysis": label, "endpoint": endpoint} | fit.fit.diagnostics.gate_values()
                )
                for row in _quantities(fit, endpoint, runner.arms, plan, truth, setup.levels):
                    quantities.append({"analysis": label, **row})
    counts = Counter(w.category.__name__ for w in caught)
    return {
        "arms": list(runner.arms),
        "n_by_arm": {arm: int((runner.codes == k).sum()) for k, arm in enumerate(runner.arms)},
        "kish_ess": (
            None
            if weighted is None
            else {
                str(arm): round(float(ess), 3)
                for arm, ess in zip(weighted.ess["arm"], weighted.ess["ess"], strict=True)
            }
        ),
        "weighting_warnings": [] if weighted is None else list(weighted.warnings),
        "warnings": dict(sorted(counts.items())),
        "truth": truth,
        "quantities": quantities,
        "fits": fits,
        "timings": {name: round(seconds, 3) for name, seconds in runner.timings.items()},
    }


def _fit(runner, label, primary, weighted, endpoints, design_draws) -> Analysis:
    """Fit one analysis of the calibration; return the Analysis its fits are named after."""
    if label == "unadjusted":
        analysis = Analysis("unadjusted", None)
        runner.fit(analysis, None, endpoints)
    elif label == "fixed weights":
        analysis = primary
        runner.fit(analysis, weighted, endpoints)
    else:
        analysis = Analysis("design uncertainty", primary.estimand)
        data = runner.patient_data(weighted)
        fit_design_uncertainty(runner, analysis, weighted, data, endpoints, design_draws)
    return analysis


def _per_arm_draws(fit, endpoint: str, plan) -> dict[str, object]:
    """The reported per-arm quantity of each endpoint, keyed by day label ('' for none)."""
    if endpoint == "response":
        return {"": fit.draws["rate"]}
    if endpoint == "plt":
        days = [d for d in plan.spec.contrast_days if d in plan.days]
        return {day: fit.draws["mean"].sel(day=day) for day in days}
    return {f"day{plan.horizon}": fit.draws["cumulative_recovery"].sel(day=f"day{plan.horizon}")}


def _truth_of(truth: dict, endpoint: str, day: str) -> dict[str, float]:
    if endpoint == "plt":
        return truth["plt"][day]
    return truth[endpoint]


def _quantities(fit, endpoint, arms, plan, truth, levels) -> list[dict]:
    rows = []
    pairs = [p for p in plan.spec.pairs if p[0] in arms and p[1] in arms]
    for day, draws in _per_arm_draws(fit, endpoint, plan).items():
        true = _truth_of(truth, endpoint, day)
        values = {arm: draws.sel(arm=arm).values.ravel() for arm in arms}
        for arm in arms:
            rows.append(_compare_draws(endpoint, "arm", arm, day, values[arm], true[arm], levels))
        for first, second in pairs:
            rows.append(
                _compare_draws(
                    endpoint,
                    "difference",
                    f"{first} - {second}",
                    day,
                    values[first] - values[second],
                    true[first] - true[second],
                    levels,
                )
            )
    return rows


def _compare_draws(endpoint, kind, label, day, draws, truth, levels) -> dict:
    row = {
        "endpoint": endpoint,
        "kind": kind,
        "label": label,
        "day": day,
        "truth": float(truth),
        "mean": float(np.mean(draws)),
        "sd": float(np.std(draws, ddof=1)),
    }
    for level in levels:
        low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
        row[f"lower {level:g}"] = float(low)
        row[f"upper {level:g}"] = float(high)
        row[f"covered {level:g}"] = bool(low <= truth <= high)
    if kind == "difference":
        row["p_greater"] = float(np.mean(draws > 0))
    return row
