"""PyTensor configuration that must happen before PyTensor is first imported.

pip-installed PyTensor finds no system BLAS to link its C code against and warns about it on
first use. The package's models are small (a few hundred rows, a few dozen columns), the default
sampler (nutpie) compiles the model with numba and never uses PyTensor's C BLAS, and without
``blas__ldflags`` PyTensor computes matrix products through numpy, which carries its own
OpenBLAS. So unless the user has configured ``blas__ldflags`` themselves (in ``PYTENSOR_FLAGS``
or ``~/.pytensorrc``), it is set to the empty string: the same computation on every machine,
and no warning about a library the package does not need.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["configure_pytensor"]


def configure_pytensor() -> None:
    """Set ``blas__ldflags=`` in ``PYTENSOR_FLAGS`` unless PyTensor or the user already decided."""
    if "pytensor" in sys.modules:
        return
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "blas__ldflags" in flags:
        return
    rc = Path(os.environ.get("PYTENSORRC", Path.home() / ".pytensorrc"))
    try:
        if rc.is_file() and "ldflags" in rc.read_text(encoding="utf-8", errors="ignore"):
            return
    except OSError:
        pass
    os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, "blas__ldflags=") if f)


configure_pytensor()
