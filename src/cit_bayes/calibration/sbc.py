"""SBC replicates of the calibration and their summary: uniformity of the PITs.

A calibration with ``sbc = S`` also runs S simulation-based-calibration replicates of each of its
models (:mod:`cit_bayes.bayes.sbc`: parameters from the prior, outcomes from the model, the
model fitted, the PIT of every test quantity). They run on the same engine as the coverage
replicates (their records live in ``replicates/sbc-<model>/``), on one fixed design: a
simulated paper-like cohort of the calibration's ``n`` patients (seed derived from the
calibration's), with the plan's covariates and unit weights.

The summary (:func:`sbc_table`) tests, per model and test quantity, whether the S PITs are
uniform: the ECDF of the PITs against ArviZ's simultaneous band (Säilynoja, Bürkner & Vehtari
2022, ``arviz_stats.ecdf_utils.ecdf_pit``) and the ``pot_c`` uniformity test's p-value
(``azstats.uniformity_test``). With K test quantities in a model, each band is a
``1 - 0.05 / K`` band (Bonferroni): a model passes when no quantity's ECDF leaves its band,
an event of probability at most 0.05 for a calibrated model. Replicates whose fit missed a gate
are kept (dropping them would select on the simulated data) and counted.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from cit_bayes.bayes.sbc import sbc_replicate
from cit_bayes.bayes.seeds import derive_seed

__all__ = [
    "FAMILY_ALPHA",
    "SBC_PREFIX",
    "band_prob",
    "pit_matrix",
    "run_sbc_replicate",
    "sbc_design",
    "sbc_table",
    "sbc_verdicts",
]

#: Folder (and task) names of SBC replicates: ``sbc-<model>``.
SBC_PREFIX = "sbc-"
#: Family-wise probability that a calibrated model has some quantity outside its band.
FAMILY_ALPHA = 0.05
#: Simulations of the simultaneous band.
BAND_SIMULATIONS = 1000


def sbc_design(setup):
    """The fixed design of the SBC replicates: (PatientData with unit weights, model spec).

    Examples
    --------
    >>> from cit_bayes.plan import load_plan
    >>> from cit_bayes.calibration.setup import CalibrationSetup
    >>> data, spec = sbc_design(CalibrationSetup(load_plan(), n=60, sbc=2))
    >>> data.n, float(data.weights.sum()), spec["horizon"], spec["days"]
    (60, 60.0, 14, ('day3', 'day7', 'day14'))
    """
    from cit_bayes.analyses.endpoints import EndpointRunner
    from cit_bayes.cohort import validate_cohort
    from cit_bayes.simulate import simulate_cohort

    plan = setup.plan
    seed = derive_seed(setup.seed, "sbc design")
    cohort = validate_cohort(simulate_cohort(setup.n, seed=seed, scenario="paper-like").data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a rare level pooled: the design says what it holds
        runner = EndpointRunner(cohort, plan, seed, progress=lambda _message: None)
    data = dataclasses.replace(runner.patient_data(None), design=runner.design.matrix)
    spec = {
        "days": tuple(plan.days),
        "plt_day0": runner.outcomes()["day0"],
        "horizon": plan.horizon,
    }
    return data, spec


def run_sbc_replicate(setup, endpoint: str, index: int, seed: int) -> dict:
    """The record body of SBC replicate ``index`` of ``endpoint`` (plain data).

    Examples
    --------
    A replicate samples the model's prior and fits it (seconds to minutes); an endpoint
    without SBC is refused once the design is built, before anything is sampled:

    >>> from cit_bayes.calibration.setup import CalibrationSetup
    >>> from cit_bayes.plan import load_plan
    >>> run_sbc_replicate(CalibrationSetup(load_plan(), n=60, sbc=2), "safety", 0, seed=1)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: no SBC for model 'safety'; expected one of ('response', 'plt', 'recovery')
    """
    plan = setup.plan
    data, spec = sbc_design(setup)
    pairs = [p for p in plan.spec.pairs if p[0] in data.arms and p[1] in data.arms]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sbc_replicate(
            endpoint, data, prior=plan.priors[endpoint], spec=spec, seed=seed,
            settings=plan.sampler_for(endpoint), pairs=pairs,
        )  # fmt: skip
    counts: dict[str, int] = {}
    for w in caught:
        counts[w.category.__name__] = counts.get(w.category.__name__, 0) + 1
    return result | {"endpoint": endpoint, "warnings": dict(sorted(counts.items()))}


def pit_matrix(records: list[dict], group: str) -> pd.DataFrame:
    """PITs of one SBC group's finished replicates: one row per replicate, one column per
    test quantity (in the records' order).

    Examples
    --------
    >>> from cit_bayes.calibration.sbc import pit_matrix
    >>> records = [
    ...     {"scenario": "sbc-response", "index": 1, "status": "done", "pit": {"a": 0.75}},
    ...     {"scenario": "sbc-response", "index": 0, "status": "done", "pit": {"a": 0.25}},
    ...     {"scenario": "sbc-response", "index": 2, "status": "failed"},
    ...     {"scenario": "sbc-plt", "index": 0, "status": "done", "pit": {"b": 0.5}}]
    >>> pits = pit_matrix(records, "sbc-response")  # the failed and the other group's left out
    >>> pits.index.tolist(), pits.to_dict("list")
    ([0, 1], {'a': [0.25, 0.75]})
    """
    rows = {
        r["index"]: r["pit"] for r in records if r["scenario"] == group and r["status"] == "done"
    }
    return pd.DataFrame.from_dict(rows, orient="index").sort_index()


def band_prob(quantities: int) -> float:
    """The level of each quantity's band: 1 - :data:`FAMILY_ALPHA` / K (Bonferroni).

    Examples
    --------
    >>> from cit_bayes.calibration.sbc import band_prob
    >>> band_prob(1), band_prob(5)  # 1 - 0.05 and 1 - 0.05 / 5
    (0.95, 0.99)
    """
    return 1 - FAMILY_ALPHA / quantities


def sbc_bands(pits: pd.DataFrame, band_prob: float, seed: int, group: str) -> dict:
    """Per quantity: (points, ECDF, lower, upper) of its PITs and simultaneous band
    (``arviz_stats.ecdf_utils.ecdf_pit``; each band's simulations seeded from ``seed``, the
    group and the quantity, so the table and the figure agree)."""
    from arviz_stats.ecdf_utils import ecdf_pit

    out = {}
    for quantity in pits.columns:
        values = pits[quantity].dropna().to_numpy()
        rng = np.random.default_rng(derive_seed(seed, group, str(quantity)))
        out[quantity] = ecdf_pit(values, band_prob, BAND_SIMULATIONS, rng=rng)
    return out


def sbc_table(
    records: list[dict], groups, seed: int = 0, bands: dict | None = None
) -> pd.DataFrame:
    """Per SBC group (model) and test quantity: replicates, whether the PIT ECDF stays in its
    simultaneous band, the ``pot_c`` p-value, and the fits that missed a gate. ``bands`` (group
    -> :func:`sbc_bands`) spares computing the bands again.

    Examples
    --------
    Uniform PITs pass, PITs piled near 1 (a posterior biased low) do not:

    >>> rng = np.random.default_rng(1)
    >>> records = [{"scenario": "sbc-x", "index": i, "status": "done", "passed": True,
    ...             "pit": {"u": rng.random(), "bad": rng.random() ** 0.2}} for i in range(200)]
    >>> table = sbc_table(records, ["sbc-x"])
    >>> table[["quantity", "replicates", "inside_band"]].to_dict("records")
    [{'quantity': 'u', 'replicates': 200, 'inside_band': True}, {'quantity': 'bad', 'replicates': 200, 'inside_band': False}]
    """
    out = []
    for group in groups:
        pits = pit_matrix(records, group)
        if pits.empty:
            continue
        missed = sum(
            not r.get("passed", True)
            for r in records
            if r["scenario"] == group and r["status"] == "done"
        )
        level = band_prob(pits.shape[1])
        dataset = xr.Dataset({q: (("chain", "draw"), pits[[q]].to_numpy().T) for q in pits})
        p_values = dataset.azstats.uniformity_test(dim=["chain", "draw"], method="pot_c")[0]
        mine = (bands or {}).get(group) or sbc_bands(pits, level, seed, group)
        for quantity in pits.columns:
            values = pits[quantity].dropna().to_numpy()
            _, ecdf, lower, upper = mine[quantity]
            difference = ecdf - np.linspace(0, 1, len(ecdf))
            out.append(
                {
                    "model": group.removeprefix(SBC_PREFIX),
                    "quantity": quantity,
                    "replicates": len(values),
                    "band_prob": level,
                    "inside_band": bool(np.all((ecdf >= lower) & (ecdf <= upper))),
                    "max_abs_ecdf_difference": float(np.max(np.abs(difference))),
                    "pot_c_p_value": float(p_values[quantity]),
                    "fits_missing_a_gate": missed,
                }
            )
    return pd.DataFrame(out)


def sbc_verdicts(table) -> list[str]:
    """One sentence per model: did every test quantity's PIT ECDF stay in its band?

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"model": ["response"] * 2, "quantity": ["a", "b"],
    ...     "replicates": [200, 200], "band_prob": [0.975, 0.975],
    ...     "inside_band": [True, False], "fits_missing_a_gate": [0, 0]})
    >>> print(sbc_verdicts(table)[0])
    SBC of the response model (200 replicates, 2 test quantities, simultaneous 97.5 % bands: 95 % family-wise): outside its band: b.
    """
    out = []
    if table.empty:
        return out
    for model, group in table.groupby("model", sort=False):
        replicates = int(group["replicates"].min())
        band = float(group["band_prob"].iloc[0])
        sentence = (
            f"SBC of the {model} model ({replicates} replicates, {len(group)} test quantities, "
            f"simultaneous {band * 100:.3g} % bands: 95 % family-wise):"
        )
        outside = group.loc[~group["inside_band"], "quantity"].tolist()
        sentence += (
            f" outside its band: {', '.join(outside)}."
            if outside
            else " every PIT ECDF within its band: no sign of miscalibration."
        )
        missed = int(group["fits_missing_a_gate"].iloc[0])
        if missed:
            sentence += f" {missed} fit(s) missed a gate (kept)."
        if replicates < 100:
            sentence += " Fewer than 100 replicates: little power."
        out.append(sentence)
    return out
