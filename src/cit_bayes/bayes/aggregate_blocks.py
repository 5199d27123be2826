"""Building blocks of the aggregate-data models: arm parameters under a prior, and likelihoods.

Each function adds the variables of one endpoint to the PyMC model in context, named with the
endpoint as prefix (``response_rate``, ``plt_mean``, ``safety_tau``, ...). Prior parameters and
data are ``pm.Data`` containers, so that one built model serves every prior set of the same
structure and every data set of the same shape. The graphs use only elementwise operations and
sums (no matrix products), so they need no BLAS.

Structures (see :mod:`cit_bayes.bayes.priors` for the families):

``beta``
    ``p_k ~ Beta(alpha_k, beta_k)`` (rates only).
``normal-independent``
    ``theta_k ~ N(mean_k, sd_k)``, independent arms (``common_sd = 0``).
``normal-shared``
    ``m ~ N(0, common_sd)``, ``theta_k ~ N(mean_k + m, sd_k)``: centred in theta, which suits
    data that pin each arm down (no hyperparameter of scale, hence no funnel).
``hierarchical``
    ``m ~ N(center, common_sd)``, ``tau ~ HalfNormal(tau_scale)``, ``z_k ~ N(0, 1)``,
    ``theta_k = m + tau z_k``: non-centred (Papaspiliopoulos et al., 2007). For normal means
    with known standard errors theta is integrated out of the likelihood
    (``ybar_k ~ N(m, sqrt(tau^2 + se_k^2))``) and drawn non-centred from its exact conditional
    posterior, ``theta_k = m + w_k (ybar_k - m) + sqrt(w_k) se_k z_k``,
    ``w_k = tau^2 / (tau^2 + se_k^2)`` (Gelman et al., 2013, section 5.4): the same posterior,
    without the funnel that precise data give the plain non-centred form.

For an endpoint with blocks (days, events) every block has its own ``m`` (and ``tau``).

References
----------
Papaspiliopoulos O, Roberts GO, Skold M. A general framework for the parametrization of
hierarchical models. *Stat Sci* 2007;22:59-73.
Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB. *Bayesian Data Analysis*, 3rd ed.,
CRC Press, 2013, section 5.4.
Betancourt M, Girolami M. Hamiltonian Monte Carlo for hierarchical models. In: *Current Trends
in Bayesian Methodology with Applications*, CRC Press, 2015.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from cit_bayes.bayes.priors import EndpointPrior
from cit_bayes.exceptions import ModelError

__all__ = [
    "structure_of",
    "reported_names",
    "add_arm_parameters",
    "add_binomial",
    "add_normal_means",
    "prior_data",
]


def structure_of(prior: EndpointPrior) -> str:
    """The model structure a prior needs; priors of one structure share a built model.

    Examples
    --------
    >>> from cit_bayes.bayes.aggregate_blocks import structure_of
    >>> from cit_bayes.bayes.priors import load_prior_set
    >>> [structure_of(load_prior_set(name)["plt"]) for name in ("flat", "skeptical")]
    ['normal-independent', 'normal-shared']
    """
    if prior.family == "normal":
        return "normal-shared" if prior.distribution.shared_level else "normal-independent"
    return prior.family


def reported_names(endpoint: str, quantity: str, prior: EndpointPrior) -> list[str]:
    """The reported quantity and hyperparameters of an endpoint: what the gates cover.

    Examples
    --------
    >>> from cit_bayes.bayes.aggregate_blocks import reported_names
    >>> from cit_bayes.bayes.priors import load_prior_set
    >>> reported_names("plt", "mean", load_prior_set("hierarchical")["plt"])
    ['plt_mean', 'plt_level', 'plt_tau']
    """
    structure = structure_of(prior)
    names = [f"{endpoint}_{quantity}"]
    if structure == "hierarchical":
        names += [f"{endpoint}_level", f"{endpoint}_tau"]
    elif structure == "normal-shared":
        names += [f"{endpoint}_level"]
    return names


def _dims(block_dim: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(arm-level dims, block-level dims)."""
    if block_dim is None:
        return ("arm",), ()
    return (block_dim, "arm"), (block_dim,)


