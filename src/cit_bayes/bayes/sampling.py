"""The one sampling entry point of the package, with the diagnostics gates.

Every model of ``cit_bayes`` is sampled through :func:`sample`: four chains, an explicit seed,
PyMC's NUTS or nutpie, and the same gates for every fit (R-hat <= 1.01, bulk and tail ESS >= 400,
no divergent transition). A fit that misses a gate issues a
:class:`~cit_bayes.exceptions.ConvergenceWarning` naming the fit and what missed, and is marked
``passed=False``; it is never dropped silently. The settings and gates are
:class:`SamplerSettings` (:mod:`cit_bayes.bayes.sampler_settings`); the diagnostics and their
verdict, :func:`compute_diagnostics` (:mod:`cit_bayes.bayes.gates`); both are imported here, the
public place to take them from.

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
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pymc as pm
import xarray as xr
from pymc.backends.arviz import find_constants, find_observations

from cit_bayes import __version__
from cit_bayes.bayes.backends import progress_bars, sample_nutpie, sample_pymc
from cit_bayes.bayes.gates import (
    GATE_VALUES,
    Diagnostics,
    compute_diagnostics,
    group_names,
    posterior_dataset,
)
from cit_bayes.bayes.sampler_settings import DEFAULT_SAMPLER, SAMPLERS, SamplerSettings
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
    settings, int_seed, extra = _checked_arguments(settings, seed, name, provenance)
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


def _checked_arguments(
    settings: SamplerSettings | None,
    seed: int | np.random.Generator,
    name: str,
    provenance: Mapping[str, str | int | float] | None,
) -> tuple[SamplerSettings, int, dict[str, str | int | float]]:
    """:func:`sample`'s arguments checked: the settings (``SamplerSettings()`` when None), the
    integer seed and a copy of the provenance."""
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
    return settings, int_seed, extra


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


def _model_fingerprint(model: pm.Model) -> str:
    return fingerprint(find_observations(model) | find_constants(model))
