"""The weighting step's uncertainty in the posterior: a Bayesian bootstrap of the design stage.

The adjusted analyses fit each outcome model with the weights held fixed, so their posteriors
leave out how much the weights themselves could have been otherwise (a weighted
pseudo-posterior; Savitsky & Toth 2016). This analysis integrates over the design stage in
two steps, as Liao & Zigler (2020) do with draws of a propensity model's parameters:

1. **Design draws.** B draws of the design stage by the Bayesian bootstrap (Rubin 1981): base
   weights :math:`q^{(b)} \\sim n\\,\\mathrm{Dirichlet}(1, \\dots, 1)` on the patients, the
   plan's entropy-balancing weights solved again with them (targets and arm means weighted by
   q), and the weights that solution gives the patients themselves
   (:meth:`cit_bayes.weighting.BalancingWeights.design_draw`: only the balancing's parameters
   vary; patients, outcomes, covariate design and target tilting stay as they are, so every
   refit has the same shape).
2. **Outcome model per draw.** Each outcome model is fitted again with the weights of each
   draw, by swapping the weights into the compiled model (nothing recompiles), every refit
   through the same gates, with its own seed.
3. **Pooling.** The draws of the B fits are pooled (a mixture; chains stacked), so the
   posterior variance is the average within-draw variance plus the variance of the draws'
   means (the design stage's share, :func:`design_share`).

Every refit is kept in the pooled fit's diagnostics: the pooled fit passes only if all B passed
(worst R-hat, smallest ESS, summed divergences), and a failed refit is never dropped.

Measured (2 cores, default plan; not yet the primary analysis, issue 18): on the bundled
(reconstructed, synthetic) cohort with B = 20, the combination - rhTPO response difference goes
from 0.154 (SD 0.084, P(superior) 0.963) with fixed weights to 0.124 (SD 0.121, 0.861), the
design stage carrying 19 % of the variance (day-14 PLT 17 %, recovered by day 14 16 %); every
refit passed its gates; 906 s for the 3 x 20 refits and the analysis. Most of the widening is
not the between-draw variance but wider refits: the re-solved weights vary more than the fixed
ones (median Kish ESS over the draws: combination 12.2 against 21.9 fixed, hetrombopag 18.2
against 30.0), so each refit's posterior is wider and pulled more by the prior. On 40
paper-like simulated cohorts (n = 187, B = 10, ``benchmarks/coverage_study.py
--design-draws 10``): bias -0.065 (MC SE 0.013), 95 % coverage 0.975 (0.025), mean posterior
SD 0.121 against an SD of the estimates of 0.081; fixed weights on the same cohorts: -0.029
(0.012), 0.950 (0.034), 0.078 against 0.077. So this form is conservative and more biased,
and stays a robustness variant; a calibrated form (Williams & Savitsky 2021) is the next
candidate.

Only entropy-balancing weights (the default method) have design draws; the propensity-score
weights of ``method = "propensity"`` would need a weighted propensity model and are refused.
The number of draws B trades the design share's precision (its relative Monte Carlo SE is
about :math:`\\sqrt{2/(B-1)}`) against B refits of every model.

References
----------
Liao SX, Zigler CM. Uncertainty in the design stage of two-stage Bayesian propensity score
analysis. *Stat Med* 2020;39:2265-2290.
Rubin DB. The Bayesian bootstrap. *Ann Stat* 1981;9:130-134.
Savitsky TD, Toth D. Bayesian estimation under informative sampling. *Electron J Stat*
2016;10:1677-1708.
Williams MR, Savitsky TD. Uncertainty estimation for pseudo-Bayesian inference under complex
sampling. *Int Stat Rev* 2021;89:72-107.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import xarray as xr

from cit_bayes.analyses.endpoints import fit_name
from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.patient_fit import PatientFit
from cit_bayes.bayes.sampling import Fit
from cit_bayes.bayes.seeds import derive_seed
from cit_bayes.exceptions import ModelError, WeightingError
from cit_bayes.plan import Analysis

__all__ = ["design_weight_draws", "pool_fits", "design_share", "fit_design_uncertainty"]


def design_weight_draws(weighted, replicates: int, seed: int) -> np.ndarray:
    """B design draws of an adjusted analysis's weights (module docstring, step 1).

    Parameters
    ----------
    weighted : cit_bayes.weighting.cohort_weights.WeightedAnalysis
        The analysis's fixed weights, as :func:`~cit_bayes.weighting.cohort_weights.weight_analysis`
        made them (entropy balancing).
    replicates : int
        B, at least 2.
    seed : int
        The Dirichlet draws' seed (``numpy.random.default_rng``).

    Returns
    -------
    numpy.ndarray, shape (B, n)

    Examples
    --------
    >>> import dataclasses
    >>> from cit_bayes.cohort import validate_cohort
    >>> from cit_bayes.plan import load_plan
    >>> from cit_bayes.simulate import simulate_cohort
    >>> from cit_bayes.weighting.cohort_weights import weight_analysis
    >>> plan = dataclasses.replace(load_plan(), covariates=("age", "bmi"))
    >>> cohort = validate_cohort(simulate_cohort(120, seed=1).data)
    >>> weighted = weight_analysis(cohort.data[["age", "bmi"]], cohort.data["arm"],
    ...     analysis="adjusted", estimand="ate", plan=plan, arms=plan.arms)
    >>> draws = design_weight_draws(weighted, replicates=3, seed=5)
    >>> draws.shape, bool(np.all(draws > 0))
    ((3, 120), True)
    """
    estimator = getattr(weighted, "_estimator", None)
    if estimator is None or not hasattr(estimator, "design_draw"):
        raise WeightingError(
            "design draws need entropy-balancing weights (weighting method = 'entropy')"
        )
    if int(replicates) < 2:
        raise ModelError(f"design uncertainty needs at least 2 design draws, got {replicates}")
    rng = np.random.default_rng(seed)
    n = len(weighted.weights)
    return np.stack(
        [estimator.design_draw(n * rng.dirichlet(np.ones(n))) for _ in range(int(replicates))]
    )


def _stack(items):
    """DataArrays or Datasets of the refits, their chains stacked and renumbered."""
    stacked = xr.concat(list(items), dim="chain", coords="minimal", compat="override")
    return stacked.assign_coords(chain=np.arange(stacked.sizes["chain"]))


def pool_fits(fits: Sequence[PatientFit], name: str) -> PatientFit:
    """The refits of the B design draws as one fit: draws pooled, every refit's gates kept.

    The chains of the refits are stacked (refit b's chains are ``b * C ... b * C + C - 1``;
    the attribute ``design_draws`` = B). The diagnostics are the worst over the refits, and
    the pooled fit passes only if every refit did; the failures name the refit.

    Examples
    --------
    >>> from cit_bayes.bayes.sampling import Diagnostics, SamplerSettings
    >>> def fit(shift, passed=True):
    ...     rate = xr.DataArray(np.full((2, 3, 1), shift), dims=("chain", "draw", "arm"),
    ...                         coords={"arm": ["a"]})
    ...     checks = Diagnostics(1.0 + shift / 100, 900 - shift, 800.0, 0, passed)
    ...     tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"rate": rate})})
    ...     return PatientFit("response", Fit("r", tree, checks, SamplerSettings(), 1), {"rate": rate})
    >>> pooled = pool_fits([fit(0.0), fit(1.0, passed=False)], "response/design")
    >>> pooled.draws["rate"].sizes["chain"], pooled.passed, pooled.diagnostics.max_rhat
    (4, False, 1.01)
    """
    if not fits:
        raise ModelError("no refit to pool")
    first = fits[0]
    checks = [f.diagnostics for f in fits]
    failures = tuple(
        f"design draw {b + 1}: {failure}"
        for b, check in enumerate(checks)
        for failure in (check.failures or (() if check.passed else ("a gate was missed",)))
    )
    diagnostics = dataclasses.replace(
        checks[0],
        max_rhat=max(c.max_rhat for c in checks),
        min_ess_bulk=min(c.min_ess_bulk for c in checks),
        min_ess_tail=min(c.min_ess_tail for c in checks),
        divergences=int(sum(c.divergences for c in checks)),
        passed=all(c.passed for c in checks),
        failures=failures,
        chains=int(sum(c.chains for c in checks)),
    )
    tree = xr.DataTree()
    for group in ("posterior", "sample_stats"):
        if group in first.idata:
            tree[group] = xr.DataTree(_stack([f.idata[group].to_dataset() for f in fits]))
    if "constant_data" in first.idata:  # the first draw's arrays (only the weights differ)
        tree["constant_data"] = xr.DataTree(first.idata["constant_data"].to_dataset())
    fit = Fit(
        name=name,
        idata=tree,
        diagnostics=diagnostics,
        settings=first.fit.settings,
        seed=first.fit.seed,
        compile_seconds=sum(f.fit.compile_seconds or 0.0 for f in fits),
        sampling_seconds=sum(f.fit.sampling_seconds for f in fits),
        attrs=dict(first.fit.attrs) | {"design_draws": len(fits)},
    )
    draws = {key: _stack([f.draws[key] for f in fits]) for key in first.draws}
    return PatientFit(endpoint=first.endpoint, fit=fit, draws=draws)


def design_share(values: xr.DataArray, design_draws: int) -> float:
    """The share of a pooled quantity's posterior variance that comes from the design stage.

    :math:`\\mathrm{Var}_b(E[\\theta \\mid b]) / \\mathrm{Var}(\\theta)` over the pooled draws
    of :func:`pool_fits` (dims ``chain, draw``; refit b's chains are consecutive), with the
    between-draw variance corrected for the Monte Carlo error of each draw's mean (not below 0).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> means = np.repeat(rng.normal(0.0, 1.0, 200), 4)  # 200 design draws, 4 chains each
    >>> values = xr.DataArray(means[:, None] + rng.normal(0.0, 1.0, (800, 500)),
    ...                       dims=("chain", "draw"))
    >>> round(design_share(values, 200), 1)  # between 1, within 1: half
    0.5
    """
    array = np.asarray(values.transpose("chain", "draw").values, dtype=float)
    chains = array.shape[0]
    if design_draws < 2 or chains % design_draws:
        raise ModelError(f"{chains} chains do not split into {design_draws} design draws")
    per_draw = array.reshape(design_draws, -1)
    total = per_draw.var()
    if not math.isfinite(total) or total <= 0:
        return 0.0
    within = per_draw.var(axis=1).mean()
    between = per_draw.mean(axis=1).var(ddof=1) - within / per_draw.shape[1]
    return float(min(1.0, max(0.0, between) / total))


def fit_design_uncertainty(
    runner,
    analysis: Analysis,
    weighted,
    data: PatientData,
    endpoints: Sequence[str],
    design_draws: int,
) -> None:
    """Fit the models under ``design_draws`` design draws and keep one pooled fit per model.

    Each draw's weights replace ``data.weights`` (the target tilt, design and patients stay);
    the refit of draw b is named ``"<endpoint>/<analysis> #b"`` (so each has its own seed,
    derived from the runner's) and the pooled fit ``"<endpoint>/<analysis>"`` is stored in
    ``runner.fits``, with the summed seconds in ``runner.timings``. The design draws' own seed
    is derived from the runner's seed and the analysis's name.

    Parameters
    ----------
    runner : cit_bayes.analyses.endpoints.EndpointRunner
    analysis : cit_bayes.plan.Analysis
        The name under which the pooled fits are kept, and the estimand.
    weighted : cit_bayes.weighting.cohort_weights.WeightedAnalysis
        The fixed weights the design draws vary (entropy balancing).
    data : PatientData
        The analysis's data (``runner.patient_data(weighted)``).
    endpoints : sequence of str
    design_draws : int
        B.

    Examples
    --------
    The design draws need entropy-balancing weights; nothing is fitted otherwise:

    >>> from types import SimpleNamespace
    >>> fit_design_uncertainty(SimpleNamespace(seed=1), Analysis("x", "ate"),
    ...                        SimpleNamespace(weights=np.ones(3)), None, ("response",), 5)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.WeightingError: design draws need entropy-balancing weights (weighting method = 'entropy')
    """
    seed = derive_seed(runner.seed, analysis.name, "design draws")
    draws = design_weight_draws(weighted, design_draws, seed)
    refits: dict[str, list] = {endpoint: [] for endpoint in endpoints}
    seconds = dict.fromkeys(endpoints, 0.0)
    for b, weights in enumerate(draws, 1):
        draw = Analysis(f"{analysis.name} #{b}", analysis.estimand)
        runner.fit(
            draw, weighted, tuple(endpoints), data=dataclasses.replace(data, weights=weights)
        )
        for endpoint in endpoints:
            refits[endpoint].append(runner.fits.pop(fit_name(endpoint, draw.name)))
            seconds[endpoint] += runner.timings.pop(fit_name(endpoint, draw.name))
    for endpoint in endpoints:
        name = fit_name(endpoint, analysis.name)
        runner.fits[name] = pool_fits(refits[endpoint], name)
        runner.timings[name] = seconds[endpoint]
