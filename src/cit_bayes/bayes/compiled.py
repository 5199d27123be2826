"""nutpie's sampler functions for a PyMC model, compiled once per machine rather than per process.

Why our own
-----------
``nutpie.compile_pymc_model`` (nutpie 0.16) compiles a model's log density and gradient, and
the function that expands a draw into every model variable, with PyTensor's numba backend and
wraps each in a ``numba.cfunc`` that the Rust sampler calls. PyTensor keeps its own numba
functions in an on-disk cache, keyed by the graph, but nutpie's two wrappers are closures over
the model's shared data (``make_extraction_fn``) that numba cannot cache ("uses dynamic
globals"), so every process compiles them again, and with them numba's generic helpers for
array assignment and error messages. Measured on the response model of the bundled cohort (2
cores): 15.2 s in a fresh process with empty caches and 7.0 s in the next, of which 6.7 s in
the two ``cfunc`` compilations (issue 17).

:func:`compile_model` builds the same two C callbacks from generated source whose only free
names are module-level and whose shared data (``pm.Data``: the cohort, the weights, the prior
scales) is read at call time through the callback's user-data pointer, never baked into the
code. The source is registered with PyTensor's cache locator under a key derived from the source
itself, PyTensor's key of the compiled graph, and the nutpie, numba and wrapper versions, so
numba stores the callbacks beside PyTensor's own functions (``<base_compiledir>/numba``): a
changed model (another graph, another number of parameters) compiles anew, a changed prior, weight
or cohort of the same structure does not. Measured on the same model: 9.5 s with empty caches,
0.3 s in every later process; draws identical to nutpie's own wrappers, bit for bit.

That still left PyTensor's own work in every process: the logp graph canonicalised, the
gradient built and both functions rewritten before PyTensor could look their numba code up (0.7 s
of the 0.73 s a warm process took on that model). The two compiled PyTensor functions are
therefore kept too, pickled in a store beside PyTensor's caches (``<compiledir>/cit_bayes_functions``),
under the digest of the model's graph *before* any rewrite (:mod:`cit_bayes.bayes.graph_key`:
operations, constants, shapes, the names and types of the shared variables, the versions and
settings above) and loaded instead of rebuilt when the same structure comes again (0.36 s in a
fresh process, most of it numba's loading of the callbacks). A pickled function would carry its
shared variables' values, the cohort among them: they are set to empty arrays while it is
pickled (:func:`_without_values`) and to the model's values when it is loaded, so the store holds
code and graph, never data. A graph without an exact digest is compiled as before and not stored;
an unreadable file is compiled anew and replaced; files are written whole (``os.replace``), so a
process alongside reads the old file or the new one. On a miss the functions are stored, read
back, and the callbacks built on what was read: PyTensor keys a loaded function's numba code
differently from the freshly compiled one's (measured on the recovery model), and callbacks built
on the fresh functions were compiled again by the second process (21.6 s there; 0.9 s now).

When PyTensor cannot cache a graph (an operation without a cache key), the model is compiled by
``nutpie.compile_pymc_model`` as before (:attr:`CompiledModelInfo.cached` says which).

The callbacks follow nutpie's C contract (``_make_c_logp_func``, ``_make_c_expand_func``):
return 0 on success, 3 for a non-finite gradient, 4 for a non-finite log density, 1 (-2 for the
expansion) for an error inside the compiled graph, -1 for a dimension mismatch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pickle
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import nutpie
import pymc as pm
import pytensor
from numba.core import cgutils, types
from numba.extending import intrinsic
from nutpie import compile_pymc as nutpie_internals
from pymc.initial_point import make_initial_point_fn

from cit_bayes.bayes.graph_key import GraphDigest, graph_digest

__all__ = ["CompiledModelInfo", "compile_model", "WRAPPER_VERSION"]

#: Bumped whenever the generated callback source changes meaning (part of the cache key).
WRAPPER_VERSION = "1"

#: Bumped whenever what the store holds for a model changes (part of its key).
STORE_VERSION = "1"

_LOGP_SIGNATURE = types.int64(
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)
_EXPAND_SIGNATURE = types.int64(
    types.uint64, types.uint64, types.CPointer(types.double), types.CPointer(types.double),
    types.voidptr,
)  # fmt: skip


@intrinsic
def _as_pointer(typingctx, address):
    """An integer address as a ``void*`` (for ``numba.carray``)."""

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


@dataclass(frozen=True)
class CompiledModelInfo:
    """How a model was compiled.

    Attributes
    ----------
    cached : bool
        True when the callbacks go through the on-disk cache (:func:`compile_model`); False when
        PyTensor could not key the graph and nutpie's own compilation was used.
    hits : int
        How many of the two callbacks were loaded from the cache (0, 1 or 2).
    stored : bool
        True when PyTensor's compiled functions were loaded from the store (no rewrites, no
        gradient built: :func:`_structure` found the model's structure there).

    Examples
    --------
    What :func:`compile_model` reports when PyTensor could not key the graph (nutpie compiled
    it, nothing came from a cache):

    >>> import dataclasses
    >>> from cit_bayes.bayes.compiled import CompiledModelInfo
    >>> info = CompiledModelInfo(cached=False, hits=0)
    >>> info.stored, dataclasses.replace(info, cached=True, hits=2).hits
    (False, 2)
    """

    cached: bool
    hits: int
    stored: bool = False


def _layout(arrays: list[np.ndarray]) -> tuple[list[int], int]:
    """Offsets of each array's (address, shape...) record in the user-data vector, and its length."""
    offsets, position = [], 0
    for array in arrays:
        offsets.append(position)
        position += 1 + array.ndim
    return offsets, max(position, 1)


