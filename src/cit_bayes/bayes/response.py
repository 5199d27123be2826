"""Response: a weighted Bernoulli-logit model with independent arm effects, and g-computation.

Model
-----
For patient i in arm :math:`a_i` with covariate row :math:`x_i` (standardised design) and
weight :math:`\\tilde w_i` (rescaled within arm to the arm's Kish effective sample size,
:func:`~cit_bayes.bayes.patient_base.kish_rescale`):

.. math::

    \\mathrm{logit}\\, P(y_i = 1) = \\alpha_{a_i} + x_i^\\top\\beta, \\qquad
    \\alpha_a \\sim \\mathrm{Logistic}(m_\\alpha, s_\\alpha) \\text{ independently}, \\quad
    \\beta_j \\sim N(0, s_\\beta),

with the weighted pseudo-likelihood :math:`\\sum_i \\tilde w_i \\log p(y_i \\mid \\cdot)`
(``pm.Potential``). The arm intercepts are independent a priori: the arms are different
regimens (one contains two of the others), not exchangeable units, so no arm's rate is pulled
toward the others'. Logistic(0, 1) on :math:`\\alpha_a` is the uniform distribution on the
rate :math:`\\mathrm{expit}(\\alpha_a)` of the reference patient (every standardised covariate
at its mean, every categorical one at its reference level): the flat Beta(1, 1) of the
published reanalysis, on the patient-level model. It replaced N(0, 1.5) (``intercept_family =
"normal"``, still available), which pulled a high rate toward 50 %: on 200 paper-like
simulated cohorts (combination true rate 0.94, Kish ESS about 16) the combination - rhTPO
difference was biased by -0.061 with N(0, 1.5), -0.038 with N(0, 2), -0.022 with N(0, 2.5) and
-0.001 with Logistic(0, 1) (weighted Laplace approximations with importance resampling; MC SE
about 0.006; the N(0, 1.5) figures agreed with MCMC on the same cohorts, -0.063). The Laplace
figures are for the posterior mode. With MCMC, 200 replicates (``benchmarks/coverage_study.py``),
the posterior mean of the difference has bias -0.035 (MC SE 0.005) and its 95 % interval
covers 0.935 (MC SE 0.017; 0.925 with N(0, 1.5), 0.768 with the arms pooled): what is left is
the pull of any proper prior toward 50 % on a rate near 1 at a small effective sample size,
which the posterior mean shows and the mode does not (a Beta(1, 1) posterior mean (y + 1) /
(n + 2) at the combination's rate 0.94 and Kish ESS about 22 is 0.036 low).

Partial pooling (``pool_arms=True``, a sensitivity analysis): :math:`\\alpha_a = \\mu + \\tau
(H z)_a`, :math:`z \\sim N(0, I_{K-1})`, :math:`\\mu` with the arm intercepts' prior,
:math:`\\tau \\sim \\mathrm{HalfNormal}(s_\\tau)`, H the zero-sum basis, non-centred
(``arm_z``) when some arm carries little data and centred (:math:`u = \\tau z`, ``arm_u``)
when every arm's likelihood weights sum to at least
:data:`~cit_bayes.bayes.patient_blocks.CENTRED_MIN_WEIGHT` (Betancourt & Girolami 2015; the
same model, another geometry, :func:`~cit_bayes.bayes.patient_blocks.pooled_levels`). The
between-arm SD :math:`\\tau` is learned from K arms only, so it rests on its prior; with much
data per arm the non-centred form makes a ridge between :math:`\\tau` and z that NUTS crosses
slowly or with divergences (R-hat 1.012 at n = 2,000 for issue 13; one divergence, min bulk ESS
2,492 on the simulator's paper-like cohort of 2,000 patients, seed 1, where the centred form gives
none and 9,138), while at n = 187 the centred form has the funnel near :math:`\\tau = 0`. It
pulls the arms toward each other: that is why it is not the default.

The prior scales are data (``pm.Data``), so a prior change re-uses the compiled sampler;
defaults in :class:`ResponsePrior` (and the analysis plan).

Target (g-computation)
----------------------
The marginal response rate of arm a in the target population of the estimand,

.. math::  p_a = \\frac{\\sum_i h_i\\, \\mathrm{expit}(\\alpha_a + x_i^\\top\\beta)}{\\sum_i h_i},

computed in every posterior draw after sampling, on the stored draws (``rate``, dims ``arm``;
:func:`response_targets`, :mod:`cit_bayes.bayes.gcomp`): h = 1 averages over all patients
(ATE), the overlap tilting over the overlap population (ATO), the focal arm's indicator over its
patients (ATT). Unadjusted: zero design, unit weights, h = 1, so :math:`p_a =
\\mathrm{expit}(\\alpha_a)`.

References
----------
Betancourt M, Girolami M. Hamiltonian Monte Carlo for hierarchical models. In: *Current Trends in
Bayesian Methodology with Applications*. CRC Press, 2015:79-101.
Gelman A, Jakulin A, Pittau MG, Su Y-S. A weakly informative default prior distribution for
logistic and other regression models. *Ann Appl Stat* 2008;2:1360-1383.
Robins JM. A new approach to causal inference in mortality studies with a sustained exposure
period. *Math Model* 1986;7:1393-1512 (the g-formula).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from cit_bayes.bayes.gcomp import (
    as_posterior,
    average_over_patients,
    distinct_patients,
    draws_matrix,
    linear_predictor,
)
from cit_bayes.bayes.patient_base import (
    SCALE,
    PatientData,
    check_fixed_arm_sd,
    check_prior,
    group_values,
)
from cit_bayes.bayes.patient_blocks import (
    arms_carry_weight,
    group_intercept,
    likelihood_rows,
    pooled_levels,
    row_data,
)
from cit_bayes.bayes.patient_fit import ModelInputs, PatientFit, cached_model, fit_cached_model
from cit_bayes.bayes.sampling import SamplerSettings
from cit_bayes.config import setting
from cit_bayes.exceptions import ModelError

__all__ = [
    "ResponsePrior",
    "build_response_model",
    "response_values",
    "fit_response_model",
    "response_inputs",
    "response_targets",
]

#: Posterior variables of the model (the gates cover all of them).
REPORTED = ("rate",)


@dataclass(frozen=True)
class ResponsePrior:
    """Priors of the response model (logit scale).

    Attributes
    ----------
    intercept_mean, intercept_sd : float
        Location and scale of the prior of each arm's intercept :math:`\\alpha_a` (the common
        level :math:`\\mu` when ``pool_arms``). With the default logistic family, (0, 1) is the
        uniform prior on the reference patient's rate; with the normal family the scale is the
        SD, and N(0, 1.5) puts 95 % of the mass on rates between 5 % and 95 %.
    intercept_family : {"logistic", "normal"}
        The family of that prior (module docstring: why logistic). It changes the model's
        structure, not only its data.
    arm_sd : float
        Used only when ``pool_arms``: scale of the half-normal prior of the between-arm SD
        :math:`\\tau` (1.0 allows arm odds ratios of e^2 and beyond).
    coefficient_sd : float
        SD of the normal prior of each covariate coefficient (log odds ratio per SD of a numeric
        covariate, or for a 0/1 indicator). 1.0 is weakly informative (Gelman et al. 2008 use
        a Cauchy of scale 2.5 on a 0.5-SD scale, i.e. 1.25 per SD, heavier-tailed).
    group_sd : float
        Used only when the data carry a grouping (``PatientData.groups``: tumour type,
        centre): half-normal scale of the SD :math:`\\sigma_g` of the groups' random
        intercepts (logit scale; at :math:`\\sigma_g` = 1.0 a group's odds lie within a factor
        e^2 of the average group's at the 95 % edge;
        :func:`~cit_bayes.bayes.patient_blocks.group_intercept`).
    pool_arms : bool
        False (default): independent arm intercepts. True: arms partially pooled (a sensitivity
        analysis; module docstring). It changes the model's structure, not only its data.
    arm_sd_fixed : bool
        Only with ``pool_arms``: the between-arm SD :math:`\tau` is ``arm_sd`` itself, not
        estimated (a sceptical prior on the differences between arms: each pairwise log odds
        ratio of the reference patient is N(0, 2 arm_sd^2) a priori, with nothing learned about
        :math:`\tau` from four arms). It changes the model's structure.

    Examples
    --------
    >>> from cit_bayes.bayes.response import ResponsePrior
    >>> prior = ResponsePrior(coefficient_sd=0.5)
    >>> prior.intercept_family, prior.intercept_sd, prior.coefficient_sd, prior.pool_arms
    ('logistic', 1.0, 0.5, False)
    """

    intercept_mean: float = 0.0
    intercept_sd: float = setting(1.0, **SCALE)
    arm_sd: float = setting(1.0, **SCALE)
    coefficient_sd: float = setting(1.0, **SCALE)
    group_sd: float = setting(1.0, **SCALE)
    pool_arms: bool = False
    intercept_family: Literal["logistic", "normal"] = setting(
        "logistic", choices=("logistic", "normal")
    )
    arm_sd_fixed: bool = False

    def __post_init__(self):
        check_prior(self)
        check_fixed_arm_sd(self)


#: The prior settings that are ``pm.Data`` of the model (``prior_<name>``); ``pool_arms`` and
#: ``intercept_family`` are not: they fix the model's structure.
_STRUCTURE = ("pool_arms", "intercept_family", "arm_sd_fixed")
_PRIOR_NAMES = tuple(f.name for f in fields(ResponsePrior) if f.name not in _STRUCTURE)
_FAMILIES = {"logistic": pm.Logistic, "normal": pm.Normal}


def _build(
    n: int,
    arms: tuple[str, ...],
    covariates: tuple[str, ...],
    pool_arms: bool,
    family: str,
    groups: tuple[str, ...] = (),
    fixed: bool = False,
    centred: bool = False,
) -> pm.Model:
    coords = {
        "arm": list(arms),
        "arm_contrast": np.arange(len(arms) - 1),
        "patient": np.arange(n),
        "covariate": list(covariates),
    }
    with pm.Model(coords=coords, check_bounds=False) as model:
        # each patient's arrays (the g-computation and the predictive checks read them) ...
        pm.Data("arm_index", np.zeros(n, dtype="int64"), dims="patient")
        pm.Data("design", np.zeros((n, len(covariates))), dims=("patient", "covariate"))
        pm.Data("response", np.zeros(n, dtype="int64"), dims="patient")
        pm.Data("weight", np.ones(n), dims="patient")
        pm.Data("target_tilt", np.ones(n), dims="patient")  # response_targets
        # ... and the likelihood's: identical patients merged, their weights summed
        row = row_data(
            {
                "arm_index": np.zeros(1, dtype="int64"),
                "design": np.zeros((1, len(covariates))),
                "response": np.zeros(1, dtype="int64"),
            }
        )
        prior = {name: pm.Data(f"prior_{name}", 1.0) for name in _PRIOR_NAMES}
        level = _FAMILIES[family]
        if pool_arms:
            intercept = level("intercept", prior["intercept_mean"], prior["intercept_sd"])
            arm_sd = prior["arm_sd"] if fixed else pm.HalfNormal("arm_sd", prior["arm_sd"])
            levels = pooled_levels(intercept, arm_sd, len(arms), centred and not fixed)
            arm_logit = pm.Deterministic("arm_logit", levels, dims="arm")
        else:
            arm_logit = level(
                "arm_logit", prior["intercept_mean"], prior["intercept_sd"], dims="arm"
            )
        coefficient = pm.Normal("coefficient", 0.0, prior["coefficient_sd"], dims="covariate")
        group = group_intercept(groups, n, prior["group_sd"], rows=True)
        # the likelihood runs over the distinct rows of the patients' inputs (likelihood_rows)
        eta = arm_logit[row["arm_index"]] + pt.dot(row["design"], coefficient) + group
        loglik = row["response"] * eta - pt.softplus(eta)  # log Bernoulli(y | expit(eta))
        pm.Potential("weighted_loglik", pt.sum(row["weight"] * loglik))
        # rate: g-computation on the stored draws (response_targets)
    return model


def build_response_model(
    data: PatientData,
    pool_arms: bool = False,
    family: str = "logistic",
    fixed: bool = False,
    centred: bool = False,
) -> pm.Model:
    """The (cached) response model for data of this shape; its ``pm.Data`` are not set.

    ``centred``: with ``pool_arms`` and a free ``arm_sd``, the pooled arm levels centred
    (:func:`~cit_bayes.bayes.patient_blocks.pooled_levels`; otherwise ignored).

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> model = build_response_model(data)
    >>> list(model.coords["arm"]), build_response_model(data) is model
    (['a', 'b'], True)
    """
    if family not in _FAMILIES:
        raise ModelError(f"intercept family must be one of {sorted(_FAMILIES)}, got {family!r}")
    pooling = (bool(pool_arms), bool(fixed), bool(centred) and bool(pool_arms) and not fixed)
    key = ("response", data.n, data.arms, data.covariates, *pooling, family, data.groups)
    return cached_model(
        key,
        lambda: _build(
            data.n, data.arms, data.covariates, pooling[0], family, data.groups, *pooling[1:]
        ),
    )


def response_values(response, data: PatientData, prior: ResponsePrior) -> dict[str, np.ndarray]:
    """The ``pm.Data`` values of the model for this analysis (checked).

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> values = response_values([0, 1, 1, 0], data, ResponsePrior(intercept_sd=2.0))
    >>> values["response"].tolist(), float(values["prior_intercept_sd"])
    ([0, 1, 1, 0], 2.0)
    >>> rows = response_values([1, 1, 1, 0], data, ResponsePrior())  # no covariate: merged
    >>> rows["row_arm_index"].tolist(), rows["row_response"].tolist(), rows["row_weight"].tolist()
    ([0, 1, 1], [1, 1, 0], [2.0, 1.0, 1.0])
    """
    outcome = np.asarray(response, dtype=float)
    if outcome.shape != (data.n,):
        raise ModelError(f"response must have shape ({data.n},), got {outcome.shape}")
    if not np.all(np.isin(outcome, (0.0, 1.0))):
        raise ModelError("response must be 0 or 1 for every patient (no missing values)")
    if not isinstance(prior, ResponsePrior):
        raise ModelError(f"prior must be a ResponsePrior, got {type(prior).__name__}")
    values = (
        {
            "arm_index": data.arm_codes,
            "design": data.design,
            "response": outcome.astype("int64"),
            "weight": data.likelihood_weights(),
            "target_tilt": data.tilt,
        }
        | {f"prior_{name}": np.asarray(float(getattr(prior, name))) for name in _PRIOR_NAMES}
        | group_values(data)
    )
    return values | likelihood_rows(values, ("arm_index", "design", "response"))


def fit_response_model(
    response,
    data: PatientData,
    *,
    prior: ResponsePrior | None = None,
    seed: int | np.random.Generator,
    name: str = "response",
    settings: SamplerSettings | None = None,
    provenance: Mapping[str, str | int | float] | None = None,
) -> PatientFit:
    """Fit the response model and return the marginal response rate per arm.

    Parameters
    ----------
    response : array-like of 0/1, shape (n,)
    data : PatientData
        Arms, design, weights and target tilt (``data.unadjusted()`` for the unadjusted fit).
    prior : ResponsePrior, optional
    seed, name, settings, provenance
        Passed to :func:`~cit_bayes.bayes.sampling.sample`.

    Returns
    -------
    PatientFit
        ``draws["rate"]``: dims ``(chain, draw, arm)``. The posterior also holds
        ``arm_logit`` and ``coefficient`` (dim ``covariate``), and with ``pool_arms``
        ``intercept``, ``arm_sd`` (unless ``arm_sd_fixed``) and ``arm_z`` (``arm_u`` when
        centred; the fit's ``pooled_levels_parametrisation`` attribute says which).

    Examples
    --------
    Sampling takes seconds; the outcome is checked first:

    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> fit_response_model([0, 1, 2, 0], data, seed=1)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: response must be 0 or 1 for every patient (no missing values)
    """
    inputs = response_inputs(response, data, prior)
    return fit_cached_model(
        inputs.model,
        inputs.values,
        endpoint="response",
        reported=REPORTED,
        seed=seed,
        name=name,
        settings=settings,
        provenance=dict(provenance or {}) | dict(inputs.provenance),
        derived=inputs.derived,
    )


def response_inputs(response, data: PatientData, prior: ResponsePrior | None = None) -> ModelInputs:
    """The response model, its data and its g-computation for one fit (not sampled).

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> inputs = response_inputs([0, 1, 1, 0], data)
    >>> list(inputs.model.coords["arm"]), inputs.values["response"].tolist()
    (['a', 'b'], [0, 1, 1, 0])
    """
    prior = ResponsePrior() if prior is None else prior
    values = response_values(response, data, prior)
    centred = arms_carry_weight(values["weight"], data.arm_codes, data.n_arms)
    model = build_response_model(
        data, prior.pool_arms, prior.intercept_family, prior.arm_sd_fixed, centred
    )
    provenance = {}
    if prior.pool_arms and not prior.arm_sd_fixed:
        provenance["pooled_levels_parametrisation"] = "centred" if centred else "non-centred"
    return ModelInputs(model, values, response_targets(values, data.arms), provenance)


def response_targets(values: Mapping[str, np.ndarray], arms: Sequence[str]):
    """The g-computation of the response model on the stored draws (module docstring).

    Returns a function of the posterior (as :func:`~cit_bayes.bayes.sampling.sample` takes
    it) giving ``rate`` (dim ``arm``), :math:`p_a = \\sum_i h_i\\, \\mathrm{expit}(\\alpha_a +
    x_i^\\top\\beta + u_{g_i}) / \\sum_i h_i`, over the distinct patients
    (:mod:`cit_bayes.bayes.gcomp`).

    Examples
    --------
    >>> import xarray as xr
    >>> posterior = xr.Dataset(
    ...     {"arm_logit": (("chain", "draw", "arm"), [[[0.0, 1.0]]]),
    ...      "coefficient": (("chain", "draw", "covariate"), [[[1.0]]])})
    >>> values = {"design": np.array([[-1.0], [1.0]]), "target_tilt": np.ones(2)}
    >>> rate = response_targets(values, ["a", "b"])(posterior)["rate"]
    >>> rate.values[0, 0].round(4).tolist()  # (expit(-1) + expit(1)) / 2, (expit(0) + expit(2)) / 2
    [0.5, 0.6904]
    """
    design, tilt, groups = distinct_patients(
        values["design"], values["target_tilt"], values.get("group_index")
    )

    def derived(posterior):
        linear = linear_predictor(posterior, design, groups)  # linear(draws): (draws, m)
        arm_logit = draws_matrix(posterior, "arm_logit")  # (S, arm)
        rate = average_over_patients(
            lambda s: 1.0 / (1.0 + np.exp(-(linear(s)[:, :, None] + arm_logit[s, None, :]))),
            len(arm_logit), len(tilt), arm_logit.shape[1], tilt,
        )  # fmt: skip
        return {"rate": as_posterior(rate, posterior, ("arm",), {"arm": list(arms)})}

    return derived
