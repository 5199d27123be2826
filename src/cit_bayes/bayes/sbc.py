"""Simulation-based calibration (SBC) of the patient-level models: prior -> data -> posterior.

One SBC replicate of a model (Talts et al. 2018; Modrák et al. 2023), on a fixed design (arms,
covariates, baseline counts, unit weights):

1. draw the parameters from the model's own prior (``pm.sample_prior_predictive`` on the same
   compiled model the fits use: the prior sampled is exactly the one fitted);
2. draw outcomes from the model given those parameters (:func:`simulate_outcomes`);
3. fit the model to them with the plan's sampler, as every fit is made;
4. for each test quantity, the rank of its true value among the posterior draws, made a PIT by
   :func:`randomised_pit`.

Test quantities: every scalar of every free parameter; the reported quantities' true values
computed by the model's own g-computation from the prior draw (response rates; mean PLT per
day and arm; share recovered by each day, restricted to the horizon, and restricted mean time
to recovery) and the differences between arms of the plan's pairs; and the log-likelihood of
the simulated data (Modrák et al. 2023: it detects miscalibration that no single parameter
shows). If the model and the sampler are right, every PIT is uniform over replicates.

Why not ``simuk``: it needs observed random variables (our likelihoods are a
``pm.Potential``: weighted and on merged rows), it refits through ``pm.sample`` with a model
rebuilt by ``pm.observe`` for each simulation (no reuse of the compiled model, no nutpie), and
runs its simulations in one loop (no Dask). ArviZ draws the ECDF-difference plots and computes
the uniformity tests (:mod:`cit_bayes.calibration.sbc`).

The likelihood weights are 1 here: SBC checks the model and the sampler; what weighting does to
the intervals is what the coverage study (:mod:`cit_bayes.calibration.replicate`) measures.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pymc as pm
import pytensor
import xarray as xr
from pytensor.graph.replace import clone_replace

from cit_bayes.bayes.correlation import correlation_matrix
from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.patient_fit import ModelInputs
from cit_bayes.bayes.recovery import fit_recovery_model, recovery_inputs
from cit_bayes.bayes.response import fit_response_model, response_inputs
from cit_bayes.bayes.seeds import derive_seed
from cit_bayes.bayes.trajectory import fit_trajectory_model, trajectory_inputs
from cit_bayes.bayes.trajectory_targets import slope_deviation_terms
from cit_bayes.exceptions import ModelError

__all__ = ["SBC_ENDPOINTS", "randomised_pit", "sbc_replicate", "simulate_outcomes"]

#: The models SBC checks.
SBC_ENDPOINTS: tuple[str, ...] = ("response", "plt", "recovery")
#: Posterior draws (evenly spaced) at which the log-likelihood test quantity is evaluated.
LOGLIK_DRAWS = 1000

_LOGLIK: dict[int, tuple] = {}


def _linear(parameters: Mapping[str, np.ndarray], values: Mapping[str, np.ndarray]) -> np.ndarray:
    """x_i' beta (+ the group intercept) per patient."""
    linear = np.asarray(values["design"], dtype=float) @ np.asarray(parameters["coefficient"])
    if "group_index" in values and "group_effect" in parameters:
        linear = linear + np.asarray(parameters["group_effect"])[values["group_index"]]
    return linear


