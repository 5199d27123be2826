"""A stable digest of a PyTensor graph's structure, for keying compiled functions on disk.

Why our own
-----------
PyTensor keys its numba cache on the graph *after* its rewrites (``numba_funcify`` of the
rewritten ``FunctionGraph``), so every process still runs the rewrites, the gradient and the
canonicalisation before it can look a function up: about 0.7 s for the response model of the
bundled cohort, 10-15 s over the 15 model structures of ``cit-bayes run`` (issue 17). Python's
``hash`` of an ``Op`` changes between processes (string hashing is salted), and a pickle of a graph
holds the shared variables' values (the cohort). This module describes a graph *before* any
rewrite, from what PyTensor itself uses for equality: each node's ``Op`` by its class and
``__props__``, its inputs by position in the topological order, each constant by the hash of its
bytes (PyTensor's :func:`~pytensor.link.numba.dispatch.basic.cache_key_for_constant`), each
shared variable by its name and type (never its value: data, weights and priors held in
``pm.Data`` are inputs and do not change the digest), and each root input by its position and type.

Anything it cannot describe exactly (an ``Op`` without ``__props__``, a property of an unknown kind,
an unnamed or twice-named shared variable, a root that is neither an input, a constant nor a
shared variable) makes :func:`graph_digest` return None: the caller then compiles as if there
were no cache. A digest is therefore either exact or absent, never approximate.
"""

from __future__ import annotations

import hashlib
import types as pytypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant, Variable
from pytensor.graph.traversal import io_toposort
from pytensor.graph.type import Type
from pytensor.link.numba.dispatch.basic import cache_key_for_constant

__all__ = ["GraphDigest", "graph_digest"]


#: Deeper nesting of Op properties than this is not described (no graph of ours comes close).
_MAX_DEPTH = 12

#: Packages whose objects without ``__props__`` are described by class and instance attributes.
_OWN_STATE_MODULES = frozenset({"pytensor", "pymc"})


class _Undescribable(Exception):
    """Raised inside the description when a part of the graph cannot be described exactly."""


@dataclass(frozen=True)
class GraphDigest:
    """The digest of a graph and its shared variables by name.

    Attributes
    ----------
    hexdigest : str
        SHA-256 of the description (64 hexadecimal characters).
    shared : dict[str, SharedVariable]
        The graph's shared variables by name (their values are not part of the digest).

    Examples
    --------
    A new value of a shared variable (the data, a prior scale) leaves the digest as it was:

    >>> import pytensor.tensor as pt
    >>> from pytensor import shared
    >>> from cit_bayes.bayes.graph_key import graph_digest
    >>> x, scale = pt.dvector("x"), shared(2.0, name="scale")
    >>> digest = graph_digest([x], [(x * scale).sum()])
    >>> len(digest.hexdigest), digest.shared["scale"] is scale
    (64, True)
    >>> scale.set_value(5.0)
    >>> graph_digest([x], [(x * scale).sum()]).hexdigest == digest.hexdigest
    True
    """

    hexdigest: str
    shared: dict[str, SharedVariable]


