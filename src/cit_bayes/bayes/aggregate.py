"""Bayesian models of published aggregates: counts per arm, and means with standard errors.

Two likelihoods cover the endpoints of a published multi-arm table:

* :class:`CountData` (``events`` of ``trials`` per block and arm), binomial: a response rate, or
  the rate of each adverse event (one block per event; zero cells are ordinary data);
* :class:`MeanData` (a reported mean and its standard error per block and arm), normal with the
  standard error treated as known: the mean platelet count per day, the mean time to recovery.

Each endpoint takes its arm parameters from a prior of :mod:`cit_bayes.bayes.priors` (beta;
normal, independent or with a shared level; hierarchical, non-centred). An endpoint whose
prior is conjugate (a Beta prior of a rate; an independent normal prior of a mean with known
standard errors) has its posterior drawn from the closed form (:mod:`cit_bayes.bayes.conjugate`):
no sampler, no compilation, ``sampler = "exact"``. :func:`fit_aggregates` samples the other
endpoints in ONE model and one sampler run: the endpoints share no parameter, so the joint
posterior is the product of the per-endpoint posteriors, but the model is compiled once. Prior
parameters and data are ``pm.Data``, and the built model is kept per structure within the
process, so a second prior set of the same structure, or a sensitivity run with other standard
errors, re-uses it (and nutpie's compiled sampler) with new data.

Models never leave ``bayes``: the functions return :class:`AggregateFit` objects holding the
posterior draws of the reported quantity as an :class:`xarray.DataArray`, the endpoint's own
:class:`~cit_bayes.bayes.sampling.Diagnostics` (over its parameters; divergences are those of
the whole run) and the shared :class:`~cit_bayes.bayes.sampling.Fit`.

Notes
-----
Binomial: ``y_bk ~ Binomial(n_bk, p_bk)``; under ``p_bk ~ Beta(a, b)`` the posterior is
``Beta(a + y, b + n - y)``. Normal means: ``ybar_bk ~ N(mu_bk, se_bk)``, the usual aggregate-data
likelihood (with 20 or more patients per arm the t correction for an estimated SD is
negligible); under ``mu_bk ~ N(m, s)`` the posterior is normal with precision
``1/s^2 + 1/se^2``.

References
----------
Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB. *Bayesian Data Analysis*, 3rd ed.,
CRC Press, 2013, ch. 2 (beta-binomial) and ch. 5 (hierarchical normal models).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from cit_bayes.bayes.aggregate_blocks import (
    add_binomial,
    add_normal_means,
    prior_data,
    reported_names,
    structure_of,
)
from cit_bayes.bayes.aggregate_data import (
    CountData,
    MeanData,
    Prepared,
    conjugate,
    exact_draws,
    prepare,
)
from cit_bayes.bayes.conjugate import EXACT, add_exact, exact_fit, exact_rng
from cit_bayes.bayes.priors import EndpointPrior
from cit_bayes.bayes.sampling import (
    Diagnostics,
    Fit,
    SamplerSettings,
    compute_diagnostics,
    sample,
)
from cit_bayes.bayes.seeds import as_int_seed, fingerprint
from cit_bayes.exceptions import ModelError

__all__ = [
    "CountData",
    "MeanData",
    "AggregateFit",
    "fit_aggregates",
    "fit_response",
    "fit_safety",
    "fit_plt",
    "fit_recovery",
]


@dataclass(frozen=True)
class AggregateFit:
    """Posterior of one endpoint fitted to published aggregates.

    Attributes
    ----------
    endpoint : str
    draws : xarray.DataArray
        The reported quantity (``rate`` or ``mean``), dims ``(chain, draw, [block_dim,] arm)``.
    diagnostics : Diagnostics
        Gates over this endpoint's parameters (divergences: those of the whole run).
    fit : Fit
        The run (shared by the endpoints fitted together).
    family, structure : str
        The prior family and the model structure used.
    sampler : str
        ``"exact"`` where the posterior is drawn from its closed form, else the sampler's name.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.bayes import CountData, fit_aggregates, load_prior_set
    >>> counts = CountData("response", pd.Series({"a": 3, "b": 5}), pd.Series({"a": 10, "b": 10}))
    >>> fits = fit_aggregates([counts], load_prior_set("flat").blocks, arms=["a", "b"], seed=1,
    ...                       name="example")
    >>> fit = fits["response"]  # Beta(1, 1) prior: posteriors Beta(4, 8) and Beta(6, 6)
    >>> fit.sampler, fit.draws.dims, fit.diagnostics.passed
    ('exact', ('chain', 'draw', 'arm'), True)
    >>> means = {arm: float(fit.draws.sel(arm=arm).mean()) for arm in ("a", "b")}
    >>> abs(means["a"] - 4 / 12) < 0.01, abs(means["b"] - 6 / 12) < 0.01  # the Beta means
    (True, True)
    """

    endpoint: str
    draws: xr.DataArray
    diagnostics: Diagnostics
    fit: Fit
    family: str
    structure: str
    sampler: str = ""

    @property
    def passed(self) -> bool:
        """Whether this endpoint's parameters met every gate."""
        return self.diagnostics.passed