def _user_data(arrays: list[np.ndarray]) -> np.ndarray:
    """The vector the callbacks read the shared arrays from: each array's address and shape."""
    offsets, size = _layout(arrays)
    vector = np.zeros(size, dtype=np.uint64)
    for offset, array in zip(offsets, arrays, strict=True):
        vector[offset] = array.ctypes.data
        vector[offset + 1 : offset + 1 + array.ndim] = array.shape
    return vector


def _prologue(arrays: list[np.ndarray], wanted: list[int]) -> tuple[str, str]:
    """Source lines (inside the callback's ``try``) that view the shared arrays ``wanted``
    (positions in ``arrays``) from the user-data vector, and the call's argument list."""
    offsets, size = _layout(arrays)
    lines = [f"        data = numba.carray(user_data_, ({size},), np.uint64)"]
    names = ["x"]
    for position in wanted:
        array, offset = arrays[position], offsets[position]
        dtype = np.dtype(array.dtype).name
        if not hasattr(np, dtype):
            raise TypeError(f"shared data of dtype {dtype} has no numpy name")
        shape = ", ".join(f"data[{offset + 1 + d}]" for d in range(array.ndim))
        shape = f"({shape},)" if array.ndim else "()"
        lines.append(
            f"        shared{position} = numba.carray("
            f"_as_pointer(data[{offset}]), {shape}, np.{dtype})"
        )
        names.append(f"shared{position}")
    return "\n".join(lines), ", ".join(names)


def _logp_source(n_dim: int, arrays, wanted) -> str:
    unpack, arguments = _prologue(arrays, wanted)
    return f"""
def logp_callback(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
{unpack}
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_dim},))
        logp = numba.carray(logp_, (1,))
        value, gradient = inner({arguments})
        logp[0] = value
        finite = True
        for i in range({n_dim}):
            out[i] = gradient[i]
            finite = finite and np.isfinite(gradient[i])
    except Exception:
        return 1
    if not finite:
        return 3
    if not np.isfinite(value):
        return 4
    return 0
"""


def _expand_source(n_dim: int, n_expanded: int, arrays, wanted) -> str:
    unpack, arguments = _prologue(arrays, wanted)
    return f"""
def expand_callback(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim} or expanded != {n_expanded}:
        return -1
    try:
{unpack}
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_expanded},))
        (values,) = inner({arguments})
        for i in range({n_expanded}):
            out[i] = values[i]
    except Exception:
        return -2
    return 0
"""


