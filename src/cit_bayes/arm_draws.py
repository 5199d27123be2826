"""Posterior draws of one quantity per arm, as :class:`ArmDraws`, from any of their shapes.

:func:`as_draws` reads an :class:`xarray.DataArray` with dims ``(chain, draw, arm)`` (any order;
a stacked ``sample`` dimension is read as one chain) or a plain ``(draws, arms)`` or
``(chains, draws, arms)`` numpy array with its arm labels, and checks it. The comparisons of
:mod:`cit_bayes.contrasts` all start from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

__all__ = ["ArmDraws", "as_draws"]

_SAMPLE_DIMS = ("chain", "draw")


@dataclass(frozen=True)
class ArmDraws:
    """Posterior draws of one quantity per arm.

    Attributes
    ----------
    values : numpy.ndarray
        Shape ``(chains, draws, arms)``; finite floats.
    arms : tuple of str
        Arm labels, in the order of the last axis.

    Examples
    --------
    >>> import numpy as np
    >>> draws = ArmDraws(np.zeros((2, 3, 2)), ("rhTPO", "rhIL-11"))
    >>> draws.n_samples, draws.arm("rhIL-11").shape
    (6, (2, 3))
    """

    values: np.ndarray
    arms: tuple[str, ...]

    @property
    def n_samples(self) -> int:
        """Total number of draws (chains x draws)."""
        return int(self.values.shape[0] * self.values.shape[1])

    def arm(self, label: str) -> np.ndarray:
        """Return the ``(chains, draws)`` draws of one arm."""
        try:
            index = self.arms.index(label)
        except ValueError:
            raise ValueError(f"unknown arm {label!r}; the draws have arms {self.arms}") from None
        return self.values[..., index]


def as_draws(
    draws: ArmDraws | xr.DataArray | np.ndarray,
    arms: Sequence[str] | None = None,
    *,
    dim: str = "arm",
) -> ArmDraws:
    """Normalise posterior draws to :class:`ArmDraws`.

    Parameters
    ----------
    draws : ArmDraws, xarray.DataArray or numpy.ndarray
        A DataArray with dims ``chain``, ``draw`` (or ``sample``) and ``dim``, and no other
        dimension (select one first, for example ``da.sel(day="day7")``); or an array of shape
        ``(draws, arms)`` (one chain) or ``(chains, draws, arms)``.
    arms : sequence of str, optional
        Arm labels. Required for a numpy array; for a DataArray, taken from its ``dim``
        coordinate (if given, it selects and orders the arms).
    dim : str
        Name of the arm dimension of a DataArray.

    Raises
    ------
    ValueError
        On a wrong shape, unknown or duplicated labels, or non-finite draws.

    Examples
    --------
    >>> import numpy as np
    >>> draws = as_draws(np.array([[0.2, 0.5], [0.4, 0.3], [0.6, 0.7]]), ["A", "B"])
    >>> draws.values.shape, draws.arms, draws.arm("B").tolist()
    ((1, 3, 2), ('A', 'B'), [[0.5, 0.3, 0.7]])
    >>> as_draws(np.ones((3, 2)))
    Traceback (most recent call last):
    ...
    ValueError: arm labels are required with a plain array of draws
    """
    if isinstance(draws, ArmDraws):
        result = draws
        if arms is not None:
            order = [result.arms.index(a) if a in result.arms else -1 for a in arms]
            if -1 in order:
                raise ValueError(f"unknown arm(s) in {list(arms)}; the draws have {result.arms}")
            result = ArmDraws(result.values[..., order], tuple(arms))
    elif isinstance(draws, xr.DataArray):
        result = _from_dataarray(draws, arms, dim)
    else:
        values = np.asarray(draws, dtype=float)
        if values.ndim == 2:
            values = values[np.newaxis]
        if values.ndim != 3:
            raise ValueError(
                "draws must have shape (draws, arms) or (chains, draws, arms), "
                f"got {np.shape(draws)}"
            )
        if arms is None:
            raise ValueError("arm labels are required with a plain array of draws")
        if len(arms) != values.shape[-1]:
            raise ValueError(f"{len(arms)} arm labels for {values.shape[-1]} columns of draws")
        result = ArmDraws(values, tuple(str(a) for a in arms))
    if len(set(result.arms)) != len(result.arms):
        raise ValueError(f"duplicated arm labels: {result.arms}")
    if len(result.arms) < 1 or result.n_samples < 1:
        raise ValueError("no draws")
    if not np.all(np.isfinite(result.values)):
        raise ValueError("draws contain NaN or infinite values")
    return result


def _from_dataarray(da: xr.DataArray, arms: Sequence[str] | None, dim: str) -> ArmDraws:
    if dim not in da.dims:
        raise ValueError(f"draws have no {dim!r} dimension (dims: {da.dims})")
    if "sample" in da.dims:
        # Stacked draws (for example ``posterior.stack(sample=("chain", "draw"))``): one chain.
        da = da.reset_index("sample", drop=True) if "sample" in da.indexes else da
        da = da.drop_vars([c for c in ("chain", "draw") if c in da.coords])
        da = da.rename(sample="draw").expand_dims(chain=1)
    extra = [d for d in da.dims if d not in (*_SAMPLE_DIMS, dim)]
    if extra:
        raise ValueError(
            f"draws have extra dimension(s) {extra}; select one coordinate first "
            f"(for example da.sel({extra[0]}=...))"
        )
    missing = [d for d in _SAMPLE_DIMS if d not in da.dims]
    if missing:
        raise ValueError(f"draws lack the sample dimension(s) {missing}")
    labels = [str(a) for a in da[dim].values] if dim in da.coords else None
    if labels is None:
        raise ValueError(f"the {dim!r} dimension has no coordinate labels")
    if arms is not None:
        unknown = [a for a in arms if a not in labels]
        if unknown:
            raise ValueError(f"unknown arm(s) {unknown}; the draws have {labels}")
        da = da.sel({dim: list(arms)})
        labels = list(arms)
    values = da.transpose("chain", "draw", dim).to_numpy().astype(float)
    return ArmDraws(values, tuple(labels))
