"""Posteriors known in closed form, drawn directly: no sampler, no compilation.

Two conjugate pairs occur in the package's models:

* a Beta(a, b) prior of a rate with binomial counts (or with the Kish-rescaled weighted
  pseudo-counts of the patient-level safety model): the posterior is
  :math:`\\mathrm{Beta}(a + y, b + n - y)`;
* an independent normal prior :math:`N(m, s)` of a mean observed with a known standard error
  :math:`N(\\bar y, \\mathrm{se})`: the posterior is normal with precision
  :math:`1/s^2 + 1/\\mathrm{se}^2` and mean :math:`(m/s^2 + \\bar y/\\mathrm{se}^2)` over that
  precision.

MCMC on these would add only Monte Carlo error of its own, adaptation and compile time. The
draws here are independent, laid out ``(chain, draw, ...)`` as a sampler's are, so everything
downstream (contrasts, gates, netCDF files) treats them alike. R-hat and ESS are still computed
on them and reported: for independent draws they are about 1 and about chains x draws, so the
gates are a check of the layout, not of convergence. The fit's ``sampler`` reads ``"exact"``.
scipy and ArviZ have the distributions but no fit object of this shape, hence this module.

References
----------
Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB. *Bayesian Data Analysis*, 3rd ed.,
CRC Press, 2013, sections 2.4 and 2.5.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import xarray as xr

from cit_bayes.bayes.sampling import (
    Fit,
    SamplerSettings,
    compute_diagnostics,
    derive_seed,
    fit_attributes,
)
from cit_bayes.exceptions import ModelError

__all__ = [
    "EXACT",
    "beta_draws",
    "normal_posterior",
    "normal_draws",
    "exact_fit",
    "add_exact",
    "exact_rng",
]

#: The ``sampler`` of a fit whose draws come from the closed form.
EXACT = "exact"


def _layout(settings: SamplerSettings, values: np.ndarray, dims: Sequence[str], coords) -> tuple:
    if values.ndim != len(dims):
        raise ModelError(f"{values.ndim}-dimensional parameters for dims {tuple(dims)}")
    shape = (settings.chains, settings.draws, *values.shape)
    labels = {"chain": np.arange(settings.chains), "draw": np.arange(settings.draws)}
    labels |= {d: list(coords[d]) for d in dims if d in coords}
    return shape, ("chain", "draw", *dims), labels


def beta_draws(
    alpha, beta, *, rng: np.random.Generator, settings: SamplerSettings, dims=(), coords=None
) -> xr.DataArray:
    """Independent draws of Beta(alpha, beta), elementwise, as ``(chain, draw, *dims)``.

    Examples
    --------
    >>> from cit_bayes.bayes.conjugate import beta_draws
    >>> from cit_bayes.bayes.sampling import SamplerSettings
    >>> draws = beta_draws([4.0, 9.0], [8.0, 3.0], rng=np.random.default_rng(1),
    ...                    settings=SamplerSettings(draws=2000), dims=("arm",),
    ...                    coords={"arm": ["a", "b"]})
    >>> means = draws.mean(("chain", "draw")).values  # exact: 4/12 and 9/12
    >>> draws.dims, bool(np.abs(means - [1 / 3, 3 / 4]).max() < 0.01)
    (('chain', 'draw', 'arm'), True)
    """
    alpha, beta = np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float)
    if alpha.shape != beta.shape or not (np.all(alpha > 0) and np.all(beta > 0)):
        raise ModelError("Beta parameters must be positive and of the same shape")
    shape, names, labels = _layout(settings, alpha, dims, coords or {})
    return xr.DataArray(rng.beta(alpha, beta, size=shape), dims=names, coords=labels)


def normal_posterior(prior_mean, prior_sd, observed, standard_error) -> tuple:
    """Mean and SD of the normal posterior of a mean under N(prior_mean, prior_sd), known SE.

    Examples
    --------
    >>> from cit_bayes.bayes.conjugate import normal_posterior
    >>> [float(v) for v in normal_posterior(0.0, 3.0, 10.0, 4.0)]  # precision 1/9 + 1/16
    [3.6, 2.4]
    """
    values = [np.asarray(v, dtype=float) for v in (prior_mean, prior_sd, observed, standard_error)]
    prior_mean, prior_sd, observed, standard_error = values
    if np.any(prior_sd <= 0) or np.any(standard_error <= 0):
        raise ModelError("prior SDs and standard errors must be positive")
    precision = prior_sd**-2.0 + standard_error**-2.0
    mean = (prior_mean * prior_sd**-2.0 + observed * standard_error**-2.0) / precision
    return mean, precision**-0.5


def normal_draws(
    mean, sd, *, rng: np.random.Generator, settings: SamplerSettings, dims=(), coords=None
) -> xr.DataArray:
    """Independent draws of N(mean, sd), elementwise, as ``(chain, draw, *dims)``.

    Examples
    --------
    >>> from cit_bayes.bayes.conjugate import normal_draws
    >>> from cit_bayes.bayes.sampling import SamplerSettings
    >>> draws = normal_draws(6.4, 2.4, rng=np.random.default_rng(1), settings=SamplerSettings())
    >>> draws.dims, abs(float(draws.mean()) - 6.4) < 0.2, abs(float(draws.std()) - 2.4) < 0.1
    (('chain', 'draw'), True, True)
    """
    mean, sd = np.broadcast_arrays(np.asarray(mean, dtype=float), np.asarray(sd, dtype=float))
    shape, names, labels = _layout(settings, mean, dims, coords or {})
    return xr.DataArray(rng.normal(mean, sd, size=shape), dims=names, coords=labels)


def exact_fit(
    posterior: Mapping[str, xr.DataArray],
    *,
    name: str,
    seed: int,
    settings: SamplerSettings,
    started: float,
    data_fingerprint: str,
    provenance: Mapping[str, str | int | float] | None = None,
    constant_data: Mapping[str, xr.DataArray] | None = None,
) -> Fit:
    """A :class:`~cit_bayes.bayes.sampling.Fit` of closed-form draws, with its gates computed.

    ``started`` is the ``time.perf_counter()`` reading before the draws were made (their cost is
    the fit's ``sampling_seconds``; nothing is compiled).

    Examples
    --------
    >>> from cit_bayes.bayes.conjugate import beta_draws, exact_fit
    >>> from cit_bayes.bayes.sampling import SamplerSettings
    >>> settings, start = SamplerSettings(), time.perf_counter()
    >>> rate = beta_draws([4.0], [8.0], rng=np.random.default_rng(1), settings=settings,
    ...                   dims=("arm",), coords={"arm": ["a"]})
    >>> fit = exact_fit({"rate": rate}, name="safety/x", seed=1, settings=settings,
    ...                 started=start, data_fingerprint="0" * 64)
    >>> fit.sampler, fit.passed, fit.compile_seconds, fit.diagnostics.divergences
    ('exact', True, 0.0, 0)
    """
    groups = {"posterior": xr.Dataset(dict(posterior))}
    if constant_data:
        groups["constant_data"] = xr.Dataset(dict(constant_data))
    idata = xr.DataTree.from_dict(groups)
    diagnostics = compute_diagnostics(idata, settings=settings)
    attrs = fit_attributes(
        name, seed, settings, diagnostics, data_fingerprint, provenance, sampler=EXACT
    )
    idata["posterior"].attrs.update(attrs)
    return Fit(
        name=name,
        idata=idata,
        diagnostics=diagnostics,
        settings=settings,
        seed=seed,
        compile_seconds=0.0,
        sampling_seconds=time.perf_counter() - started,
        attrs=attrs,
    )


def add_exact(fit: Fit, posterior: Mapping[str, xr.DataArray]) -> Fit:
    """The sampled ``fit`` with closed-form draws of further, independent parameters added.

    The fit's diagnostics are recomputed over every variable; ``exact_variables`` in its
    attributes names those drawn from the closed form.

    Examples
    --------
    >>> from cit_bayes.bayes.conjugate import add_exact, beta_draws, exact_fit
    >>> from cit_bayes.bayes.sampling import SamplerSettings
    >>> settings, rng = SamplerSettings(), np.random.default_rng(1)
    >>> fit = exact_fit({"mu": beta_draws(2.0, 2.0, rng=rng, settings=settings)}, name="x",
    ...                 seed=1, settings=settings, started=time.perf_counter(),
    ...                 data_fingerprint="0" * 64)
    >>> both = add_exact(fit, {"rate": beta_draws(3.0, 5.0, rng=rng, settings=settings)})
    >>> sorted(both.idata["posterior"].data_vars), both.attrs["exact_variables"]
    (['mu', 'rate'], 'rate')
    """
    if not posterior:
        return fit
    idata = fit.idata.copy()
    attrs = dict(idata["posterior"].attrs)
    idata["posterior"] = xr.DataTree(idata["posterior"].to_dataset().assign(dict(posterior)))
    diagnostics = compute_diagnostics(idata, settings=fit.settings)
    attrs["diagnostics"] = json.dumps(diagnostics.as_dict(), sort_keys=True)
    attrs["exact_variables"] = ",".join(sorted(posterior))
    idata["posterior"].attrs.update(attrs)
    return replace(fit, idata=idata, diagnostics=diagnostics, attrs=attrs)


def exact_rng(seed: int, name: str) -> np.random.Generator:
    """The generator of a fit's closed-form draws (its own stream, derived from the fit's seed).

    Examples
    --------
    >>> from cit_bayes.bayes.conjugate import exact_rng
    >>> float(exact_rng(1, "safety/x").random()) == float(exact_rng(1, "safety/x").random())
    True
    """
    return np.random.default_rng(derive_seed(seed, name, EXACT))