def _qualified(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _describe_type(value: Type) -> str:
    dtype = getattr(value, "dtype", None)
    shape = getattr(value, "shape", None)
    return f"{_qualified(type(value))}[{dtype},{shape},{value}]"


def _describe(value, depth: int = 0) -> str:
    """An exact, process-independent text for an ``Op`` property (or raise ``_Undescribable``)."""
    if depth > _MAX_DEPTH:
        raise _Undescribable("nested too deeply")
    inner = depth + 1
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, np.generic):
        return f"np:{value.dtype.str}:{value.item()!r}"
    if isinstance(value, np.dtype):
        return f"dtype:{value.str}"
    if isinstance(value, np.ndarray):
        return f"array:{cache_key_for_constant(value)}"
    if isinstance(value, tuple | list):
        return f"{type(value).__name__}(" + ",".join(_describe(v, inner) for v in value) + ")"
    if isinstance(value, frozenset | set):
        return "set(" + ",".join(sorted(_describe(v, inner) for v in value)) + ")"
    if isinstance(value, Mapping):  # dict, and PyTensor's frozendict (inplace patterns)
        items = sorted(f"{_describe(k, inner)}:{_describe(v, inner)}" for k, v in value.items())
        return "dict(" + ",".join(items) + ")"
    if isinstance(value, slice):
        return f"slice({_describe((value.start, value.stop, value.step), inner)})"
    if isinstance(value, Type):
        return _describe_type(value)
    if isinstance(value, pytypes.FunctionType | pytypes.BuiltinFunctionType | type):
        return f"function:{value.__module__}.{value.__qualname__}"
    props = getattr(type(value), "__props__", None)
    if props is not None:  # an Op (or a scalar Op inside one): equal when class and props are
        fields = ",".join(f"{name}={_describe(getattr(value, name), inner)}" for name in props)
        return f"{_qualified(type(value))}({fields})"
    if type(value).__module__.split(".")[0] in _OWN_STATE_MODULES and hasattr(value, "__dict__"):
        # PyTensor's scalar Ops compare by class and instance attributes, not __props__: the
        # whole instance dictionary describes them (a cache in it can only make a key miss)
        return f"{_qualified(type(value))}{{{_describe(vars(value), inner)}}}"
    raise _Undescribable(f"{_qualified(type(value))} has no exact description")


def _root(variable: Variable, shared: dict[str, SharedVariable]) -> str:
    if isinstance(variable, Constant):
        return f"constant[{_describe_type(variable.type)},{cache_key_for_constant(variable.data)}]"
    if isinstance(variable, SharedVariable):
        name = variable.name
        if not name or shared.get(name, variable) is not variable:
            raise _Undescribable(f"shared variable {name!r} is unnamed or not unique")
        shared[name] = variable
        return f"shared[{name},{_describe_type(variable.type)}]"
    raise _Undescribable(f"root variable {variable} is not an input, constant or shared")


def graph_digest(
    inputs: Sequence[Variable], outputs: Sequence[Variable], *extra: str
) -> GraphDigest | None:
    """The digest of the graph from ``inputs`` to ``outputs``, or None if it has no exact one.

    Parameters
    ----------
    inputs : sequence of Variable
        The graph's inputs, in order (for a model: the value variables of its free variables).
    outputs : sequence of Variable
        The graph's outputs, in order; their names are part of the digest.
    *extra : str
        Further text that the compiled result depends on (versions, settings, shapes).

    Returns
    -------
    GraphDigest or None

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from pytensor import shared
    >>> x, scale = pt.dvector("x"), shared(2.0, name="scale")
    >>> a = graph_digest([x], [(x * scale).sum()])
    >>> b = graph_digest([x], [(x * scale).sum()])
    >>> a.hexdigest == b.hexdigest, list(a.shared)
    (True, ['scale'])
    >>> graph_digest([x], [(x * scale).mean()]).hexdigest == a.hexdigest
    False
    >>> graph_digest([x], [(x * shared(2.0)).sum()]) is None  # an unnamed shared variable
    True
    """
    shared: dict[str, SharedVariable] = {}
    ids: dict[Variable, str] = {
        var: f"input{i}[{_describe_type(var.type)}]" for i, var in enumerate(inputs)
    }
    lines = list(extra)
    ops: dict[int, str] = {}  # by identity: one Op object serves many nodes of a large graph
    try:
        for position, node in enumerate(io_toposort(list(inputs), list(outputs))):
            for variable in node.inputs:
                if variable not in ids:
                    ids[variable] = _root(variable, shared)
            arguments = ",".join(ids[variable] for variable in node.inputs)
            if id(node.op) not in ops:
                ops[id(node.op)] = _describe(node.op)
            lines.append(f"{position}={ops[id(node.op)]}({arguments})")
            for k, output in enumerate(node.outputs):
                ids[output] = f"node{position}.{k}"
        for output in outputs:
            if output not in ids:
                ids[output] = _root(output, shared)
            lines.append(f"output {output.name!r}={ids[output]}:{_describe_type(output.type)}")
    except _Undescribable:
        return None
    return GraphDigest(hashlib.sha256("\n".join(lines).encode()).hexdigest(), shared)
