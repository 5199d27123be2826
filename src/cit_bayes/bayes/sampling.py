"""The one sampling entry point of the package, with the diagnostics gates.

Every model of ``cit_bayes`` is sampled through :func:`sample`: four chains, an explicit seed,
PyMC's NUTS or nutpie, and the same gates for every fit (R-hat <= 1.01, bulk and tail ESS >= 400,
no divergent transition). A fit that misses a gate issues a
:class:`~cit_bayes.exceptions.ConvergenceWarning` naming the fit and what missed, and is marked
``passed=False``; it is never dropped silently.

Draws travel as ArviZ 1.x objects: an :class:`xarray.DataTree` with the groups ``posterior``,
``sample_stats``, ``observed_data`` and ``constant_data``. Provenance travels with the draws in
``idata["posterior"].attrs`` (strings and numbers only, so
that it survives a netCDF round trip): ``fit_name``, ``seed``, ``sampler``, ``sampler_settings``
(JSON), ``package_version``, ``data_fingerprint``, ``created``, plus whatever the caller adds
(``prior_set``, ``prior_hash``, ``plan_hash``, ...), and the diagnostics as JSON.

nutpie's sampler functions are compiled once per machine (:mod:`cit_bayes.bayes.compiled`) and
kept per model object in a process: a model sampled again (for example after ``pm.set_data``
changed its prior parameters) reuses them with the new data.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import pymc as pm
import xarray as xr
from pymc.backends.arviz import find_constants, find_observations

from cit_bayes import __version__
from cit_bayes.bayes.backends import progress_bars, sample_nutpie, sample_pymc
from cit_bayes.bayes.convergence import convergence
from cit_bayes.bayes.seeds import as_int_seed, derive_seed, fingerprint
from cit_bayes.exceptions import ConvergenceWarning, ModelError

__all__ = [
    "GATE_VALUES",
    "SAMPLERS",
    "DEFAULT_SAMPLER",
    "SamplerSettings",
    "Diagnostics",
    "Fit",
    "sample",
    "compute_diagnostics",
    "fingerprint",
    "fit_attributes",
    "fit_events",
    "derive_seed",
    "progress_bars",
    "group_names",
    "posterior_dataset",
]

#: Samplers :func:`sample` can use.
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc")
#: The default, chosen by measurement (``benchmarks/bench_samplers.py``, 2 shared cores, warm
#: caches): on the joint aggregate models nutpie compiles in 12-17 s but samples in 0.7-7 s and
#: re-uses its compiled model across prior sets; PyMC compiles in about 1 s but samples in 7-9 s
#: (60 s for the hierarchical model at target_accept 0.99), on every fit. ``reanalyse
#: --published``: nutpie about 60 s warm, PyMC about twice that.
DEFAULT_SAMPLER = "nutpie"
#: What a fit's gates look at, and their verdict (:meth:`Diagnostics.gate_values`).
GATE_VALUES = ("max_rhat", "min_ess_bulk", "min_ess_tail", "divergences", "passed")
#: The central probability whose quantiles define the tail ESS (Vehtari et al. 2021: 5 % and 95 %).
TAIL_PROB = 0.95
#: nutpie's mass-matrix adaptations (:attr:`SamplerSettings.mass_matrix`).
MASS_MATRICES: tuple[str, ...] = ("low-rank", "diagonal")


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample, and the gates a fit must pass.

    Attributes
    ----------
    sampler : {"nutpie", "pymc"}
    chains, draws, tune : int
        Four chains of 1000 draws after 1000 tuning steps by default.
    cores : int or None
        Chains run in parallel; ``None`` means ``min(4, os.cpu_count())``.
    target_accept : float
        NUTS step-size adaptation target (0.9 by default: the hierarchical models have funnel-like
        corners, and a smaller step costs little on these small models).
    max_rhat, min_ess, max_divergences
        The gates: R-hat <= 1.01, bulk and tail ESS >= 400, no divergences.
    mass_matrix : {"low-rank", "diagonal"}
        nutpie's mass-matrix adaptation: ``"low-rank"`` (default) adds the leading directions of
        the draws' and gradients' covariance to the diagonal (``adaptation="low_rank"``, marked
        experimental by nutpie 0.16; every fit still has to pass the gates), ``"diagonal"`` is
        nutpie's standard diagonal adaptation (``"diag"``). Measured on the
        bundled cohort's adjusted fits (4 x 2000 draws, 2 cores; issue 17): leapfrog steps
        316,784 -> 119,960 and smallest bulk ESS 4,099 -> 9,105 for the trajectory model
        (sampling 5.1 s -> 1.9 s); bulk ESS 4,469 -> 8,978 for the response model and 2,109 ->
        3,646 for the recovery model at the same cost: the coefficients and the arm levels are
        correlated a posteriori, which a diagonal metric cannot follow. PyMC's sampler ignores it.

    Examples
    --------
    >>> from cit_bayes.bayes.sampling import SamplerSettings
    >>> settings = SamplerSettings(draws=500, cores=1)
    >>> settings.sampler, settings.chains, settings.draws, settings.resolved_cores
    ('nutpie', 4, 500, 1)
    """

    sampler: str = DEFAULT_SAMPLER
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    cores: int | None = None
    target_accept: float = 0.9
    max_rhat: float = 1.01
    min_ess: float = 400.0
    max_divergences: int = 0
    mass_matrix: str = "low-rank"

    def __post_init__(self):
        if self.mass_matrix not in MASS_MATRICES:
            raise ModelError(
                f"mass_matrix must be one of {MASS_MATRICES}, got {self.mass_matrix!r}"
            )
        if self.sampler not in SAMPLERS:
            raise ModelError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        for name in ("chains", "draws", "tune"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelError(f"{name} must be a positive integer, got {value!r}")
        if self.cores is not None and (not isinstance(self.cores, int) or self.cores < 1):
            raise ModelError(f"cores must be a positive integer or None, got {self.cores!r}")
        if not 0.5 <= self.target_accept < 1.0:
            raise ModelError(f"target_accept must lie in [0.5, 1), got {self.target_accept}")
        if self.max_rhat < 1.0 or self.min_ess < 0 or self.max_divergences < 0:
            raise ModelError("gates must be max_rhat >= 1, min_ess >= 0, max_divergences >= 0")

    @property
    def resolved_cores(self) -> int:
        """Cores actually used: ``cores``, or ``min(4, os.cpu_count())``, never above chains."""
        cores = self.cores if self.cores is not None else min(4, os.cpu_count() or 1)
        return max(1, min(cores, self.chains))

    def replace(self, **changes) -> SamplerSettings:
        """Return a copy with some fields changed."""
        return replace(self, **changes)

    def as_dict(self) -> dict:
        """Plain dict of the settings, with ``cores`` resolved."""
        return asdict(self) | {"cores": self.resolved_cores}


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


@dataclass(frozen=True)
class Fit:
    """A sampled model: its draws, diagnostics and how it was made.

    ``compile_seconds`` is the time nutpie spent compiling (0 when a compiled model was reused;
    ``None`` for PyMC, which compiles inside ``pm.sample``); ``sampling_seconds`` the time of
    the sampler call itself.

    Examples
    --------
    >>> from cit_bayes.bayes.sampling import Diagnostics, Fit, SamplerSettings
    >>> checks = Diagnostics(1.002, 850.0, 790.0, divergences=0, passed=True)
    >>> fit = Fit("response/flat", xr.DataTree(), checks, SamplerSettings(), seed=7)
    >>> fit.passed, fit.compile_seconds
    (True, None)
    """

    name: str
    idata: xr.DataTree
    diagnostics: Diagnostics
    settings: SamplerSettings
    seed: int
    compile_seconds: float | None = None
    sampling_seconds: float = 0.0
    attrs: Mapping[str, str | int | float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether every gate was met."""
        return self.diagnostics.passed

    @property
    def sampler(self) -> str:
        """How the draws were made: the sampler's name, or ``"exact"`` (closed form)."""
        return str(self.attrs.get("sampler", self.settings.sampler))


#: Who hears of each fit's start and end (:func:`fit_events`); None: nobody.
_FIT_OBSERVER: ContextVar[Callable[..., None] | None] = ContextVar(
    "cit_bayes_fit_observer", default=None
)


@contextlib.contextmanager
def fit_events(observer: Callable[..., None] | None) -> Iterator[None]:
    """Within the block, :func:`sample` calls ``observer("start", name)`` before each fit and
    ``observer("done", name, seconds=..., passed=...)`` after it (a log's one line per fit:
    :class:`cit_bayes.cli.progress.StepPrinter`). None: no observer.

    Examples
    --------
    >>> heard = []
    >>> with fit_events(lambda event, name, **info: heard.append((event, name))):
    ...     _FIT_OBSERVER.get()("start", "response/adjusted")
    >>> heard, _FIT_OBSERVER.get() is None
    ([('start', 'response/adjusted')], True)
    """
    token = _FIT_OBSERVER.set(observer)
    try:
        yield
    finally:
        _FIT_OBSERVER.reset(token)


def sample(
    model: pm.Model,
    *,
    seed: int | np.random.Generator,
    settings: SamplerSettings | None = None,
    name: str,
    var_names: Sequence[str] | None = None,
    provenance: Mapping[str, str | int | float] | None = None,
    derived: Callable[[xr.Dataset], Mapping[str, xr.DataArray]] | None = None,
) -> Fit:
    """Sample a PyMC model and apply the diagnostics gates.

    Parameters
    ----------
    model : pymc.Model
        The model; its ``pm.Data`` containers are read at call time.
    seed : int or numpy.random.Generator
        Explicit seed: the same seed gives the same draws (an integer is drawn from a Generator).
    settings : SamplerSettings, optional
        Sampler, chains, draws, cores and gates; defaults to ``SamplerSettings()``.
    name : str
        The fit's name, used in warnings, ``results.json`` and provenance.
    var_names : sequence of str, optional
        The reported parameters the diagnostics cover; default every posterior variable.
    provenance : mapping, optional
        Extra provenance attributes (text or numbers), for example ``prior_set``,
        ``prior_hash``, ``plan_hash`` and ``data_fingerprint``.
    derived : callable, optional
        Quantities computed from the stored draws after sampling rather than by the sampler on
        every draw (the models' g-computation, :mod:`cit_bayes.bayes.gcomp`): called with the
        posterior (an :class:`xarray.Dataset`), it returns new variables with dims ``(chain,
        draw, ...)``, which join the posterior before the diagnostics, so the gates cover them.

    Returns
    -------
    Fit

    Warns
    -----
    ConvergenceWarning
        If the fit misses a gate; the fit is then returned with ``passed=False``.

    Examples
    --------
    Sampling takes seconds; the arguments are checked first:

    >>> sample(pm.Model(), seed=1, name="")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: a fit needs a non-empty name
    """
    settings = settings if settings is not None else SamplerSettings()
    if not isinstance(settings, SamplerSettings):
        raise ModelError(f"settings must be SamplerSettings, got {type(settings).__name__}")
    if not name or not isinstance(name, str):
        raise ModelError("a fit needs a non-empty name")
    int_seed = as_int_seed(seed)
    extra = dict(provenance or {})
    for key, value in extra.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ModelError(f"provenance {key!r} must be text or a number, got {value!r}")
    observer = _FIT_OBSERVER.get()
    if observer is not None:
        observer("start", name)
    if settings.sampler == "nutpie":
        idata, compile_seconds, sampling_seconds = sample_nutpie(model, int_seed, settings)
    else:
        idata, compile_seconds, sampling_seconds = sample_pymc(model, int_seed, settings)
    if derived is not None:
        posterior = idata["posterior"].to_dataset()
        idata["posterior"] = xr.DataTree(posterior.assign(dict(derived(posterior))))
    if var_names is not None:
        unknown = [v for v in var_names if v not in idata["posterior"].data_vars]
        if unknown:
            raise ModelError(f"fit {name!r}: unknown var_names {unknown}")
    diagnostics = compute_diagnostics(idata, var_names=var_names, settings=settings)
    fingerprint_ = extra.pop("data_fingerprint", None) or _model_fingerprint(model)
    attrs = fit_attributes(name, int_seed, settings, diagnostics, fingerprint_, extra)
    idata["posterior"].attrs.update(attrs)
    if observer is not None:
        observer(
            "done",
            name,
            seconds=float((compile_seconds or 0.0) + sampling_seconds),
            passed=diagnostics.passed,
        )
    if not diagnostics.passed:
        warnings.warn(
            f"fit {name!r} missed the diagnostics gates: {'; '.join(diagnostics.failures)}. "
            f"What helps: {' '.join(a + '.' for a in diagnostics.advice)}",
            ConvergenceWarning,
            stacklevel=2,
        )
    return Fit(
        name=name,
        idata=idata,
        diagnostics=diagnostics,
        settings=settings,
        seed=int_seed,
        compile_seconds=compile_seconds,
        sampling_seconds=sampling_seconds,
        attrs=attrs,
    )


def fit_attributes(
    name: str,
    seed: int,
    settings: SamplerSettings,
    diagnostics: Diagnostics,
    data_fingerprint: str,
    provenance: Mapping[str, str | int | float] | None,
    *,
    sampler: str | None = None,
) -> dict[str, str | int | float]:
    """The provenance attributes of a fit (module docstring); ``sampler`` defaults to settings'.

    Examples
    --------
    >>> checks = Diagnostics(1.0, 900.0, 850.0, divergences=0, passed=True)
    >>> attrs = fit_attributes("x", 7, SamplerSettings(), checks, "0" * 64, {"prior_set": "flat"})
    >>> attrs["sampler"], attrs["seed"], attrs["prior_set"]
    ('nutpie', 7, 'flat')
    """
    return {
        "fit_name": name,
        "seed": seed,
        "sampler": sampler or settings.sampler,
        "sampler_settings": json.dumps(settings.as_dict(), sort_keys=True),
        "package_version": __version__,
        "data_fingerprint": data_fingerprint,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "diagnostics": json.dumps(diagnostics.as_dict(), sort_keys=True),
        **dict(provenance or {}),
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


def _model_fingerprint(model: pm.Model) -> str:
    return fingerprint(find_observations(model) | find_constants(model))
