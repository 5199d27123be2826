"""Patient-level models built once per structure and fitted: the cache, one fit's inputs, the fit.

Models are built once per structure (model kind, sizes, labels) and kept (:func:`cached_model`),
like the aggregate models, so that a second analysis of the same cohort (another estimand, the
unadjusted one) changes only ``pm.Data`` and re-uses nutpie's compiled sampler
(:func:`fit_cached_model`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pymc as pm
import xarray as xr

from cit_bayes.bayes.sampling import Diagnostics, Fit, SamplerSettings, fingerprint, sample

__all__ = ["ModelInputs", "PatientFit", "cached_model", "fit_cached_model"]


#: How many built models are kept per process (oldest dropped first).
MODEL_CACHE_SIZE = 16

_MODELS: OrderedDict[tuple, pm.Model] = OrderedDict()


def cached_model(key: tuple, build: Callable[[], pm.Model]) -> pm.Model:
    """Return the model built for ``key`` in this process, building it on first use.

    Examples
    --------
    >>> from cit_bayes.bayes.patient_fit import cached_model
    >>> model = cached_model(("example", 1), pm.Model)
    >>> cached_model(("example", 1), pm.Model) is model
    True
    """
    model = _MODELS.get(key)
    if model is None:
        model = build()
        _MODELS[key] = model
        while len(_MODELS) > MODEL_CACHE_SIZE:
            _MODELS.popitem(last=False)
    else:
        _MODELS.move_to_end(key)
    return model


@dataclass(frozen=True)
class ModelInputs:
    """A patient-level model with the data of one fit, before sampling (inside ``bayes/``).

    Attributes
    ----------
    model : pymc.Model
        The cached model of this data's shape (:func:`cached_model`); its ``pm.Data`` are set
        from ``values`` by :func:`fit_cached_model`.
    values : dict of str to numpy.ndarray
        The ``pm.Data`` values.
    derived : callable
        The g-computation of the reported quantities on draws (``derived(posterior)``).
    provenance : dict
        Attributes the fit records beside the caller's (the parametrisation chosen).

    Examples
    --------
    A model kind's ``*_inputs`` function builds these; by hand, with an empty model (nothing
    sampled) and a ``derived`` that averages the arms:

    >>> from cit_bayes.bayes.patient_fit import ModelInputs
    >>> inputs = ModelInputs(pm.Model(), {"y": np.array([0.0, 1.0])},
    ...                      lambda posterior: {"mean": posterior["rate"].mean("arm")})
    >>> posterior = xr.Dataset({"rate": (("chain", "draw", "arm"), [[[0.2, 0.4]]])})
    >>> mean = inputs.derived(posterior)["mean"]
    >>> mean.dims, mean.round(3).values.tolist(), inputs.provenance
    (('chain', 'draw'), [[0.3]], {})
    """

    model: pm.Model
    values: Mapping[str, np.ndarray]
    derived: Callable[[xr.Dataset], Mapping[str, xr.DataArray]]
    provenance: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PatientFit:
    """A patient-level model fitted to one analysis's data.

    Attributes
    ----------
    endpoint : str
        ``"response"``, ``"plt"``, ``"recovery"`` or ``"safety"``.
    fit : Fit
        The sampler run: ArviZ DataTree (posterior, sample_stats, constant_data with the weights,
        design and outcomes), diagnostics, settings, seed, timings, provenance.
    draws : mapping of str to xarray.DataArray
        The reported quantities, dims ``(chain, draw, ...)`` with labelled ``arm`` (and ``day``
        or ``event``) coordinates.

    Examples
    --------
    >>> from cit_bayes.bayes.sampling import Diagnostics, Fit, SamplerSettings
    >>> checks = Diagnostics(1.002, 850.0, 790.0, divergences=0, passed=True)
    >>> fit = Fit("response/ATE", xr.DataTree(), checks, SamplerSettings(), seed=7)
    >>> PatientFit("response", fit, draws={}).passed
    True
    """

    endpoint: str
    fit: Fit
    draws: Mapping[str, xr.DataArray]

    @property
    def name(self) -> str:
        """The fit's name."""
        return self.fit.name

    @property
    def idata(self) -> xr.DataTree:
        """The fit's draws (ArviZ DataTree)."""
        return self.fit.idata

    @property
    def diagnostics(self) -> Diagnostics:
        """The fit's diagnostics (gates over every posterior variable)."""
        return self.fit.diagnostics

    @property
    def passed(self) -> bool:
        """Whether every gate was met."""
        return self.fit.passed


def fit_cached_model(
    model: pm.Model,
    values: Mapping[str, np.ndarray],
    *,
    endpoint: str,
    reported: Sequence[str],
    seed: int | np.random.Generator,
    name: str,
    settings: SamplerSettings | None,
    provenance: Mapping[str, str | int | float] | None,
    derived: Callable[[xr.Dataset], Mapping[str, xr.DataArray]] | None = None,
) -> PatientFit:
    """Set the model's data, sample it through :func:`~cit_bayes.bayes.sampling.sample`.

    ``derived`` computes quantities from the stored draws after sampling (the g-computation;
    see :func:`~cit_bayes.bayes.sampling.sample`). The gates cover every posterior variable
    (parameters, derived and reported quantities). The
    ``model_data_fingerprint`` provenance attribute hashes the arrays the model saw; the caller
    may pass ``data_fingerprint`` (the cohort's) in ``provenance``.

    Examples
    --------
    Sampling takes seconds; the arguments are checked first:

    >>> fit_cached_model(pm.Model(), {}, endpoint="response", reported=("rate",), seed=1,
    ...                  name="", settings=None, provenance=None)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: a fit needs a non-empty name
    """
    pm.set_data(dict(values), model=model)
    extra = {"model": endpoint, "model_data_fingerprint": fingerprint(dict(values))}
    fit = sample(
        model,
        seed=seed,
        settings=settings,
        name=name,
        provenance=extra | dict(provenance or {}),
        derived=derived,
    )
    draws = {
        key: fit.idata["posterior"][key].transpose("chain", "draw", ...).copy() for key in reported
    }
    return PatientFit(endpoint=endpoint, fit=fit, draws=draws)
