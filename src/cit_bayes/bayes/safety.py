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
are the event and non-event counts, and the posterior is exactly
:math:`\\mathrm{Beta}(a_0 + Y_{ea}, b_0 + N_{ea})` (conjugacy; a closed form the tests check
the sampler against). Zero cells are ordinary data. With weights the posterior is the Beta
of the weighted pseudo-counts: the rate of the event in the target population, adjusted by
weighting alone (too few events for an outcome model with covariates).

References
----------
Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB. *Bayesian Data Analysis*, 3rd ed.,
CRC Press, 2013, ch. 2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from cit_bayes.bayes.patient_base import (
    SCALE,
    PatientData,
    PatientFit,
    cached_model,
    check_prior,
    fit_cached_model,
    kish_rescale,
)
from cit_bayes.bayes.sampling import SamplerSettings
from cit_bayes.config import setting
from cit_bayes.exceptions import ModelError

__all__ = [
    "SafetyPrior",
    "weighted_event_counts",
    "build_safety_model",
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


def _build(arms: tuple[str, ...], event_names: tuple[str, ...]) -> pm.Model:
    shape = (len(event_names), len(arms))
    coords = {"event": list(event_names), "arm": list(arms)}
    with pm.Model(coords=coords, check_bounds=False) as model:
        events = pm.Data("weighted_events", np.zeros(shape), dims=("event", "arm"))
        non_events = pm.Data("weighted_non_events", np.zeros(shape), dims=("event", "arm"))
        pm.Data("recorded", np.zeros(shape), dims=("event", "arm"))
        a = pm.Data("prior_a", 1.0)
        b = pm.Data("prior_b", 1.0)
        rate = pm.Beta("rate", a, b, dims=("event", "arm"))
        pm.Potential(
            "weighted_loglik", pt.sum(events * pt.log(rate) + non_events * pt.log1p(-rate))
        )
    return model


def build_safety_model(data: PatientData, event_names: Sequence[str]) -> pm.Model:
    """The (cached) safety model for these arms and events; its ``pm.Data`` are not set.

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> model = build_safety_model(data, ["transfusion", "bleeding"])
    >>> list(model.coords["event"]), list(model.coords["arm"])
    (['transfusion', 'bleeding'], ['a', 'b'])
    """
    names = tuple(str(e) for e in event_names)
    return cached_model(("safety", data.arms, names), lambda: _build(data.arms, names))


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
    Sampling takes seconds; the events are checked first:

    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> fit_safety_model([[1, 0]] * 4, data, event_names=["transfusion"], seed=1)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: 1 event names for events of shape (4, 2)
    """
    prior = SafetyPrior() if prior is None else prior
    values = safety_values(events, data, event_names, prior)
    model = build_safety_model(data, event_names)
    return fit_cached_model(
        model,
        values,
        endpoint="safety",
        reported=REPORTED,
        seed=seed,
        name=name,
        settings=settings,
        provenance=provenance,
    )