def prior_data(
    prior: EndpointPrior, arms: Sequence[str], blocks: Sequence[str], single: bool
) -> dict[str, np.ndarray]:
    """The prior's numeric parameters, shaped for the model (a single block is squeezed).

    Examples
    --------
    >>> from cit_bayes.bayes.aggregate_blocks import prior_data
    >>> from cit_bayes.bayes.priors import load_prior_set
    >>> params = prior_data(load_prior_set("flat")["plt"], ["a", "b"], ["day3", "day7"], False)
    >>> sorted(params), params["sd"].shape
    (['mean', 'sd'], (2, 2))
    """
    params = prior.distribution.parameters(arms, blocks)
    if structure_of(prior) == "normal-independent":
        params.pop("common_sd")
    if single:
        params = {key: value[0] for key, value in params.items()}
    return params


def add_arm_parameters(
    endpoint: str,
    prior: EndpointPrior,
    arms: Sequence[str],
    blocks: Sequence[str],
    block_dim: str | None,
) -> pt.TensorVariable:
    """Add theta (the arm parameters, one per block and arm) under a normal or hierarchical prior.

    Examples
    --------
    >>> from cit_bayes.bayes.priors import load_prior_set
    >>> prior = load_prior_set("hierarchical")["recovery"]
    >>> with pm.Model(coords={"arm": ["a", "b"]}) as model:
    ...     theta = add_arm_parameters("recovery", prior, ["a", "b"], ["recovery"], None)
    >>> theta.name, [variable.name for variable in model.free_RVs]
    ('recovery_theta', ['recovery_level', 'recovery_tau', 'recovery_z'])
    """
    dims, block_dims = _dims(block_dim)
    params = prior_data(prior, arms, blocks, single=block_dim is None)
    structure = structure_of(prior)
    name = f"{endpoint}_prior_"
    if structure == "normal-independent":
        mean = pm.Data(name + "mean", params["mean"], dims=dims)
        sd = pm.Data(name + "sd", params["sd"], dims=dims)
        return pm.Normal(f"{endpoint}_theta", mu=mean, sigma=sd, dims=dims)
    if structure == "normal-shared":
        mean = pm.Data(name + "mean", params["mean"], dims=dims)
        sd = pm.Data(name + "sd", params["sd"], dims=dims)
        common_sd = pm.Data(name + "common_sd", params["common_sd"], dims=block_dims)
        level = pm.Normal(f"{endpoint}_level", mu=0.0, sigma=common_sd, dims=block_dims)
        return pm.Normal(f"{endpoint}_theta", mu=mean + level[..., None], sigma=sd, dims=dims)
    if structure == "hierarchical":
        center = pm.Data(name + "center", params["center"], dims=block_dims)
        common_sd = pm.Data(name + "common_sd", params["common_sd"], dims=block_dims)
        tau_scale = pm.Data(name + "tau_scale", params["tau_scale"], dims=block_dims)
        level = pm.Normal(f"{endpoint}_level", mu=center, sigma=common_sd, dims=block_dims)
        tau = pm.HalfNormal(f"{endpoint}_tau", sigma=tau_scale, dims=block_dims)
        z = pm.Normal(f"{endpoint}_z", 0.0, 1.0, dims=dims)
        return pm.Deterministic(
            f"{endpoint}_theta", level[..., None] + tau[..., None] * z, dims=dims
        )
    raise ModelError(f"{endpoint}: prior family {prior.family!r} gives no arm parameters here")


