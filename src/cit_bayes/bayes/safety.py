"""Safety: the rate of each harm (transfusion, adverse events) per arm, weighted binomial.

Model
-----
One model with an ``event`` dimension (cheaper than one per event): for event e and arm a,

.. math::

    p_{ea} \\sim \\mathrm{Beta}(a_0, b_0),\\qquad
    \\log L = \\sum_{e,a} Y_{ea} \\log p_{ea} + N_{ea} \\log(1 - p_{ea}),

with the weighted pseudo-counts :math:`Y_{ea} = \\sum_{i \\in a} \\tilde w_i y_{ie}` and
:math:`N_{ea} = \\sum_{i \\in a} \\tilde w_i (1 - y_{ie})` over the patients whose value of event e
is recorded, the weights rescaled within arm (per event) to the Kish effective sample size of
those patients (:func:`~cit_bayes.bayes.patient_base.kish_rescale`). With unit weights these
are the event and non-event counts. The posterior is
:math:`\\mathrm{Beta}(a_0 + Y_{ea}, b_0 + N_{ea})` (conjugacy), drawn directly
(:mod:`cit_bayes.bayes.conjugate`): no sampler and nothing to compile. Zero cells are ordinary
data. With weights it is the Beta of the weighted pseudo-counts: the rate of the event in the
target population, adjusted by weighting alone (too few events for an outcome model with
covariates), a pseudo-posterior like those of the other weighted models.

References
----------
Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB. *Bayesian Data Analysis*, 3rd ed.,
CRC Press, 2013, ch. 2.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from cit_bayes.bayes.conjugate import beta_draws, exact_fit, exact_rng
from cit_bayes.bayes.patient_base import SCALE, PatientData, check_prior, kish_rescale
from cit_bayes.bayes.patient_fit import PatientFit
from cit_bayes.bayes.sampling import SamplerSettings
from cit_bayes.bayes.seeds import as_int_seed, fingerprint
from cit_bayes.config import setting
from cit_bayes.exceptions import ModelError

__all__ = [
    "SafetyPrior",
    "weighted_event_counts",
    "safety_values",
    "fit_safety_model",
]

REPORTED = ("rate",)


@dataclass(frozen=True)
class SafetyPrior:
    """Beta(a, b) prior of every event rate (default Beta(1, 1): uniform, two pseudo-patients).

    Examples
    --------
    >>> from cit_bayes.bayes.safety import SafetyPrior
    >>> prior = SafetyPrior(a=0.5, b=0.5)  # Jeffreys
    >>> prior.a + prior.b
    1.0
    """

    a: float = setting(1.0, **SCALE)
    b: float = setting(1.0, **SCALE)

    def __post_init__(self):
        check_prior(self)


def weighted_event_counts(
    events, data: PatientData
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted event and non-event pseudo-counts per event and arm.

    Parameters
    ----------
    events : array, shape (n, E)
        0/1 per patient and event, NaN where not recorded.
    data : PatientData

    Returns
    -------
    events, non_events, recorded, ess : numpy.ndarray, shape (E, arms)
        Pseudo-counts :math:`Y_{ea}`, :math:`N_{ea}`, the number of patients with the event
        recorded, and their Kish effective sample size.

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> events = [[1, 0], [0, np.nan], [1, 1], [1, 0]]  # two events, one not recorded
    >>> yes, no, recorded, ess = weighted_event_counts(events, data)
    >>> yes.tolist(), recorded.tolist()
    ([[1.0, 2.0], [0.0, 1.0]], [[2.0, 2.0], [1.0, 2.0]])
    """
    values = np.asarray(events, dtype=float)
    if values.ndim != 2 or values.shape[0] != data.n:
        raise ModelError(f"events must have shape (n={data.n}, events), got {values.shape}")
    recorded = np.isfinite(values)
    if not np.all(np.isin(values[recorded], (0.0, 1.0))):
        raise ModelError("events must be 0, 1 or missing")
    n_events, n_arms = values.shape[1], data.n_arms
    yes = np.zeros((n_events, n_arms))
    no = np.zeros((n_events, n_arms))
    count = np.zeros((n_events, n_arms))
    ess = np.zeros((n_events, n_arms))
    for e in range(n_events):
        weights = kish_rescale(data.weights, data.arm_codes, n_arms, recorded[:, e])
        y = np.where(recorded[:, e], values[:, e], 0.0)
        for j in range(n_arms):
            rows = (data.arm_codes == j) & recorded[:, e]
            yes[e, j] = np.sum(weights[rows] * y[rows])
            no[e, j] = np.sum(weights[rows] * (1.0 - y[rows]))
            count[e, j] = rows.sum()
            ess[e, j] = weights[rows].sum()
    return yes, no, count, ess