def simulate_outcomes(
    endpoint: str,
    parameters: Mapping[str, np.ndarray],
    values: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    *,
    horizon: int = 14,
) -> dict[str, np.ndarray]:
    """Outcomes of every patient drawn from the model given one set of parameter values.

    Parameters
    ----------
    endpoint : {"response", "plt", "recovery"}
    parameters : mapping
        One draw of the model's variables (``arm_logit``; ``arm_day_effect``,
        ``baseline_slope``, ``residual_sd``, ``residual_correlation`` and, with arm-specific
        slopes, ``coefficient_deviation`` and ``baseline_slope_deviation``; ``arm_log_hazard``
        with dims ``day, arm``; ``coefficient``), as numpy arrays.
    values : mapping
        The model's data (``arm_index``, ``design``, ``log_baseline_centred``...).
    rng : numpy.random.Generator
    horizon : int
        Recovery: days followed (every patient followed to the horizon).

    Returns
    -------
    dict
        ``response`` (0/1); ``plt`` (counts, patient x day, all recorded); ``time`` and
        ``recovered`` (first day with PLT >= 100, or the horizon, not recovered).

    Examples
    --------
    >>> values = {"arm_index": np.array([0, 1, 1]), "design": np.zeros((3, 0))}
    >>> parameters = {"arm_logit": np.array([-30.0, 30.0]), "coefficient": np.zeros(0)}
    >>> simulate_outcomes("response", parameters, values, np.random.default_rng(1))
    {'response': array([0, 1, 1])}
    """
    arm = np.asarray(values["arm_index"])
    linear = _linear(parameters, values)
    if endpoint == "response":
        eta = np.asarray(parameters["arm_logit"])[arm] + linear
        return {"response": (rng.random(len(arm)) < 1 / (1 + np.exp(-eta))).astype("int64")}
    if endpoint == "plt":
        level = np.asarray(parameters["arm_day_effect"])[arm]  # (patient, day)
        n_days = level.shape[1]
        slope = np.asarray(parameters.get("baseline_slope", np.zeros(n_days)))
        mu = level + slope[None, :] * np.asarray(values["log_baseline_centred"])[:, None]
        mu = mu + linear[:, None]
        if "coefficient_deviation" in parameters:  # arm-specific slopes
            mu = mu + slope_deviation_terms(
                parameters["coefficient_deviation"], parameters["baseline_slope_deviation"],
                values["design"], values["log_baseline_centred"], arm,
            )  # fmt: skip
        pairs = np.asarray(parameters.get("residual_correlation", np.zeros(0)))
        cholesky = np.linalg.cholesky(correlation_matrix(pairs, n_days))
        noise = rng.standard_normal((len(arm), n_days)) @ cholesky.T
        sd = np.asarray(parameters["residual_sd"])[arm]
        return {"plt": np.exp(mu + sd * noise)}
    if endpoint == "recovery":
        log_hazard = np.asarray(parameters["arm_log_hazard"])[:horizon, :]  # (day, arm)
        eta = log_hazard.T[arm] + linear[:, None]  # (patient, day)
        event = rng.random(eta.shape) < -np.expm1(-np.exp(eta))
        recovered = event.any(axis=1)
        time = np.where(recovered, event.argmax(axis=1) + 1, horizon)
        return {"time": time.astype(float), "recovered": recovered.astype(float)}
    raise ModelError(f"no SBC for model {endpoint!r}; expected one of {SBC_ENDPOINTS}")


def _inputs(endpoint, outcomes, data, prior, spec) -> ModelInputs:
    n = data.n
    if endpoint == "response":
        response = outcomes.get("response", np.zeros(n))
        return response_inputs(response, data, prior)
    if endpoint == "plt":
        counts = outcomes.get("plt", np.full((n, len(spec["days"])), 100.0))
        return trajectory_inputs(spec["plt_day0"], counts, data, days=spec["days"], prior=prior)
    time = outcomes.get("time", np.full(n, float(spec["horizon"])))
    recovered = outcomes.get("recovered", np.zeros(n))
    return recovery_inputs(time, recovered, data, horizon=spec["horizon"], prior=prior)


def _fit(endpoint, outcomes, data, prior, spec, seed, settings, name):
    common = {"prior": prior, "seed": seed, "settings": settings, "name": name}
    if endpoint == "response":
        return fit_response_model(outcomes["response"], data, **common)
    if endpoint == "plt":
        return fit_trajectory_model(
            spec["plt_day0"], outcomes["plt"], data, days=spec["days"], **common
        )
    return fit_recovery_model(
        outcomes["time"], outcomes["recovered"], data, horizon=spec["horizon"], **common
    )