# Built models, one per structure; see the module docstring.
_MODELS: dict[tuple, pm.Model] = {}


def _data_values(item: Prepared, arms: list[str]) -> dict[str, np.ndarray]:
    endpoint = item.data.endpoint
    if item.data.binary:
        values = {f"{endpoint}_events": item.first, f"{endpoint}_trials": item.second}
    else:
        values = {
            f"{endpoint}_observed_mean": item.first,
            f"{endpoint}_standard_error": item.second,
        }
    params = prior_data(item.prior, arms, item.blocks, item.single)
    values.update({f"{endpoint}_prior_{key}": value for key, value in params.items()})
    return values


def _model(items: list[Prepared], arms: list[str]) -> pm.Model:
    key = (
        tuple(arms),
        tuple(
            (
                i.data.endpoint,
                i.data.binary,
                structure_of(i.prior),
                i.data.block_dim,
                tuple(i.blocks),
            )
            for i in items
        ),
    )
    model = _MODELS.get(key)
    if model is None:
        coords: dict[str, list[str]] = {"arm": list(arms)}
        for item in items:
            dim = item.data.block_dim
            if dim is None:
                continue
            if dim in coords and coords[dim] != item.blocks:
                raise ModelError(f"block dimension {dim!r} has different labels across endpoints")
            coords[dim] = item.blocks
        with pm.Model(coords=coords) as model:
            for item in items:
                add = add_binomial if item.data.binary else add_normal_means
                add(
                    item.data.endpoint,
                    item.prior,
                    item.first,
                    item.second,
                    arms,
                    item.blocks,
                    item.data.block_dim,
                )
        _MODELS[key] = model
    values: dict[str, np.ndarray] = {}
    for item in items:
        values.update(_data_values(item, arms))
    pm.set_data(values, model=model)
    return model


def fit_aggregates(
    data: Sequence[CountData | MeanData],
    priors: Mapping[str, EndpointPrior],
    *,
    arms: Sequence[str],
    seed: int | np.random.Generator,
    name: str,
    settings: SamplerSettings | None = None,
    provenance: Mapping[str, str | int | float] | None = None,
) -> dict[str, AggregateFit]:
    """Fit several endpoints in one model and one sampler run.

    Parameters
    ----------
    data : sequence of CountData or MeanData
        One entry per endpoint (distinct endpoint names).
    priors : mapping of endpoint name to EndpointPrior
        The prior of each endpoint (for example ``prior_set.blocks``).
    arms : sequence of str
        Arm labels, the columns read from the data.
    seed, name, settings, provenance
        Passed to :func:`~cit_bayes.bayes.sampling.sample`; the fingerprint of the data is added
        to the provenance.

    Returns
    -------
    dict of str to AggregateFit
        Keyed by endpoint, in the order given.

    Examples
    --------
    >>> fit_aggregates([], {}, arms=["a", "a"], seed=1, name="joint")  # checked before sampling
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: need distinct arm labels, got ['a', 'a']
    """
    arms = [str(a) for a in arms]
    if not arms or len(set(arms)) != len(arms):
        raise ModelError(f"need distinct arm labels, got {arms}")
    if not data:
        raise ModelError("no endpoint to fit")
    endpoints = [d.endpoint for d in data]
    if len(set(endpoints)) != len(endpoints):
        raise ModelError(f"duplicated endpoints {endpoints}")
    missing = [e for e in endpoints if e not in priors]
    if missing:
        raise ModelError(f"no prior for endpoint(s) {missing}")
    items = [prepare(d, priors[d.endpoint], arms) for d in data]
    reported = {
        i.data.endpoint: reported_names(i.data.endpoint, i.data.quantity, i.prior) for i in items
    }
    data_hash = fingerprint(arms, {i.data.endpoint: (i.blocks, i.first, i.second) for i in items})
    settings = settings if settings is not None else SamplerSettings()
    provenance = {"data_fingerprint": data_hash} | dict(provenance or {})
    exact = [i for i in items if conjugate(i)]
    sampled = [i for i in items if not conjugate(i)]
    started, int_seed = time.perf_counter(), as_int_seed(seed)
    rng = exact_rng(int_seed, name)
    draws = {
        f"{i.data.endpoint}_{i.data.quantity}": exact_draws(i, arms, rng, settings) for i in exact
    }
    if sampled:
        fit = sample(
            _model(sampled, arms),
            seed=int_seed,
            settings=settings,
            name=name,
            var_names=[v for i in sampled for v in reported[i.data.endpoint]],
            provenance=provenance,
        )
        fit = add_exact(fit, draws)
    else:
        fingerprint_ = provenance.pop("data_fingerprint")
        fit = exact_fit(
            draws,
            name=name,
            seed=int_seed,
            settings=settings,
            started=started,
            data_fingerprint=fingerprint_,
            provenance=provenance,
        )
    results = {}
    for item in items:
        endpoint = item.data.endpoint
        draws = fit.idata.posterior[f"{endpoint}_{item.data.quantity}"].rename(item.data.quantity)
        results[endpoint] = AggregateFit(
            endpoint=endpoint,
            draws=draws.transpose("chain", "draw", ...),
            diagnostics=compute_diagnostics(
                fit.idata, var_names=reported[endpoint], settings=fit.settings
            ),
            fit=fit,
            family=item.prior.family,
            structure=structure_of(item.prior),
            sampler=EXACT if item in exact else fit.settings.sampler,
        )
    return results


