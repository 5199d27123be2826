"""The bundled analysis over M reconstructed cohorts whose open choices were drawn: pooled.

Reconstruction as imputation (issue 19). The paper's tables leave open who responded and how
the characteristics go together; :func:`cit_bayes.reconstruct.uncertainty.reconstruct_drawn_cohorts`
draws those choices from stated priors for each of M cohorts. Each cohort is weighted and fitted
as a complete one (its own weights and seeds, one outcome-model design shared by all, exactly as
for multiply imputed covariates: :mod:`cit_bayes.analyses.imputed`), and the posterior draws of
each fit are pooled by mixing (Zhou & Reiter 2010), so the pooled posterior averages over the
reconstruction's uncertainty. Gates apply to each cohort's fit.

:func:`reconstruction_summary` gives ``meta.data.reconstructions`` of ``results.json``: the
priors, every cohort's drawn assumptions and plan hash (traceable from the report), the draws
that failed and were replaced, and for each key answer the pooled value, the range across the
cohorts and the share of its posterior variance due to the reconstruction (the between-cohort
variance over the total, corrected for Monte Carlo error: the decomposition of
:func:`cit_bayes.analyses.design_uncertainty.design_share`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cit_bayes.analyses.design_uncertainty import design_share
from cit_bayes.cohort.impute import Imputation
from cit_bayes.exceptions import ModelError

__all__ = [
    "DEFAULT_RECONSTRUCTIONS",
    "KEY_ANSWERS",
    "as_imputation",
    "key_answer_draws",
    "reconstruction_summary",
]

#: M of ``cit-bayes run --reconstructions`` without a number. Measured on the bundled data
#: (``benchmarks/bench_reconstructions.py``, 2026-12-07): with 20 cohorts the Monte Carlo error
#: that the choice of cohorts adds to the pooled P(combination > rhTPO) is 0.005 (response),
#: 0.015 (PLT) and 0.017 (recovery), and to the pooled differences 0.13-0.27 of their posterior
#: SDs; with 10 it is about 1.4 times that. 20 cohorts cost about 24 s each with the primary
#: analyses on 2 cores.
DEFAULT_RECONSTRUCTIONS = 20

#: The key answers followed across reconstructions: (name, endpoint, what, higher is better).
KEY_ANSWERS = (
    ("response_difference", "response", "difference in response rate", True),
    ("plt_difference", "plt", "difference in the mean count on the last day", True),
    ("recovered_difference", "recovery", "difference in the share recovered by the horizon", True),
)


def as_imputation(results, seed: int) -> Imputation:
    """The reconstructed cohorts as the M completed cohorts of the pooled analysis, each
    carrying its provenance.

    Examples
    --------
    >>> as_imputation([], 1)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: no reconstructed cohort to analyse
    """
    if not results:
        raise ModelError("no reconstructed cohort to analyse")
    cohorts = tuple(dataclasses.replace(r.cohort, provenance=r.provenance()) for r in results)
    return Imputation(cohorts=cohorts, imputed={}, iterations=0, seed=int(seed))


def key_answer_draws(fits: dict, analysis: str, focus: str, reference: str, last_day: str) -> dict:
    """The key answers' posterior draws (dims ``chain, draw``) of an analysis's fits: the three
    differences (focus - reference) and the P(superior) indicators behind them.

    Examples
    --------
    >>> key_answer_draws({}, "adjusted", "A", "B", "day14")
    {}
    """
    out = {}
    for name, endpoint, _, _ in KEY_ANSWERS:
        fit = fits.get(f"{endpoint}/{analysis}")
        if fit is None:
            continue
        if endpoint == "response":
            values = fit.draws["rate"]
        elif endpoint == "plt":
            values = fit.draws["mean"].sel(day=last_day, drop=True)
        else:
            values = fit.draws["cumulative_recovery"].isel(day=-1, drop=True)
        out[name] = values.sel(arm=focus, drop=True) - values.sel(arm=reference, drop=True)
    return out


def _per_cohort(values, m: int) -> np.ndarray:
    array = np.asarray(values.transpose("chain", "draw").values, dtype=float)
    if array.shape[0] % m:
        raise ModelError(f"{array.shape[0]} chains do not split into {m} reconstructions")
    return array.reshape(m, -1)


def reconstruction_summary(results, failures, uncertainty, fits, plan, analysis: str) -> dict:
    """``meta.data.reconstructions``: what was pooled and how much the reconstruction moves
    each key answer.

    Parameters
    ----------
    results : list of ReconstructedCohort
        The M cohorts, in the order their fits were pooled.
    failures : list of dict
        The draws that failed and were replaced (draw, error).
    uncertainty : ReconstructionUncertainty
        The priors the assumptions were drawn from.
    fits : dict
        The pooled fits.
    plan : AnalysisPlan
    analysis : str
        The analysis whose key answers are followed (the primary adjusted one).

    Examples
    --------
    >>> reconstruction_summary([], [], None, {}, None, "adjusted")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: no reconstructed cohort to summarise
    """
    if not results:
        raise ModelError("no reconstructed cohort to summarise")
    m = len(results)
    focus, reference = plan.spec.focus_arm, plan.recovery_reference
    draws = key_answer_draws(fits, analysis, focus, reference, plan.days[-1])
    answers = {}
    for name, _, what, higher in KEY_ANSWERS:
        if name not in draws:
            continue
        per = _per_cohort(draws[name], m)
        superior = per > 0 if higher else per < 0
        answers[name] = {
            "what": f"{what}, {focus} - {reference}",
            "pooled_mean": float(per.mean()),
            "pooled_prob_superior": float(superior.mean()),
            "per_cohort_mean": [float(v) for v in per.mean(axis=1)],
            "per_cohort_prob_superior": [float(v) for v in superior.mean(axis=1)],
            "range_of_means": [float(per.mean(axis=1).min()), float(per.mean(axis=1).max())],
            "range_of_prob_superior": [
                float(superior.mean(axis=1).min()),
                float(superior.mean(axis=1).max()),
            ],
            "reconstruction_share": design_share(draws[name], m) if m >= 2 else 0.0,
        }
    first = results[0]
    return {
        "m": m,
        "seed": first.seed,
        "plan": {"name": first.plan_name, "sha256": first.plan_hash, "file": first.plan_file},
        "uncertainty": uncertainty.as_dict(),
        "pooling": "posterior draws mixed over the reconstructed cohorts (equal draws each; "
        "Zhou & Reiter 2010); weights estimated within each cohort; one outcome-model design "
        "for all; gates met by each cohort's fit",
        "first_cohort_only": [
            "weighting diagnostics (balance tables, Table 1, overlap)",
            "frequentist cross-checks (weighted shares, Kaplan-Meier, Cox)",
            "posterior predictive checks (pooled draws, the first cohort's covariates)",
            "the unmeasured-confounding benchmarks' prevalence differences",
        ],
        "failed_draws": list(failures),
        "cohorts": [
            {
                "draw": r.draw,
                "assumptions": r.assumptions,
                "fidelity_passed": r.passed,
                "data_fingerprint": r.cohort.fingerprint,
            }
            for r in results
        ],
        "pair": f"{focus}-{reference}",
        "analysis": analysis,
        "key_answers": answers,
    }