def safety_values(
    events, data: PatientData, event_names: Sequence[str], prior: SafetyPrior
) -> dict[str, np.ndarray]:
    """The ``pm.Data`` values of the model for this analysis (checked).

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> events = [[1, 0], [0, np.nan], [1, 1], [1, 0]]
    >>> sorted(safety_values(events, data, ["transfusion", "bleeding"], SafetyPrior()))
    ['prior_a', 'prior_b', 'recorded', 'weighted_events', 'weighted_non_events']
    """
    if not isinstance(prior, SafetyPrior):
        raise ModelError(f"prior must be a SafetyPrior, got {type(prior).__name__}")
    names = tuple(str(e) for e in event_names)
    if not names or len(set(names)) != len(names):
        raise ModelError(f"need distinct event names, got {list(names)}")
    if np.ndim(events) != 2 or np.shape(events)[-1] != len(names):
        raise ModelError(f"{len(names)} event names for events of shape {np.shape(events)}")
    yes, no, count, _ = weighted_event_counts(events, data)
    empty = [
        f"{names[e]} in {data.arms[j]}"
        for e in range(len(names))
        for j in range(data.n_arms)
        if count[e, j] == 0
    ]
    if empty:
        raise ModelError(f"no recorded value for {', '.join(empty)}")
    return {
        "weighted_events": yes,
        "weighted_non_events": no,
        "recorded": count,
        "prior_a": np.asarray(float(prior.a)),
        "prior_b": np.asarray(float(prior.b)),
    }


def fit_safety_model(
    events,
    data: PatientData,
    *,
    event_names: Sequence[str],
    prior: SafetyPrior | None = None,
    seed: int | np.random.Generator,
    name: str = "safety",
    settings: SamplerSettings | None = None,
    provenance: Mapping[str, str | int | float] | None = None,
) -> PatientFit:
    """Fit the rate of every event per arm.

    Parameters
    ----------
    events : array, shape (n, E)
        0/1 per patient and event, NaN where not recorded.
    data : PatientData
        Only arms and weights are used (no covariates: see the module docstring).
    event_names : sequence of str
        One name per column of ``events``.
    prior : SafetyPrior, optional

    Returns
    -------
    PatientFit
        ``draws["rate"]`` dims ``(chain, draw, event, arm)``. ``constant_data`` holds the
        weighted pseudo-counts and the number of patients recorded per event and arm.

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> fit = fit_safety_model([[1], [0], [1], [1]], data, event_names=["transfusion"], seed=1)
    >>> fit.fit.sampler, fit.passed  # Beta(2, 2) and Beta(3, 1): drawn, not sampled
    ('exact', True)
    >>> means = fit.draws["rate"].mean(("chain", "draw")).values
    >>> bool(np.abs(means - [[0.5, 0.75]]).max() < 0.01)
    True
    """
    prior = SafetyPrior() if prior is None else prior
    started = time.perf_counter()
    values = safety_values(events, data, event_names, prior)
    settings = SamplerSettings() if settings is None else settings
    names = tuple(str(e) for e in event_names)
    dims, coords = ("event", "arm"), {"event": list(names), "arm": list(data.arms)}
    int_seed = as_int_seed(seed)
    rate = beta_draws(
        values["prior_a"] + values["weighted_events"],
        values["prior_b"] + values["weighted_non_events"],
        rng=exact_rng(int_seed, name),
        settings=settings,
        dims=dims,
        coords=coords,
    )
    constant = {
        key: xr.DataArray(value, dims=dims, coords=coords) if np.ndim(value) else value
        for key, value in values.items()
    }
    extra = {"model": "safety", "model_data_fingerprint": fingerprint(dict(values))}
    provenance = extra | dict(provenance or {})
    fit = exact_fit(
        {"rate": rate},
        name=name,
        seed=int_seed,
        settings=settings,
        started=started,
        data_fingerprint=str(provenance.pop("data_fingerprint", extra["model_data_fingerprint"])),
        provenance=provenance,
        constant_data=constant,
    )
    return PatientFit(endpoint="safety", fit=fit, draws={"rate": rate.copy()})