def _single(data, prior, *, arms, seed, name, settings, provenance) -> AggregateFit:
    fits = fit_aggregates(
        [data],
        {data.endpoint: prior},
        arms=arms,
        seed=seed,
        name=name,
        settings=settings,
        provenance=provenance,
    )
    return fits[data.endpoint]


def fit_response(
    responders: Mapping[str, int] | pd.Series,
    patients: Mapping[str, int] | pd.Series,
    prior: EndpointPrior,
    *,
    arms: Sequence[str],
    seed: int | np.random.Generator,
    name: str = "response",
    settings: SamplerSettings | None = None,
    provenance: Mapping[str, str | int | float] | None = None,
) -> AggregateFit:
    """Posterior response rate per arm from responders and patients per arm.

    Returns draws of ``rate`` with dims ``(chain, draw, arm)``. Under a Beta(a, b) prior the
    exact posterior is Beta(a + responders, b + non-responders).

    Examples
    --------
    >>> CountData("response", pd.Series({"a": 3}), pd.Series({"a": 10})).binary  # what it fits
    True
    """
    data = CountData(
        "response", pd.Series(responders, dtype=float), pd.Series(patients, dtype=float)
    )
    return _single(
        data, prior, arms=arms, seed=seed, name=name, settings=settings, provenance=provenance
    )


def fit_safety(
    events: pd.DataFrame,
    patients: Mapping[str, int] | pd.Series,
    prior: EndpointPrior,
    *,
    arms: Sequence[str],
    seed: int | np.random.Generator,
    name: str = "safety",
    settings: SamplerSettings | None = None,
    provenance: Mapping[str, str | int | float] | None = None,
) -> AggregateFit:
    """Posterior rate of each event per arm, in one model with an ``event`` dimension.

    ``events``: one row per event (index: event names), one column per arm; zero cells allowed.
    Returns draws of ``rate`` with dims ``(chain, draw, event, arm)``.

    Examples
    --------
    >>> CountData("safety", pd.DataFrame({"a": [2]}), pd.DataFrame({"a": [9]}), "event").block_dim
    'event'
    """
    data = CountData("safety", events, _trials_like(events, patients), block_dim="event")
    return _single(
        data, prior, arms=arms, seed=seed, name=name, settings=settings, provenance=provenance
    )


def _trials_like(events: pd.DataFrame, patients) -> pd.DataFrame:
    if not isinstance(events, pd.DataFrame) or events.empty:
        raise ModelError("events must be a non-empty DataFrame (events x arms)")
    sizes = pd.Series(patients, dtype=float)
    return pd.DataFrame(
        [sizes.reindex(events.columns).to_numpy()] * len(events),
        index=events.index,
        columns=events.columns,
    )


def fit_plt(
    means: pd.DataFrame,
    standard_errors: pd.DataFrame,
    prior: EndpointPrior,
    *,
    arms: Sequence[str],
    seed: int | np.random.Generator,
    name: str = "plt",
    settings: SamplerSettings | None = None,
    provenance: Mapping[str, str | int | float] | None = None,
) -> AggregateFit:
    """Posterior mean platelet count per day and arm (DataFrames: days x arms).

    Returns draws of ``mean`` with dims ``(chain, draw, day, arm)``.

    Examples
    --------
    >>> MeanData("plt", pd.DataFrame({"a": [40.0]}), pd.DataFrame({"a": [8.0]}), "day").block_dim
    'day'
    """
    data = MeanData("plt", means, standard_errors, block_dim="day")
    return _single(
        data, prior, arms=arms, seed=seed, name=name, settings=settings, provenance=provenance
    )


def fit_recovery(
    means: Mapping[str, float] | pd.Series,
    standard_errors: Mapping[str, float] | pd.Series,
    prior: EndpointPrior,
    *,
    arms: Sequence[str],
    seed: int | np.random.Generator,
    name: str = "recovery",
    settings: SamplerSettings | None = None,
    provenance: Mapping[str, str | int | float] | None = None,
) -> AggregateFit:
    """Posterior mean time to recovery per arm. Returns draws of ``mean``, dims (chain, draw, arm).

    Examples
    --------
    >>> MeanData("recovery", pd.Series({"a": 9.5}), pd.Series({"a": 1.2})).binary  # what it fits
    False
    """
    data = MeanData(
        "recovery", pd.Series(means, dtype=float), pd.Series(standard_errors, dtype=float)
    )
    return _single(
        data, prior, arms=arms, seed=seed, name=name, settings=settings, provenance=provenance
    )