def _prior_draw(inputs: ModelInputs, seed: int) -> xr.Dataset:
    model = inputs.model
    pm.set_data(dict(inputs.values), model=model)
    names = [v.name for v in (*model.free_RVs, *model.deterministics)]
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # the likelihood is a Potential: the prior is exactly what is wanted here
            warnings.filterwarnings("ignore", message="The effect of Potentials")
            draw = pm.sample_prior_predictive(
                draws=1, model=model, random_seed=seed, var_names=names
            )
    finally:
        logger.setLevel(level)
    return draw["prior"].to_dataset()


def _loglik_function(model):
    """The summed log-likelihood (the model's ``weighted_loglik`` Potential) as a function of
    the free variables' values, on the model's current data; compiled once per model."""
    cached = _LOGLIK.get(id(model))
    if cached is not None and cached[0] is model:
        return cached[1], cached[2]
    free = list(model.free_RVs)
    inputs = [rv.type() for rv in free]
    [output] = clone_replace(
        [model["weighted_loglik"]], replace=dict(zip(free, inputs, strict=True))
    )
    function = pytensor.function(inputs, output, on_unused_input="ignore")
    names = [rv.name for rv in free]
    _LOGLIK[id(model)] = (model, function, names)
    return function, names


def randomised_pit(rank: Mapping[str, int], draws: Mapping[str, int], seed: int) -> dict:
    """The PIT of each quantity from its rank among S posterior draws: (rank + U) / (S + 1),
    U uniform on (0, 1) (seeded from ``seed``, one per quantity in order).

    The rank of the true value among S draws is uniform on 0..S for a calibrated model (Talts
    et al. 2018); adding U makes it uniform on (0, 1) exactly, with no PIT of exactly 0 or 1 (a
    true value beyond every draw, which happens by chance once in about S replicates, would
    otherwise set the ``pot_c`` test's p-value to 0).

    Examples
    --------
    >>> pit = randomised_pit({"a": 0, "b": 8000}, {"a": 8000, "b": 8000}, seed=1)
    >>> 0 < pit["a"] < 1 / 8001 < 8000 / 8001 < pit["b"] < 1
    True
    """
    rng = np.random.default_rng(derive_seed(seed, "pit"))
    return {k: float((rank[k] + rng.random()) / (draws[k] + 1)) for k in rank}


def _scalars(name: str, array: xr.DataArray) -> dict[str, np.ndarray]:
    """Each scalar of a (chain, draw, ...) DataArray, labelled ``name[coord, ...]``, flattened
    over the chains and draws."""
    array = array.transpose("chain", "draw", ...)
    rest = [d for d in array.dims if d not in ("chain", "draw")]
    flat = array.values.reshape(array.sizes["chain"] * array.sizes["draw"], -1)
    if not rest:
        return {name: flat[:, 0]}
    labels = np.array(np.meshgrid(*[array[d].values for d in rest], indexing="ij"))
    labels = labels.reshape(len(rest), -1).T
    return {f"{name}[{', '.join(str(x) for x in label)}]": flat[:, k] for k, label in
            enumerate(labels)}  # fmt: skip