def _pytensor_key(inner) -> str | None:
    """PyTensor's key of a compiled function's numba code (None: PyTensor could not key it)."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    return CACHED_SRC_FUNCTIONS.get(getattr(inner, "py_func", None))


def _keyed(made: tuple) -> bool:
    """Whether PyTensor keyed the numba code of both compiled functions (else no callback of
    ours can be cached, and nothing is stored)."""
    return all(_pytensor_key(f.vm.jit_fn) is not None for f in (made[2], made[3]))


def _callback(inner, source: str, name: str, signature):
    """The cached ``cfunc`` of ``source`` calling PyTensor's compiled ``inner``; None if
    PyTensor could not key ``inner``."""
    from pytensor.link.numba.cache import compile_numba_function_src

    graph_key = _pytensor_key(inner)
    if graph_key is None:
        return None
    text = "\n".join((source, graph_key, nutpie.__version__, numba.__version__, WRAPPER_VERSION))
    key = hashlib.sha256(text.encode()).hexdigest()
    function = compile_numba_function_src(
        source,
        name,
        # __name__: numba rebuilds a cached function's environment by importing its module
        {
            "__name__": __name__,
            "numba": numba,
            "np": np,
            "_as_pointer": _as_pointer,
            "inner": inner,
        },
        cache_key=key,
    )
    return numba.cfunc(signature, cache=True)(function)


@dataclass(frozen=True)
class _CachedPyMCModel(nutpie_internals.CompiledPyMCModel):
    """nutpie's compiled model, with a ``with_data`` for this module's user-data layout."""

    #: Keys of ``shared_data`` in user-data order.
    shared_order: tuple[str, ...] = ()

    def with_data(self, **updates):
        shared_data = dict(self.shared_data)
        for name, value in updates.items():
            keys = [key for var, key in self.shared_var_keys.items() if var.name == name]
            if len(keys) != 1:
                raise KeyError(f"unknown or ambiguous shared variable: {name}")
            old = shared_data[keys[0]]
            new = np.array(value, dtype=old.dtype, order="C", copy=True)
            if new.ndim != old.ndim:
                raise ValueError(f"shared variable {name} must have rank {old.ndim}")
            new.flags.writeable = False
            shared_data[keys[0]] = new
        user_data = _user_data([shared_data[key] for key in self.shared_order])
        return dataclasses.replace(self, shared_data=shared_data, user_data=user_data)


def _store_directory() -> Path:
    """Where the models' compiled PyTensor functions are kept: beside PyTensor's own caches."""
    return Path(pytensor.config.compiledir) / "cit_bayes_functions"


def _structure(model: pm.Model) -> GraphDigest | None:
    """The digest of everything the two compiled functions depend on but the data (None: none)."""
    config = pytensor.config
    shapes = nutpie_internals._compute_shapes(model)
    values = [model.rvs_to_values[rv] for rv in model.free_RVs]
    return graph_digest(
        values,
        [model.logp(), *model.unobserved_value_vars],
        f"store {STORE_VERSION}, wrapper {WRAPPER_VERSION}",
        f"nutpie {nutpie.__version__}, numba {numba.__version__}, numpy {np.__version__}",
        f"pymc {pm.__version__}, pytensor {pytensor.__version__}",
        f"floatX {config.floatX}, fastmath {config.numba__fastmath}, check_bounds "
        f"{model.check_bounds}",
        "shapes " + repr(sorted((name, tuple(shape)) for name, shape in shapes.items())),
    )


def _functions(model: pm.Model, initial_point) -> tuple:
    """nutpie's ``_make_functions``: PyTensor's rewrites, the gradient and the numba linking."""
    return nutpie_internals._make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=nutpie_internals._wrap_with_lock(initial_point),
        var_names=None,
    )


@contextlib.contextmanager
def _without_values(functions) -> Iterator[None]:
    """Inside, every shared variable of ``functions`` holds zeros of size 0 (or of its fixed
    shape), so that a pickle of them holds no data; the values are put back on leaving."""
    variables = list(dict.fromkeys(var for f in functions for var in f.get_shared()))
    kept = [var.get_value(borrow=True) for var in variables]
    try:
        for var in variables:
            shape = tuple(0 if size is None else size for size in var.type.shape)
            var.set_value(np.zeros(shape, dtype=var.type.dtype), borrow=True)
        yield
    finally:
        for var, value in zip(variables, kept, strict=True):
            var.set_value(value, borrow=True)


def _save(path: Path, made: tuple) -> bool:
    """Store ``_make_functions``' result but its initial-point function, without shared values.

    Returns whether it was stored: a graph that does not pickle, or a compile directory that
    cannot take the file (full, read-only), leaves the fit as it is, compiled, and nothing stored.
    """
    n_dim, n_expanded, logp_fn, expand_fn, _, shape_info, reparameterized = made
    try:
        with _without_values((logp_fn, expand_fn)):
            blob = pickle.dumps(
                (n_dim, n_expanded, logp_fn, expand_fn, shape_info, reparameterized),
                protocol=pickle.HIGHEST_PROTOCOL,
            )
    except Exception:  # an Op that does not pickle: this structure is compiled in every process
        return False
    partial = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".partial", delete=False) as out:
            partial = out.name
            out.write(blob)
        os.replace(partial, path)  # atomic: a process alongside reads the old file or the new one
    except OSError:
        if partial is not None:
            Path(partial).unlink(missing_ok=True)  # our own temporary file, nothing else
        return False
    return True


def _load(path: Path, model: pm.Model, structure: GraphDigest, initial_point) -> tuple | None:
    """``_make_functions``' result from the store, its shared variables set to the model's
    current values; None when there is none or it cannot be read (it is then compiled anew)."""
    try:
        n_dim, n_expanded, logp_fn, expand_fn, shape_info, reparameterized = pickle.loads(
            path.read_bytes()
        )
        for function in (logp_fn, expand_fn):
            for var in function.get_shared():
                var.set_value(structure.shared[var.name].get_value(borrow=True), borrow=True)
    except Exception:  # none yet, or a damaged file: compiled anew and replaced
        return None
    n_free = len(model.free_RVs)
    flat_initial_point = nutpie_internals._rv_dict_to_flat_array_wrapper(
        nutpie_internals._wrap_with_lock(initial_point),
        names=list(shape_info[0][:n_free]),
        shapes=list(shape_info[2][:n_free]),
    )
    return (n_dim, n_expanded, logp_fn, expand_fn, flat_initial_point, shape_info, reparameterized)


def compile_model(model: pm.Model):
    """Compile ``model`` for ``nutpie.sample``, through the on-disk cache where PyTensor allows.

    The defaults of ``nutpie.compile_pymc_model(model)`` (numba backend, initial values at the
    support point with jitter, every variable stored).

    Returns
    -------
    compiled : nutpie CompiledPyMCModel
        Use ``compiled.with_data(...)`` to swap ``pm.Data`` values, as with nutpie's own.
    info : CompiledModelInfo

    Examples
    --------
    >>> import pymc as pm
    >>> from cit_bayes.bayes.compiled import compile_model
    >>> with pm.Model() as model:
    ...     scale = pm.Data("scale", 2.0)
    ...     x = pm.Normal("x", 0.0, scale)
    >>> compiled, info = compile_model(model)  # seconds the first time on a machine
    >>> compiled.n_dim, info.cached
    (1, True)
    """
    initial_point = make_initial_point_fn(
        model=model,
        overrides=None,
        default_strategy="support_point",
        jitter_rvs=set(model.free_RVs),
        return_transformed=True,
    )
    structure = _structure(model)
    path = None if structure is None else _store_directory() / f"{structure.hexdigest}.pkl"
    made = None if path is None else _load(path, model, structure, initial_point)
    stored = made is not None
    if made is None:
        made = _functions(model, initial_point)
        if path is not None and _keyed(made) and _save(path, made):
            # Every later process loads the stored functions, and PyTensor keys a loaded
            # function's numba code differently from the freshly compiled one's (measured on
            # the recovery model: another key for both functions), so callbacks built on the
            # fresh functions were never found again: the second process compiled them anew
            # (17-20 s for the recovery model) and only the third was warm. Built on the
            # loaded functions, they are what every later process looks up.
            made = _load(path, model, structure, initial_point) or made
    (n_dim, n_expanded, logp_fn, expand_fn, initial_point_fn, shape_info, reparameterized) = made
    variables = list(dict.fromkeys([*logp_fn.get_shared(), *expand_fn.get_shared()]))
    keys = {var: f"shared{i}" for i, var in enumerate(variables)}
    shared_data = {
        key: np.array(var.get_value(), order="C", copy=True) for var, key in keys.items()
    }
    arrays = list(shared_data.values())  # in user-data order
    for array in arrays:
        array.flags.writeable = False
    logp_wanted = [variables.index(var) for var in logp_fn.get_shared()]
    expand_wanted = [variables.index(var) for var in expand_fn.get_shared()]
    logp = _callback(
        logp_fn.vm.jit_fn, _logp_source(n_dim, arrays, logp_wanted), "logp_callback",
        _LOGP_SIGNATURE,
    )  # fmt: skip
    expand = None if logp is None else _callback(
        expand_fn.vm.jit_fn, _expand_source(n_dim, n_expanded, arrays, expand_wanted),
        "expand_callback", _EXPAND_SIGNATURE,
    )  # fmt: skip
    if logp is None or expand is None:  # a graph PyTensor cannot key: nutpie's own compilation
        info = CompiledModelInfo(cached=False, hits=0, stored=False)
        return nutpie.compile_pymc_model(model), info
    dims, coords = nutpie_internals._prepare_dims_and_coords(model, shape_info, reparameterized)
    compiled = _CachedPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp,
        compiled_expand_func=expand,
        initial_point_func=initial_point_fn,
        shared_data=shared_data,
        shared_var_keys=keys,
        user_data=_user_data(arrays),
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_fn,
        expand_func=expand_fn,
        reparameterized_names=reparameterized,
        shared_order=tuple(shared_data),
    )
    hits = logp._cache_hits + expand._cache_hits
    return compiled, CompiledModelInfo(cached=True, hits=hits, stored=stored)
