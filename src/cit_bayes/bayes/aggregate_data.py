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
    data: CountData | MeanData
    prior: EndpointPrior
    blocks: list[str]
    first: np.ndarray
    second: np.ndarray

    @property
    def single(self) -> bool:
        return self.data.block_dim is None


def prepare(data, prior: EndpointPrior, arms: list[str]) -> Prepared:
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
    """Beta prior of a rate, or independent normal prior of a mean: a closed-form posterior."""
    structure = structure_of(item.prior)
    return structure == "beta" or (structure == "normal-independent" and not item.data.binary)


def exact_draws(item: Prepared, arms, rng, settings) -> xr.DataArray:
    """Closed-form posterior draws of a conjugate endpoint (module docstring's Notes)."""
    dims = ("arm",) if item.single else (item.data.block_dim, "arm")
    coords = {"arm": arms} | ({} if item.single else {item.data.block_dim: item.blocks})
    params = prior_data(item.prior, arms, item.blocks, item.single)
    if item.data.binary:
        alpha = params["alpha"] + item.first
        beta = params["beta"] + item.second - item.first
        return beta_draws(alpha, beta, rng=rng, settings=settings, dims=dims, coords=coords)
    mean, sd = normal_posterior(params["mean"], params["sd"], item.first, item.second)
    return normal_draws(mean, sd, rng=rng, settings=settings, dims=dims, coords=coords)