def add_binomial(
    endpoint: str,
    prior: EndpointPrior,
    events: np.ndarray,
    trials: np.ndarray,
    arms: Sequence[str],
    blocks: Sequence[str],
    block_dim: str | None,
) -> None:
    """Add ``events ~ Binomial(trials, rate)`` with the rate under ``prior``.

    Examples
    --------
    >>> from cit_bayes.bayes.priors import load_prior_set
    >>> prior, events, trials = load_prior_set("flat")["response"], [3, 5], [10, 10]
    >>> with pm.Model(coords={"arm": ["a", "b"]}) as model:
    ...     add_binomial("response", prior, events, trials, ["a", "b"], ["response"], None)
    >>> [variable.name for variable in model.free_RVs + model.observed_RVs]
    ['response_rate', 'response_y']
    """
    dims, _ = _dims(block_dim)
    events_data = pm.Data(f"{endpoint}_events", events, dims=dims)
    trials_data = pm.Data(f"{endpoint}_trials", trials, dims=dims)
    if structure_of(prior) == "beta":
        params = prior_data(prior, arms, blocks, single=block_dim is None)
        alpha = pm.Data(f"{endpoint}_prior_alpha", params["alpha"], dims=dims)
        beta = pm.Data(f"{endpoint}_prior_beta", params["beta"], dims=dims)
        rate = pm.Beta(f"{endpoint}_rate", alpha=alpha, beta=beta, dims=dims)
        pm.Binomial(f"{endpoint}_y", n=trials_data, p=rate, observed=events_data, dims=dims)
        return
    theta = add_arm_parameters(endpoint, prior, arms, blocks, block_dim)
    pm.Deterministic(f"{endpoint}_rate", pm.math.invlogit(theta), dims=dims)
    pm.Binomial(f"{endpoint}_y", n=trials_data, logit_p=theta, observed=events_data, dims=dims)


def add_normal_means(
    endpoint: str,
    prior: EndpointPrior,
    means: np.ndarray,
    standard_errors: np.ndarray,
    arms: Sequence[str],
    blocks: Sequence[str],
    block_dim: str | None,
) -> None:
    """Add ``mean_observed ~ N(mean, standard_error)`` with the mean under ``prior``.

    Examples
    --------
    >>> from cit_bayes.bayes.priors import load_prior_set
    >>> prior, means, ses = load_prior_set("skeptical")["plt"], [40.0, 55.0], [8.0, 9.0]
    >>> with pm.Model(coords={"arm": ["a", "b"]}) as model:
    ...     add_normal_means("plt", prior, means, ses, ["a", "b"], ["plt"], None)
    >>> [variable.name for variable in model.free_RVs + model.deterministics]
    ['plt_level', 'plt_theta', 'plt_mean']
    """
    dims, block_dims = _dims(block_dim)
    observed = pm.Data(f"{endpoint}_observed_mean", means, dims=dims)
    se = pm.Data(f"{endpoint}_standard_error", standard_errors, dims=dims)
    if structure_of(prior) != "hierarchical":
        theta = add_arm_parameters(endpoint, prior, arms, blocks, block_dim)
        pm.Deterministic(f"{endpoint}_mean", theta, dims=dims)
        pm.Normal(f"{endpoint}_y", mu=theta, sigma=se, observed=observed, dims=dims)
        return
    # Hierarchical normal means with known standard errors: theta is integrated out of the
    # likelihood, ybar_k ~ N(m, sqrt(tau^2 + se_k^2)), and drawn non-centred from its exact
    # conditional posterior, theta_k = m + w_k (ybar_k - m) + sqrt(w_k) se_k z_k with
    # w_k = tau^2 / (tau^2 + se_k^2) and z_k ~ N(0, 1) a posteriori independent of the data.
    # The joint posterior is unchanged; the funnel between tau and theta is gone.
    params = prior_data(prior, arms, blocks, single=block_dim is None)
    name = f"{endpoint}_prior_"
    center = pm.Data(name + "center", params["center"], dims=block_dims)
    common_sd = pm.Data(name + "common_sd", params["common_sd"], dims=block_dims)
    tau_scale = pm.Data(name + "tau_scale", params["tau_scale"], dims=block_dims)
    level = pm.Normal(f"{endpoint}_level", mu=center, sigma=common_sd, dims=block_dims)
    tau = pm.HalfNormal(f"{endpoint}_tau", sigma=tau_scale, dims=block_dims)
    z = pm.Normal(f"{endpoint}_z", 0.0, 1.0, dims=dims)
    variance = tau[..., None] ** 2 + se**2
    pm.Normal(
        f"{endpoint}_y", mu=level[..., None], sigma=pt.sqrt(variance), observed=observed, dims=dims
    )
    shrink = tau[..., None] ** 2 / variance
    theta = level[..., None] + shrink * (observed - level[..., None]) + pt.sqrt(shrink) * se * z
    pm.Deterministic(f"{endpoint}_mean", theta, dims=dims)
