"""Bayesian models of published aggregates: counts per arm, and means with standard errors.

Two likelihoods cover the endpoints of a published multi-arm table:

* :class:`CountData` (``events`` of ``trials`` per block and arm), binomial: a response rate, or
  the rate of each adverse event (one block per event; zero cells are ordinary data);
* :class:`MeanData` (a reported mean and its standard error per block and arm), normal with the
  standard error treated as known: the mean platelet count per day, the mean time to recovery.

Each endpoint takes its arm parameters from a prior of :mod:`cit_bayes.bayes.priors` (beta;
normal, independent or with a shared level; hierarchical, non-centred). :func:`fit_aggregates`
fits several endpoints in ONE model and one sampler run: the endpoints share no parameter, so the
joint posterior is the product of the per-endpoint posteriors, but the model is compiled once.
Prior parameters and data are ``pm.Data``, and the built model is kept per structure within the
process, so a second prior set of the same structure, or a sensitivity run with other standard
errors, re-uses it (and nutpie's compiled sampler) with new data. Compilation dominates the cost
of these small models, so this is what keeps ``reanalyse --published`` fast.

Models never leave ``bayes``: the functions return :class:`AggregateFit` objects holding the
posterior draws of the reported quantity as an :class:`xarray.DataArray`, the endpoint's own
:class:`~cit_bayes.bayes.sampling.Diagnostics` (over its parameters; divergences are those of
the whole run) and the shared :class:`~cit_bayes.bayes.sampling.Fit`.

Notes
-----
Binomial: ``y_bk ~ Binomial(n_bk, p_bk)``; under ``p_bk ~ Beta(a, b)`` the posterior is
``Beta(a + y, b + n - y)`` in closed form. Normal means: ``ybar_bk ~ N(mu_bk, se_bk)``, the usual
aggregate-data likelihood (with 20 or more patients per arm the t correction for an estimated
SD is negligible).

References
----------
Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB. *Bayesian Data Analysis*, 3rd ed.,
CRC Press, 2013, ch. 2 (beta-binomial) and ch. 5 (hierarchical normal models).
"""

from __future__ import annotations

import re
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
from cit_bayes.bayes.priors import EndpointPrior
from cit_bayes.bayes.sampling import (
    Diagnostics,
    Fit,
    SamplerSettings,
    compute_diagnostics,
    fingerprint,
    sample,
)
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

_ENDPOINT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _frame(values, what: str) -> pd.DataFrame:
    if isinstance(values, pd.Series):
        return values.to_frame().T
    if isinstance(values, pd.DataFrame):
        return values
    raise ModelError(f"{what}: expected a pandas Series (arms) or DataFrame (blocks x arms)")


@dataclass(frozen=True)
class CountData:
    """Counts for a binomial endpoint.

    Attributes
    ----------
    endpoint : str
        Name (lower case identifier), the prefix of the model's variables.
    events, trials : pandas.Series or DataFrame
        A Series indexed by arm (one block), or a DataFrame with one row per block and one
        column per arm. Whole numbers with ``0 <= events <= trials``, ``trials >= 1``.
    block_dim : str or None
        Name of the block dimension (``"event"``); None for a single block.

    Examples
    --------
    >>> CountData("response", pd.Series({"a": 3, "b": 5}), pd.Series({"a": 10, "b": 10})).quantity
    'rate'
    """

    endpoint: str
    events: pd.Series | pd.DataFrame
    trials: pd.Series | pd.DataFrame
    block_dim: str | None = None

    quantity = "rate"
    binary = True


@dataclass(frozen=True)
class MeanData:
    """Reported means and standard errors for a continuous endpoint (layout as CountData).

    Examples
    --------
    >>> MeanData("plt", pd.DataFrame({"a": [40.0]}), pd.DataFrame({"a": [8.0]}), "day").quantity
    'mean'
    """

    endpoint: str
    means: pd.Series | pd.DataFrame
    standard_errors: pd.Series | pd.DataFrame
    block_dim: str | None = None

    quantity = "mean"
    binary = False


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
        The sampler run (shared by the endpoints fitted together).
    family, structure : str
        The prior family and the model structure used.
    """

    endpoint: str
    draws: xr.DataArray
    diagnostics: Diagnostics
    fit: Fit
    family: str
    structure: str

    @property
    def passed(self) -> bool:
        """Whether this endpoint's parameters met every gate."""
        return self.diagnostics.passed


