"""The patient-level analysis over M imputed cohorts: weighted, fitted and pooled by mixing.

Under ``missing="impute"`` (:mod:`cit_bayes.cohort.impute`), each completed cohort is
analysed as a complete one: its own weights (estimated within the imputation, the approach with
the least bias in Leyrat et al. 2019, *Stat Methods Med Res* 28:3), its own fits (each with its
own seed derived from the master seed and the imputation's number). The posterior draws of the
same fit are then pooled by mixing (the chains of every imputation side by side, an equal number
of draws each): the mixture approximates the posterior averaged over the imputation model's
predictive distribution of the missing values (Zhou & Reiter 2010, *Am Stat* 64:159), so the
between-imputation spread enters the intervals without Rubin's rules.

The gates apply to each imputation's fit: a pooled fit passes when every imputation's fit
passed (R-hat over mixed chains would flag the between-imputation spread, not a sampling
problem). Its reported R-hat is the largest, its ESS the smallest and its divergences the sum
over the imputations, and a failure names the imputation.

What is not pooled is said so in ``results.json`` (``meta.data.imputation``) and the report: the
weighting diagnostics and the frequentist cross-checks (weighted shares, Kaplan-Meier, Cox) are
the first imputation's, beside the largest |SMD| and smallest Kish ESS over all imputations.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from cit_bayes.analyses.endpoints import Progress
from cit_bayes.bayes.patient_fit import PatientFit
from cit_bayes.bayes.sampling import Diagnostics
from cit_bayes.bayes.seeds import derive_seed
from cit_bayes.cohort import Cohort
from cit_bayes.cohort.impute import Imputation, impute_cohort, imputed_columns
from cit_bayes.exceptions import ModelError
from cit_bayes.plan import AnalysisPlan
from cit_bayes.weighting.cohort_weights import OutcomeDesign, WeightedAnalysis, outcome_design

__all__ = [
    "imputation_seed",
    "imputation_summary",
    "impute_for_plan",
    "pool_diagnostics",
    "pool_fits",
    "shared_designs",
]


def imputation_seed(seed: int, k: int) -> int:
    """The master seed of imputation ``k`` (1-based): derived, so that imputations differ.

    Examples
    --------
    >>> imputation_seed(1, 1) == imputation_seed(1, 1), imputation_seed(1, 1) == imputation_seed(1, 2)
    (True, False)
    """
    return derive_seed(seed, f"analysis of imputation {k}")


def impute_for_plan(cohort: Cohort, plan: AnalysisPlan, seed: int | None) -> Imputation | None:
    """The plan's imputations of a cohort read with ``missing="impute"``; None when the cohort
    was read otherwise or no covariate it uses has a missing value.

    Examples
    --------
    >>> from cit_bayes._paths import data_dir
    >>> from cit_bayes.cohort import read_cohort
    >>> from cit_bayes.plan import load_plan
    >>> cohort = read_cohort(data_dir() / "reconstructed" / "cohort.csv", missing="impute")
    >>> impute_for_plan(cohort, load_plan(), None) is None
    True
    """
    if cohort.missing != "impute" or not imputed_columns(cohort):
        return None
    base = plan.seed if seed is None else int(seed)
    return impute_cohort(
        cohort,
        m=plan.imputation.m,
        iterations=plan.imputation.iterations,
        seed=derive_seed(base, "imputation"),
    )


def pool_diagnostics(diagnostics: Sequence[Diagnostics], unit: str = "imputation") -> Diagnostics:
    """The gates of fits pooled over imputations (or reconstructions, ``unit``): each must pass.

    Examples
    --------
    >>> good = Diagnostics(1.002, 900.0, 850.0, divergences=0, passed=True, chains=4, draws=500)
    >>> bad = Diagnostics(1.03, 300.0, 250.0, divergences=1, passed=False, chains=4, draws=500,
    ...                   failures=("R-hat 1.03 > 1.01",))
    >>> pooled = pool_diagnostics([good, bad])
    >>> pooled.passed, pooled.max_rhat, pooled.divergences, pooled.chains, pooled.failures
    (False, 1.03, 1, 8, ('imputation 2: R-hat 1.03 > 1.01',))
    """
    return Diagnostics(
        max_rhat=max(d.max_rhat for d in diagnostics),
        min_ess_bulk=min(d.min_ess_bulk for d in diagnostics),
        min_ess_tail=min(d.min_ess_tail for d in diagnostics),
        divergences=sum(d.divergences for d in diagnostics),
        passed=all(d.passed for d in diagnostics),
        failures=tuple(
            f"{unit} {k}: {failure}"
            for k, d in enumerate(diagnostics, start=1)
            for failure in d.failures
        ),
        chains=sum(d.chains for d in diagnostics),
        draws=diagnostics[0].draws,
        var_names=diagnostics[0].var_names,
    )


def _mixed(arrays: Sequence, dim: str = "chain"):
    """Concatenate along the chain dimension, chains renumbered 0..K-1; every other coordinate
    must agree (the imputations' fits share one design: :func:`shared_designs`)."""
    arrays = [a.assign_coords({dim: np.arange(a.sizes[dim])}) for a in arrays]
    try:
        joined = xr.concat(arrays, dim=dim, join="exact", combine_attrs="override")
    except ValueError as error:
        raise ModelError(
            f"the imputations' fits cannot be pooled: their coordinates differ ({error})"
        ) from None
    return joined.assign_coords({dim: np.arange(joined.sizes[dim])})


def _pooled_tree(trees: Sequence[xr.DataTree], attrs: dict) -> xr.DataTree:
    """Every group with a chain dimension mixed; the other groups (constant and observed data)
    are the first imputation's."""
    groups = {}
    for name, node in trees[0].children.items():
        dataset = node.to_dataset()
        if "chain" in dataset.dims:
            dataset = _mixed([tree[name].to_dataset() for tree in trees])
        groups[name] = dataset
    tree = xr.DataTree.from_dict(groups)
    tree.attrs = dict(trees[0].attrs) | attrs
    return tree


def pool_fits(fits: Sequence[PatientFit], unit: str = "imputation") -> PatientFit:
    """One fit from the same fit on each imputed cohort: draws mixed, gates of each.

    Examples
    --------
    >>> from cit_bayes.bayes.sampling import Fit, SamplerSettings
    >>> def one(value, passed):
    ...     draws = {"rate": xr.DataArray(np.full((2, 3), value), dims=("chain", "draw"))}
    ...     checks = Diagnostics(1.0, 900.0, 850.0, divergences=0, passed=passed, chains=2,
    ...                          draws=3)
    ...     fit = Fit("response/adjusted", xr.DataTree(), checks, SamplerSettings(), seed=1)
    ...     return PatientFit("response", fit, draws)
    >>> pooled = pool_fits([one(0.1, True), one(0.3, True)])
    >>> pooled.draws["rate"].sizes["chain"], round(float(pooled.draws["rate"].mean()), 6), pooled.passed
    (4, 0.2, True)
    >>> pool_fits([one(0.1, True), one(0.3, False)]).passed
    False
    """
    first = fits[0]
    attrs = {"imputations": len(fits), "imputation_seeds": ", ".join(str(f.fit.seed) for f in fits)}
    fit = dataclasses.replace(
        first.fit,
        idata=_pooled_tree([f.idata for f in fits], attrs),
        diagnostics=pool_diagnostics([f.diagnostics for f in fits], unit),
        compile_seconds=None
        if first.fit.compile_seconds is None
        else sum(f.fit.compile_seconds or 0.0 for f in fits),
        sampling_seconds=sum(f.fit.sampling_seconds for f in fits),
        attrs=dict(first.fit.attrs) | attrs,
    )
    draws = {key: _mixed([f.draws[key] for f in fits]) for key in first.draws}
    return PatientFit(endpoint=first.endpoint, fit=fit, draws=draws)


def shared_designs(imputation: Imputation, plan: AnalysisPlan) -> tuple[OutcomeDesign, ...]:
    """The outcome models' design of each imputed cohort, in one encoding for all of them.

    Each cohort's own encoding takes the most frequent level of a categorical covariate as its
    reference and pools levels held by fewer than ``rare_level_min`` patients, both of which
    may change with the imputed values; the imputations' fits would then have different
    coefficients, which cannot be pooled. The covariates of the M cohorts are encoded once,
    stacked (reference, pooled levels and the standardisation of numeric covariates from all
    M x n rows; the rare-level threshold M times the plan's, the same count per cohort), and
    split back.

    Examples
    --------
    >>> from cit_bayes.cohort import validate_cohort
    >>> from cit_bayes.plan import load_plan
    >>> from cit_bayes.simulate import simulate_cohort
    >>> frame = simulate_cohort(60, seed=3).data
    >>> frame.loc[:14, "stage"] = None
    >>> imputation = impute_cohort(validate_cohort(frame, missing="impute"), m=3, seed=2)
    >>> designs = shared_designs(imputation, load_plan())
    >>> len({d.columns for d in designs}), designs[0].matrix.shape[0]
    (1, 60)
    """
    tables = [plan.cohort_covariates(cohort) for cohort in imputation.cohorts]
    weighting = dataclasses.replace(
        plan.weighting, rare_level_min=plan.weighting.rare_level_min * imputation.m
    )
    design = outcome_design(
        pd.concat(tables, ignore_index=True), dataclasses.replace(plan, weighting=weighting)
    )
    bounds = np.cumsum([0, *(len(table) for table in tables)])
    return tuple(
        OutcomeDesign(design.matrix[a:b], design.columns, dict(design.reference_levels))
        for a, b in itertools.pairwise(bounds)
    )


def weight_imputations(
    imputation: Imputation, plan: AnalysisPlan, *, progress: Progress | None = None
) -> tuple[dict[str, WeightedAnalysis], ...]:
    """Each imputed cohort's weights (:func:`cit_bayes.analyses.patient.weight_cohort`)."""
    from cit_bayes.analyses.patient import weight_cohort

    say = progress or (lambda message: None)
    out = []
    for k, cohort in enumerate(imputation.cohorts, start=1):
        say(f"imputation {k} of {imputation.m}")
        out.append(weight_cohort(cohort, plan, progress=progress))
    return tuple(out)


def _fit_one(cohort, plan, weighting, design, seed: int, progress=None):
    """One completed cohort's fits and their seconds, and the wall time (a worker's task)."""
    from cit_bayes.analyses.patient import fit_models

    start = time.perf_counter()
    fits, seconds = fit_models(cohort, plan, weighting, seed=seed, progress=progress, design=design)
    return fits, seconds, time.perf_counter() - start


def fit_imputations(
    imputation: Imputation,
    plan: AnalysisPlan,
    weightings: Sequence[dict[str, WeightedAnalysis]],
    *,
    seed: int | None = None,
    progress: Progress | None = None,
    unit: str = "imputation",
    workers: int | None = None,
    scheduler: str | None = None,
) -> tuple[dict[str, PatientFit], dict[str, float]]:
    """Every fit of the plan on each imputed cohort, pooled by name; seconds per fit (summed).
    ``unit`` names the cohorts in progress lines and gate failures (``"reconstruction"`` for
    :mod:`cit_bayes.analyses.reconstructions`).

    With ``workers`` (> 0) or a ``scheduler`` address the cohorts are fitted on a Dask cluster,
    one task per cohort (:func:`cit_bayes.calibration.workers.dask_client`: a local cluster of
    single-threaded worker processes, each compiling in its own directory, or an existing
    scheduler's workers); each cohort's seeds are the same as in this process, so the numbers
    are the same wherever they are computed. By default (None or 0) this process fits them one
    after another."""
    base = plan.seed if seed is None else int(seed)
    say = progress or (lambda message: None)
    designs = shared_designs(imputation, plan)
    jobs = [
        (cohort, weighting, design, imputation_seed(base, k))
        for k, (cohort, weighting, design) in enumerate(
            zip(imputation.cohorts, weightings, designs, strict=True), start=1
        )
    ]
    if workers or scheduler:
        from cit_bayes.calibration.workers import dask_client

        say(f"{len(jobs)} {unit}s on a Dask cluster")
        with dask_client(workers, scheduler) as client:
            futures = [
                client.submit(_fit_one, cohort, plan, weighting, design, k_seed, pure=False)
                for cohort, weighting, design, k_seed in jobs
            ]
            outcomes = client.gather(futures)
    else:
        outcomes = []
        for k, (cohort, weighting, design, k_seed) in enumerate(jobs, start=1):
            say(f"{unit} {k} of {imputation.m}")
            outcomes.append(_fit_one(cohort, plan, weighting, design, k_seed, progress))
    per: list[dict[str, PatientFit]] = []
    timings: dict[str, float] = {}
    for k, (fits, seconds, wall) in enumerate(outcomes, start=1):
        per.append(fits)
        for name, value in seconds.items():
            timings[name] = timings.get(name, 0.0) + value
        timings[f"{unit} {k}"] = wall
    pooled = {name: pool_fits([fits[name] for fits in per], unit) for name in per[0]}
    return pooled, timings


def imputation_summary(
    imputation: Imputation,
    weightings: Sequence[dict[str, WeightedAnalysis]],
) -> dict:
    """``meta.data.imputation`` of ``results.json``: how the imputations were made, what was
    pooled and what is the first imputation's, and the balance over every imputation.

    Examples
    --------
    >>> from cit_bayes.cohort.impute import Imputation
    >>> summary = imputation_summary(Imputation((), {"bmi": 4}, 10, 7), ())
    >>> summary["imputed_by_column"], summary["first_imputation_only"][0]
    ({'bmi': 4}, 'weighting diagnostics (balance tables, Table 1, overlap)')
    """
    balance = {}
    for name in weightings[0] if weightings else ():
        runs = [weighting[name] for weighting in weightings]
        smd = [float(w.max_smd_weighted) for w in runs]
        ess = [float(w.ess["ess"].min()) for w in runs]
        balance[name] = {
            "max_abs_smd_weighted": smd,
            "min_ess": ess,
            "worst_max_abs_smd_weighted": max(smd),
            "worst_min_ess": min(ess),
        }
    return imputation.as_dict() | {
        "pooling": "posterior draws mixed over the imputations (equal draws each); weights "
        "re-estimated within each imputation; gates met by each imputation's fit",
        "first_imputation_only": [
            "weighting diagnostics (balance tables, Table 1, overlap)",
            "frequentist cross-checks (weighted shares, Kaplan-Meier, Cox)",
            "the baseline platelet mean of each target population (plt baseline_mean)",
            "posterior predictive checks (pooled draws, the first imputation's covariates)",
        ],
        "balance_by_imputation": balance,
    }
