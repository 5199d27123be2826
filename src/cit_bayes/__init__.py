"""cit_bayes: Bayesian and causal reanalysis of multi-arm studies of chemotherapy-induced
thrombocytopenia (CIT).

The public API is listed in ``__all__`` and pinned by ``tests/test_public_api.py``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cit_bayes")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
