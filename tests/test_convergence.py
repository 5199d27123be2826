"""The vectorised R-hat and ESS equal ArviZ's, component by component."""

from __future__ import annotations

import warnings

import arviz_stats as azs
import numpy as np
import pytest
import xarray as xr

from cit_bayes.bayes.convergence import convergence

#: Both compute the same sums in a different order: they agree to rounding.
RTOL = 1e-9


def _ar1(rng: np.random.Generator, phi: float, chains: int, draws: int, k: int) -> np.ndarray:
    x = np.zeros((chains, draws, k))
    noise = rng.normal(size=(chains, draws, k))
    x[:, 0] = noise[:, 0]
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def _arviz(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = xr.Dataset({"v": (("chain", "draw", "k"), draws)})
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return (
            azs.rhat(data)["v"].values,
            azs.ess(data, method="bulk")["v"].values,
            azs.ess(data, method="tail", prob=0.95)["v"].values,
        )


def _assert_equal_to_arviz(draws: np.ndarray) -> None:
    ours = convergence(draws, tail_prob=0.95)
    mine = (ours.rhat, ours.ess_bulk, ours.ess_tail)
    for name, theirs, value in zip(
        ("rhat", "ess_bulk", "ess_tail"), _arviz(draws), mine, strict=True
    ):
        np.testing.assert_allclose(value, theirs, rtol=RTOL, equal_nan=True, err_msg=name)


@pytest.mark.parametrize("phi", [-0.9, 0.0, 0.6, 0.99])
@pytest.mark.parametrize(("chains", "draws"), [(1, 101), (2, 7), (4, 5), (4, 1000), (3, 333)])
def test_autocorrelated_draws_match_arviz(phi: float, chains: int, draws: int) -> None:
    # Negative, none, moderate and near-unit autocorrelation; even and odd draw counts (the
    # split drops the middle draw; the tail quantiles use all of them); one chain (no R-hat).
    rng = np.random.default_rng(int(1000 * (phi + 1)) + chains * 7 + draws)
    _assert_equal_to_arviz(_ar1(rng, phi, chains, draws, 3))


def test_ties_constants_non_finite_and_stuck_chains_match_arviz() -> None:
    rng = np.random.default_rng(7)
    draws = _ar1(rng, 0.5, 4, 300, 6)
    draws[..., 0] = rng.integers(0, 2, size=(4, 300))  # binary: ties, folded draws constant
    draws[..., 1] = rng.integers(0, 5, size=(4, 300))  # few values: average ranks
    draws[..., 2] = 3.0  # constant: R-hat undefined, ESS = all draws
    draws[..., 3] += 3.0 * np.arange(4)[:, None]  # chains stuck apart: R-hat far above 1
    draws[0, 5, 4] = np.nan  # one non-finite draw: everything undefined
    ours = convergence(draws)
    assert ours.rhat[3] > 1.5
    assert np.isnan(ours.rhat[4]) and np.isnan(ours.ess_bulk[4]) and np.isnan(ours.ess_tail[4])
    assert np.isnan(ours.rhat[2]) and ours.ess_bulk[2] == pytest.approx(1200)
    _assert_equal_to_arviz(draws)


def test_too_few_draws_or_a_wrong_shape() -> None:
    short = convergence(np.zeros((4, 3, 2)))
    assert np.all(np.isnan(short.rhat)) and np.all(np.isnan(short.ess_bulk))
    with pytest.raises(ValueError, match=r"\(chain, draw, component\)"):
        convergence(np.zeros((4, 100)))
