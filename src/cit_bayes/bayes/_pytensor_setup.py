"""PyTensor configuration the package relies on, applied once when ``cit_bayes.bayes`` is imported.

Two settings, each left alone when the user has set it (in ``PYTENSOR_FLAGS`` or
``~/.pytensorrc``):

``blas__ldflags=`` (empty)
    pip-installed PyTensor finds no system BLAS to link its C code against and warns about it on
    first use. The package's models are small, the default sampler (nutpie) compiles them with
    numba and never uses PyTensor's C BLAS, and without ``blas__ldflags`` PyTensor computes
    matrix products through numpy, which carries its own OpenBLAS: the same computation on every
    machine, and no warning about a library the package does not need. It only takes effect
    before PyTensor is first imported.

``numba__fastmath=False``
    With fast-math (PyTensor's default), LLVM may reassociate sums and fuse multiply-adds
    wherever it sees them, so the machine code of a log density depends on how the compiled
    pieces were put together: compiled afresh in this process (callees inlined and fused across
    their borders) or loaded from PyTensor's on-disk numba cache. Measured (issue 13): the
    published reanalysis gave the same draws for the first model of each structure but
    different last bits for the others in a cold and a warm run, and in the hierarchical model
    those last bits flipped a NUTS decision (P(comb > rhTPO) 0.976 in one run, 0.983 in the
    next, same seed). Without fast-math every floating-point operation is done as written:
    cold and warm runs give the same draws bit for bit, and the code no longer depends on which
    vector instructions a CPU has. It cost nothing measurable: the five prior sets of the
    published reanalysis took 238 s cold and 170 s warm without fast-math, 268 s and 172 s
    with it (2 cores).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["configure_pytensor", "DEFAULTS"]

#: The settings applied unless the user set them, as PyTensor flag name -> value.
DEFAULTS: dict[str, str] = {"blas__ldflags": "", "numba__fastmath": "False"}


def _user_settings() -> str:
    """The text of the user's own PyTensor configuration (flags and rc file)."""
    text = os.environ.get("PYTENSOR_FLAGS", "")
    rc = Path(os.environ.get("PYTENSORRC", Path.home() / ".pytensorrc"))
    try:
        if rc.is_file():
            text += "\n" + rc.read_text(encoding="utf-8", errors="ignore")
    except OSError:
        pass
    return text


def _user_has_set(name: str, text: str) -> bool:
    # an rc file writes [blas] ldflags = ... or [numba] fastmath = ...
    section, _, key = name.partition("__")
    return name in text or (f"[{section}]" in text and key in text)


def configure_pytensor() -> None:
    """Apply :data:`DEFAULTS` the user has not set themselves.

    Before PyTensor's first import they go into ``PYTENSOR_FLAGS``; after it, the settings that
    PyTensor reads at compile time (``numba__fastmath``) are set on ``pytensor.config``.

    Examples
    --------
    >>> from cit_bayes.bayes._pytensor_setup import DEFAULTS, configure_pytensor
    >>> configure_pytensor()  # already applied on import; applying it again changes nothing
    >>> sorted(DEFAULTS)
    ['blas__ldflags', 'numba__fastmath']
    """
    text = _user_settings()
    wanted = {k: v for k, v in DEFAULTS.items() if not _user_has_set(k, text)}
    if "pytensor" not in sys.modules:
        flags = [os.environ.get("PYTENSOR_FLAGS", "")] + [f"{k}={v}" for k, v in wanted.items()]
        os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in flags if f)
        return
    if "numba__fastmath" in wanted:
        import pytensor

        pytensor.config.numba__fastmath = False


configure_pytensor()