def sbc_replicate(
    endpoint: str,
    data: PatientData,
    *,
    prior,
    spec: Mapping,
    seed: int,
    settings=None,
    pairs: Sequence[tuple[str, str]] = (),
) -> dict:
    """One SBC replicate of one model (module docstring): the PIT of every test quantity.

    Parameters
    ----------
    endpoint : {"response", "plt", "recovery"}
    data : PatientData
        The fixed design (unit weights).
    prior
        The model's prior settings (the plan's).
    spec : mapping
        ``days`` and ``plt_day0`` (PLT model), ``horizon`` (recovery model).
    seed : int
        The prior draw, the outcomes and the fit take seeds derived from it.
    settings : SamplerSettings, optional
    pairs : sequence of (arm, arm)
        Differences of the reported quantities also checked.

    Returns
    -------
    dict
        ``pit`` (quantity -> randomised PIT), ``rank`` (draws below the true value) and
        ``draws`` (how many), ``truth`` (quantity -> true value), ``passed`` and the fit's
        diagnostics.

    Examples
    --------
    A replicate samples the prior and fits the model (seconds to minutes); a model without SBC
    is refused before anything runs:

    >>> from cit_bayes.bayes.patient_base import PatientData
    >>> from cit_bayes.bayes.sbc import sbc_replicate
    >>> data = PatientData(("a", "b"), [0, 1], np.zeros((2, 0)), (), np.ones(2), np.ones(2))
    >>> sbc_replicate("safety", data, prior=None, spec={}, seed=1)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: no SBC for model 'safety'; expected one of ('response', 'plt', 'recovery')
    """
    if endpoint not in SBC_ENDPOINTS:
        raise ModelError(f"no SBC for model {endpoint!r}; expected one of {SBC_ENDPOINTS}")
    inputs = _inputs(endpoint, {}, data, prior, spec)
    truth_draw = _prior_draw(inputs, derive_seed(seed, "prior"))
    parameters = {k: v.values[0, 0] for k, v in truth_draw.data_vars.items()}
    rng = np.random.default_rng(derive_seed(seed, "outcomes"))
    outcomes = simulate_outcomes(
        endpoint, parameters, inputs.values, rng, horizon=spec.get("horizon", 14)
    )
    fit = _fit(endpoint, outcomes, data, prior, spec, derive_seed(seed, "fit"), settings,
               f"sbc/{endpoint}")  # fmt: skip
    posterior = fit.fit.idata["posterior"].to_dataset()
    simulated = _inputs(endpoint, outcomes, data, prior, spec)
    derived_truth = simulated.derived(truth_draw)
    truth: dict[str, float] = {}
    draws: dict[str, np.ndarray] = {}
    free = [rv.name for rv in inputs.model.free_RVs]
    for name in free:
        truth |= {k: float(v[0]) for k, v in _scalars(name, truth_draw[name]).items()}
        draws |= _scalars(name, posterior[name])
    for name, true_value in derived_truth.items():
        if name in ("arm_effect",):
            continue
        fitted = fit.draws.get(name, posterior.get(name))
        if endpoint == "recovery" and name == "cumulative_recovery":
            day = f"day{spec['horizon']}"
            true_value, fitted = true_value.sel(day=day), fitted.sel(day=day)
            name = f"recovered by {day}"
        for first, second in pairs:
            label = f"{name} {first} - {second}"
            difference = true_value.sel(arm=first) - true_value.sel(arm=second)
            truth |= {k: float(v[0]) for k, v in _scalars(label, difference).items()}
            draws |= _scalars(label, fitted.sel(arm=first) - fitted.sel(arm=second))
        truth |= {k: float(v[0]) for k, v in _scalars(name, true_value).items()}
        draws |= _scalars(name, fitted)
    # the log-likelihood of the simulated data: the model holds them now (the fit set them)
    function, names = _loglik_function(simulated.model)
    pm.set_data(dict(simulated.values), model=simulated.model)
    keep = np.linspace(0, len(next(iter(draws.values()))) - 1, LOGLIK_DRAWS).astype(int)
    flat = {n: posterior[n].transpose("chain", "draw", ...).values for n in names}
    flat = {n: v.reshape(-1, *v.shape[2:]) for n, v in flat.items()}
    loglik = np.array([float(function(*[flat[n][s] for n in names])) for s in keep])
    truth["log-likelihood"] = float(function(*[parameters[n] for n in names]))
    draws["log-likelihood"] = loglik
    rank = {k: int(np.sum(draws[k] < truth[k])) for k in truth}
    size = {k: len(draws[k]) for k in truth}
    return {
        "pit": randomised_pit(rank, size, seed),
        "rank": rank,
        "draws": size,
        "truth": truth,
        **fit.fit.diagnostics.gate_values(),
    }