@dataclass(frozen=True)
class _Prepared:
    data: CountData | MeanData
    prior: EndpointPrior
    blocks: list[str]
    first: np.ndarray
    second: np.ndarray

    @property
    def single(self) -> bool:
        return self.data.block_dim is None


# Built models, one per structure; see the module docstring.
_MODELS: dict[tuple, pm.Model] = {}


def _prepare(data, prior: EndpointPrior, arms: list[str]) -> _Prepared:
    if not isinstance(data, CountData | MeanData):
        raise ModelError(f"expected CountData or MeanData, got {type(data).__name__}")
    if not _ENDPOINT_NAME.match(data.endpoint):
        raise ModelError(f"endpoint name {data.endpoint!r} must be a lower-case identifier")
    if not isinstance(prior, EndpointPrior):
        raise ModelError(f"{data.endpoint}: prior must be an EndpointPrior")
    scale = getattr(prior.distribution, "scale", None)
    if data.binary and prior.family != "beta" and scale != "logit":
        raise ModelError(f"{data.endpoint}: a rate needs a beta prior or one on the logit scale")
    if not data.binary and (prior.family == "beta" or scale != "natural"):
        raise ModelError(f"{data.endpoint}: a mean needs a normal or hierarchical prior")
    names = ("events", "trials") if data.binary else ("means", "standard_errors")
    first, second = (_frame(getattr(data, n), f"{data.endpoint} {n}").copy() for n in names)
    blocks = [str(b) for b in first.index]
    if data.block_dim is None:
        if len(first.index) != 1 or len(second.index) != 1:
            raise ModelError(f"{data.endpoint}: several blocks need a block_dim name")
        blocks = [data.endpoint]
        first.index = second.index = blocks
    if len(set(blocks)) != len(blocks):
        raise ModelError(f"{data.endpoint}: duplicated block labels {blocks}")
    arrays = []
    for frame, name in ((first, names[0]), (second, names[1])):
        missing = [a for a in arms if a not in frame.columns]
        if missing:
            raise ModelError(f"{data.endpoint} {name}: missing arm(s) {missing}")
        if list(map(str, frame.index)) != blocks:
            raise ModelError(f"{data.endpoint} {name}: blocks differ from {blocks}")
        values = frame.loc[:, arms].to_numpy(dtype=float)
        if values.shape != (len(blocks), len(arms)) or not np.all(np.isfinite(values)):
            raise ModelError(f"{data.endpoint} {name}: need finite values, blocks x arms")
        arrays.append(values)
    first_values, second_values = arrays
    if data.binary:
        if np.any(first_values % 1 != 0) or np.any(second_values % 1 != 0):
            raise ModelError(f"{data.endpoint}: events and trials must be whole numbers")
        if (
            np.any(second_values < 1)
            or np.any(first_values < 0)
            or np.any(first_values > second_values)
        ):
            raise ModelError(f"{data.endpoint}: counts need 0 <= events <= trials, trials >= 1")
        first_values, second_values = first_values.astype("int64"), second_values.astype("int64")
    elif np.any(second_values <= 0):
        raise ModelError(f"{data.endpoint}: standard errors must be positive")
    if data.block_dim is None:
        first_values, second_values = first_values[0], second_values[0]
    return _Prepared(data, prior, blocks, first_values, second_values)


def _data_values(item: _Prepared, arms: list[str]) -> dict[str, np.ndarray]:
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


def _model(items: list[_Prepared], arms: list[str]) -> pm.Model:
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
    items = [_prepare(d, priors[d.endpoint], arms) for d in data]
    model = _model(items, arms)
    reported = {
        i.data.endpoint: reported_names(i.data.endpoint, i.data.quantity, i.prior) for i in items
    }
    data_hash = fingerprint(arms, {i.data.endpoint: (i.blocks, i.first, i.second) for i in items})
    fit = sample(
        model,
        seed=seed,
        settings=settings,
        name=name,
        var_names=[v for names in reported.values() for v in names],
        provenance={"data_fingerprint": data_hash} | dict(provenance or {}),
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
