"""The two samplers behind :func:`cit_bayes.bayes.sampling.sample`: nutpie and PyMC's NUTS.

Each takes a PyMC model, an integer seed and the :class:`~cit_bayes.bayes.sampling.SamplerSettings`
and returns ArviZ 1.x draws (an :class:`xarray.DataTree` with ``observed_data`` and
``constant_data``), the compile seconds (``None`` for PyMC, which compiles inside ``pm.sample``)
and the sampling seconds. nutpie's sampler functions are compiled once per machine
(:mod:`cit_bayes.bayes.compiled`: a later process loads them from the on-disk cache) and kept
per model object in a process: a model sampled again after ``pm.set_data`` reuses them with the
new data.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
import weakref
from collections.abc import Iterator

import numpy as np
import pymc as pm
import xarray as xr
from pymc.backends.arviz import find_constants, find_observations
from threadpoolctl import threadpool_limits

__all__ = ["progress_bars", "sample_nutpie", "sample_pymc"]


@contextlib.contextmanager
def _quiet_pymc() -> Iterator[None]:
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


# Whether samplers draw their own progress bars. Off by default (logs, tests, notebooks); the
# command line turns it on when it writes to a terminal. It never changes a draw.
_PROGRESS_BARS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "progress_bars", default=False
)


@contextlib.contextmanager
def progress_bars(enabled: bool = True) -> Iterator[None]:
    """Show the samplers' own progress bars inside this context (never changes the draws).

    Examples
    --------
    >>> from cit_bayes.bayes.backends import progress_bars
    >>> with progress_bars(enabled=False):
    ...     print("fits sampled here draw no progress bar")
    fits sampled here draw no progress bar
    """
    token = _PROGRESS_BARS.set(bool(enabled))
    try:
        yield
    finally:
        _PROGRESS_BARS.reset(token)


def sample_pymc(model: pm.Model, seed: int, settings):
    """PyMC's own NUTS; returns the draws, ``None`` (it compiles inside) and the seconds.

    Examples
    --------
    Sampling takes seconds; the settings it reads are cheap to build:

    >>> from cit_bayes.bayes.sampling import SamplerSettings
    >>> settings = SamplerSettings(sampler="pymc", chains=2, cores=1)
    >>> settings.draws, settings.tune, settings.resolved_cores
    (1000, 1000, 1)
    """
    start = time.perf_counter()
    with _quiet_pymc():
        idata = pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=settings.resolved_cores,
            random_seed=seed,
            nuts_sampler="pymc",
            target_accept=settings.target_accept,
            progressbar=_PROGRESS_BARS.get(),
            compute_convergence_checks=False,
            return_inferencedata=True,
            model=model,
        )
    return idata, None, time.perf_counter() - start


# nutpie: one compiled sampler per live model object (weak keys), reused with the model's
# current pm.Data values. The signature guards against a model that changed after compiling.
_NUTPIE_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _signature(model: pm.Model) -> tuple:
    return (
        tuple(model.named_vars),
        tuple((v.name, np.shape(v.get_value())) for v in model.data_vars),
    )


def sample_nutpie(model: pm.Model, seed: int, settings):
    """nutpie, compiled once per model object; returns draws, compile and sampling seconds.

    Examples
    --------
    Compiling and sampling take seconds; the settings it reads are cheap to build:

    >>> from cit_bayes.bayes.sampling import SamplerSettings
    >>> settings = SamplerSettings(draws=500, target_accept=0.95)
    >>> settings.sampler, settings.draws, settings.target_accept
    ('nutpie', 500, 0.95)
    """
    import nutpie

    from cit_bayes.bayes.compiled import compile_model

    compile_seconds = 0.0
    cached = _NUTPIE_CACHE.get(model)
    if cached is None or cached[0] != _signature(model):
        start = time.perf_counter()
        with _quiet_pymc():
            compiled, _ = compile_model(model)
        compile_seconds = time.perf_counter() - start
        _NUTPIE_CACHE[model] = (_signature(model), compiled)
    else:
        compiled = cached[1]
    current = {v.name: v.get_value() for v in model.data_vars}
    shared = {str(var.name) for var in compiled.shared_var_keys}  # nutpie >= 0.16: by name
    compiled = compiled.with_data(**{k: v for k, v in current.items() if k in shared})
    start = time.perf_counter()
    # One BLAS thread per chain: nutpie runs the chains in threads of its own, and OpenBLAS's
    # threads inside each gradient (its matrix-vector products go multi-threaded above a size)
    # then compete for the same cores. Measured on 2 cores, response model, 3 x 10^4 patients:
    # 39.6 ms a gradient with OpenBLAS's threads, 4.3 ms with one (10^4: 1.27 and 1.29 ms).
    with threadpool_limits(limits=1, user_api="blas"):
        idata = _sample(nutpie, compiled, seed, settings)
    sampling_seconds = time.perf_counter() - start
    _add_data_groups(idata, model)
    return idata, compile_seconds, sampling_seconds


def _sample(nutpie, compiled, seed: int, settings):
    return nutpie.sample(
        compiled,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=settings.resolved_cores,
        seed=seed,
        save_warmup=False,
        progress_bar=_PROGRESS_BARS.get(),
        target_accept=settings.target_accept,
        adaptation="low_rank" if settings.mass_matrix == "low-rank" else "diag",
    )


def _add_data_groups(idata: xr.DataTree, model: pm.Model) -> None:
    """Add ``observed_data`` and ``constant_data`` as PyMC's own converter would."""
    dims = model.named_vars_to_dims
    coords = {k: list(v) for k, v in model.coords.items() if v is not None}

    def dataset(values: dict) -> xr.Dataset:
        variables = {}
        for var_name, value in values.items():
            var_dims = dims.get(var_name)
            array = np.asarray(value)
            if var_dims is None or len(var_dims) != array.ndim:
                var_dims = tuple(f"{var_name}_dim_{i}" for i in range(array.ndim))
            variables[var_name] = xr.DataArray(
                array, dims=var_dims, coords={d: coords[d] for d in var_dims if d in coords}
            )
        return xr.Dataset(variables)

    observed = find_observations(model)
    constant = find_constants(model)
    if observed:
        idata["observed_data"] = xr.DataTree(dataset(observed))
    if constant:
        idata["constant_data"] = xr.DataTree(dataset(constant))
