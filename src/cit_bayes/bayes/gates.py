"""The diagnostics gates of a fit: R-hat, bulk and tail ESS and divergences, and their verdict.

:func:`compute_diagnostics` reads a fit's draws (an ArviZ 1.x :class:`xarray.DataTree`) and
applies the gates of its :class:`~cit_bayes.bayes.sampler_settings.SamplerSettings` (R-hat <=
1.01, bulk and tail ESS >= 400, no divergent transition); :class:`Diagnostics` holds the numbers,
the verdict and what helps for each kind of missed gate. :func:`group_names` and
:func:`posterior_dataset` read the DataTree's groups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from cit_bayes.bayes.convergence import convergence
from cit_bayes.bayes.sampler_settings import SamplerSettings

__all__ = [
    "GATE_VALUES",
    "TAIL_PROB",
    "Diagnostics",
    "compute_diagnostics",
    "group_names",
    "posterior_dataset",
]

#: What a fit's gates look at, and their verdict (:meth:`Diagnostics.gate_values`).
GATE_VALUES = ("max_rhat", "min_ess_bulk", "min_ess_tail", "divergences", "passed")
#: The central probability whose quantiles define the tail ESS (Vehtari et al. 2021: 5 % and 95 %).
TAIL_PROB = 0.95


@dataclass(frozen=True)
class Diagnostics:
    """Convergence diagnostics of one fit, over its reported parameters.

    Examples
    --------
    >>> from cit_bayes.bayes.sampling import Diagnostics
    >>> checks = Diagnostics(1.0, 900.0, 850.0, divergences=2, passed=False,
    ...                      failures=("2 divergent transitions > 0",))
    >>> checks.as_dict()["divergences"], checks.advice[0].startswith("divergent transitions")
    (2, True)
    """

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    passed: bool
    failures: tuple[str, ...] = ()
    chains: int = 0
    draws: int = 0
    var_names: tuple[str, ...] = ()

    @property
    def advice(self) -> tuple[str, ...]:
        """What helps for each kind of missed gate (empty when every gate was met).

        Divergent transitions mean the sampler met curvature it cannot follow (a funnel, a
        sharp ridge): more draws do not remove them, smaller steps (a higher target_accept) may,
        and a reparameterisation or a better prior removes the cause. A high R-hat or a low
        ESS with no divergence means the chains have not explored long enough: longer chains
        help, unless the posterior is multimodal or weakly identified.
        """
        out = []
        if any("divergent" in failure for failure in self.failures):
            out.append(
                "divergent transitions: not a matter of chain length; raise target_accept "
                "(--target-accept 0.95 or 0.99) for smaller steps, and if they remain "
                "reparameterise the model or give the parameter involved a better-founded prior"
            )
        if any("R-hat" in failure or "ESS" in failure for failure in self.failures):
            out.append(
                "R-hat/ESS: run longer chains (--draws, e.g. twice the current); if R-hat "
                "stays high, look for a multimodal or weakly identified posterior"
            )
        return tuple(out)

    def gate_values(self) -> dict:
        """The gated values and the verdict: ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``,
        ``divergences``, ``passed`` (JSON-safe, as in :meth:`as_dict`).

        Examples
        --------
        >>> Diagnostics(1.002, 850.0, float("nan"), divergences=0, passed=False).gate_values()
        {'max_rhat': 1.002, 'min_ess_bulk': 850.0, 'min_ess_tail': None, 'divergences': 0, 'passed': False}
        """
        return {k: v for k, v in self.as_dict().items() if k in GATE_VALUES}

    def as_dict(self) -> dict:
        """JSON-safe dict (non-finite numbers become ``None``)."""

        def clean(value):
            return value if value is None or math.isfinite(value) else None

        return {
            "max_rhat": clean(self.max_rhat),
            "min_ess_bulk": clean(self.min_ess_bulk),
            "min_ess_tail": clean(self.min_ess_tail),
            "divergences": int(self.divergences),
            "passed": bool(self.passed),
            "failures": list(self.failures),
            "advice": list(self.advice),
            "chains": int(self.chains),
            "draws": int(self.draws),
            "var_names": list(self.var_names),
        }


def group_names(idata: xr.DataTree) -> tuple[str, ...]:
    """The groups of an ArviZ DataTree (``posterior``, ``sample_stats``, ...), in order.

    Examples
    --------
    >>> from cit_bayes.bayes.sampling import group_names
    >>> idata = xr.DataTree.from_dict({"posterior": xr.Dataset(), "sample_stats": xr.Dataset()})
    >>> group_names(idata)
    ('posterior', 'sample_stats')
    """
    return tuple(str(name) for name in idata.children)


def posterior_dataset(idata: xr.DataTree) -> xr.Dataset:
    """The ``posterior`` group of an ArviZ DataTree as a plain :class:`xarray.Dataset`.

    Examples
    --------
    >>> from cit_bayes.bayes.sampling import posterior_dataset
    >>> posterior = xr.Dataset({"mu": (("chain", "draw"), np.zeros((2, 3)))})
    >>> dataset = posterior_dataset(xr.DataTree.from_dict({"posterior": posterior}))
    >>> type(dataset).__name__, dict(dataset.sizes)
    ('Dataset', {'chain': 2, 'draw': 3})
    """
    return idata["posterior"].to_dataset()


def compute_diagnostics(
    idata: xr.DataTree,
    *,
    var_names: Sequence[str] | None = None,
    settings: SamplerSettings | None = None,
) -> Diagnostics:
    """Compute R-hat (rank-normalised), bulk and tail ESS and divergences, and apply the gates.

    Notes
    -----
    R-hat and ESS follow Vehtari et al. (2021) and equal ArviZ's (computed by
    :func:`cit_bayes.bayes.convergence.convergence`, on all components at once); the maximum
    R-hat and the minimum ESS are taken over every scalar component of the reported
    parameters. The tail ESS is the smaller ESS of the indicators of the 5 % and 95 % quantiles
    (:data:`TAIL_PROB`), as in the paper: ArviZ 1.x would otherwise use its default interval
    probability, 0.89 (the 11 % and 89 % quantiles), a less demanding gate. An undefined
    statistic (for example R-hat of constant draws) fails its gate.

    References
    ----------
    Vehtari A, Gelman A, Simpson D, Carpenter B, Buerkner P-C. Rank-normalization, folding, and
    localization: an improved R-hat for assessing convergence of MCMC. *Bayesian Anal*
    2021;16:667-718.

    Examples
    --------
    >>> from cit_bayes.bayes.sampling import compute_diagnostics
    >>> draws = np.random.default_rng(0).normal(size=(4, 500))  # 4 chains, independent draws
    >>> posterior = xr.Dataset({"mu": (("chain", "draw"), draws)})
    >>> checks = compute_diagnostics(xr.DataTree.from_dict({"posterior": posterior}))
    >>> checks.passed, checks.chains, checks.draws, checks.var_names
    (True, 4, 500, ('mu',))
    """
    settings = settings if settings is not None else SamplerSettings()
    posterior = posterior_dataset(idata)
    names = list(var_names) if var_names is not None else list(posterior.data_vars)
    posterior = posterior[names]
    stats = convergence(_components(posterior), tail_prob=TAIL_PROB)
    rhat = _extreme(stats.rhat, np.max)
    ess_bulk = _extreme(stats.ess_bulk, np.min)
    ess_tail = _extreme(stats.ess_tail, np.min)
    divergences = 0
    if "sample_stats" in group_names(idata) and "diverging" in idata["sample_stats"].data_vars:
        divergences = int(idata["sample_stats"]["diverging"].sum())
    failures = []
    if not (rhat <= settings.max_rhat):
        failures.append(f"max R-hat {rhat:.4f} > {settings.max_rhat}")
    if not (ess_bulk >= settings.min_ess):
        failures.append(f"min bulk ESS {ess_bulk:.0f} < {settings.min_ess:.0f}")
    if not (ess_tail >= settings.min_ess):
        failures.append(f"min tail ESS {ess_tail:.0f} < {settings.min_ess:.0f}")
    if divergences > settings.max_divergences:
        failures.append(f"{divergences} divergent transitions > {settings.max_divergences}")
    return Diagnostics(
        max_rhat=rhat,
        min_ess_bulk=ess_bulk,
        min_ess_tail=ess_tail,
        divergences=divergences,
        passed=not failures,
        failures=tuple(failures),
        chains=int(posterior.sizes["chain"]),
        draws=int(posterior.sizes["draw"]),
        var_names=tuple(names),
    )


def _components(posterior: xr.Dataset) -> np.ndarray:
    """Every scalar component of the posterior's variables as one ``(chain, draw, k)`` array."""
    arrays = [
        np.asarray(posterior[v].transpose("chain", "draw", ...)).reshape(
            posterior.sizes["chain"], posterior.sizes["draw"], -1
        )
        for v in posterior.data_vars
    ]
    if not arrays:
        return np.empty((posterior.sizes.get("chain", 0), posterior.sizes.get("draw", 0), 0))
    return np.concatenate(arrays, axis=2)


def _extreme(values: np.ndarray, reducer) -> float:
    if values.size == 0 or np.any(~np.isfinite(values)):
        return float("nan")
    return float(reducer(values))
