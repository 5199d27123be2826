"""Published aggregates as model inputs: counts or means per arm, checked and shaped.

:class:`CountData` (``events`` of ``trials`` per block and arm) and :class:`MeanData` (a mean
and its standard error per block and arm) are what :mod:`cit_bayes.bayes.aggregate` fits;
:func:`prepare` checks one against its prior and shapes it as arrays, and :func:`exact_draws`
draws the posterior of an endpoint whose prior is conjugate (:func:`conjugate`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from cit_bayes.bayes.aggregate_blocks import prior_data, structure_of
from cit_bayes.bayes.conjugate import beta_draws, normal_draws, normal_posterior
from cit_bayes.bayes.priors import EndpointPrior
from cit_bayes.exceptions import ModelError

__all__ = ["CountData", "MeanData", "Prepared", "prepare", "conjugate", "exact_draws"]

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
class Prepared:
    """One endpoint's aggregates checked against its prior, as arrays (:func:`prepare`).

    Examples
    --------
    Two blocks (days) of means: ``first`` holds the means and ``second`` the standard errors,
    blocks x arms in the order asked for.

    >>> from cit_bayes.bayes.aggregate_data import MeanData, prepare
    >>> from cit_bayes.bayes.prior_families import NormalPrior
    >>> from cit_bayes.bayes.priors import EndpointPrior
    >>> prior = EndpointPrior("plt", NormalPrior("natural", 100.0, 0.0, 50.0), "wide")
    >>> means = pd.DataFrame({"a": [40.0, 80.0], "b": [50.0, 120.0]}, index=["day3", "day7"])
    >>> errors = pd.DataFrame({"a": [8.0, 9.0], "b": [7.0, 10.0]}, index=["day3", "day7"])
    >>> item = prepare(MeanData("plt", means, errors, "day"), prior, ["b", "a"])
    >>> item.single, item.blocks, item.first.tolist()
    (False, ['day3', 'day7'], [[50.0, 40.0], [120.0, 80.0]])
    """

    data: CountData | MeanData
    prior: EndpointPrior
    blocks: list[str]
    first: np.ndarray
    second: np.ndarray

    @property
    def single(self) -> bool:
        return self.data.block_dim is None


def prepare(data, prior: EndpointPrior, arms: list[str]) -> Prepared:
    """Check ``data`` against its prior and shape it as arrays in the order of ``arms``.

    Examples
    --------
    >>> from cit_bayes.bayes.aggregate_data import CountData, prepare
    >>> from cit_bayes.bayes.prior_families import BetaPrior, NormalPrior
    >>> from cit_bayes.bayes.priors import EndpointPrior
    >>> data = CountData("response", pd.Series({"a": 3, "b": 5}), pd.Series({"a": 10, "b": 10}))
    >>> item = prepare(data, EndpointPrior("response", BetaPrior(1.0, 1.0), "uniform"), ["a", "b"])
    >>> item.single, item.blocks, item.first.tolist(), item.second.tolist()
    (True, ['response'], [3, 5], [10, 10])
    >>> wrong = EndpointPrior("response", NormalPrior("natural", 0.5, 0.0, 1.0), "a mean's")
    >>> prepare(data, wrong, ["a", "b"])
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: response: a rate needs a beta prior or one on the logit scale
    """
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
    return Prepared(data, prior, blocks, first_values, second_values)


def conjugate(item: Prepared) -> bool:
    """Beta prior of a rate, or independent normal prior of a mean: a closed-form posterior.

    Examples
    --------
    >>> from cit_bayes.bayes.aggregate_data import CountData, conjugate, prepare
    >>> from cit_bayes.bayes.prior_families import BetaPrior, HierarchicalPrior
    >>> from cit_bayes.bayes.priors import EndpointPrior
    >>> data = CountData("response", pd.Series({"a": 3, "b": 5}), pd.Series({"a": 10, "b": 10}))
    >>> beta = EndpointPrior("response", BetaPrior(1.0, 1.0), "uniform")
    >>> pooled = EndpointPrior("response", HierarchicalPrior("logit", 0.0, 1.5, 1.0), "pooled")
    >>> conjugate(prepare(data, beta, ["a", "b"])), conjugate(prepare(data, pooled, ["a", "b"]))
    (True, False)
    """
    structure = structure_of(item.prior)
    return structure == "beta" or (structure == "normal-independent" and not item.data.binary)


def exact_draws(item: Prepared, arms, rng, settings) -> xr.DataArray:
    """Closed-form posterior draws of a conjugate endpoint (module docstring's Notes).

    Examples
    --------
    3 of 10 and 5 of 10 under Beta(1, 1): posteriors Beta(4, 8) and Beta(6, 6), means 1/3, 1/2.

    >>> from cit_bayes.bayes.aggregate_data import CountData, exact_draws, prepare
    >>> from cit_bayes.bayes.prior_families import BetaPrior
    >>> from cit_bayes.bayes.priors import EndpointPrior
    >>> from cit_bayes.bayes.sampling import SamplerSettings
    >>> data = CountData("response", pd.Series({"a": 3, "b": 5}), pd.Series({"a": 10, "b": 10}))
    >>> item = prepare(data, EndpointPrior("response", BetaPrior(1.0, 1.0), "uniform"), ["a", "b"])
    >>> draws = exact_draws(item, ["a", "b"], np.random.default_rng(1), SamplerSettings(draws=2000))
    >>> means = draws.mean(("chain", "draw")).values
    >>> draws.dims, draws.shape, bool(np.abs(means - [1 / 3, 1 / 2]).max() < 0.01)
    (('chain', 'draw', 'arm'), (4, 2000, 2), True)
    """
    dims = ("arm",) if item.single else (item.data.block_dim, "arm")
    coords = {"arm": arms} | ({} if item.single else {item.data.block_dim: item.blocks})
    params = prior_data(item.prior, arms, item.blocks, item.single)
    if item.data.binary:
        alpha = params["alpha"] + item.first
        beta = params["beta"] + item.second - item.first
        return beta_draws(alpha, beta, rng=rng, settings=settings, dims=dims, coords=coords)
    mean, sd = normal_posterior(params["mean"], params["sd"], item.first, item.second)
    return normal_draws(mean, sd, rng=rng, settings=settings, dims=dims, coords=coords)
