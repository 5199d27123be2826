"""Seeds and fingerprints: what makes a fit reproducible and its inputs recognisable.

Every random step of a fit takes a seed derived from the run's master seed and the fit's name
(:func:`derive_seed`), so a fit gets the same draws whichever other fits run beside it; every
fit records a SHA-256 of the arrays it saw (:func:`fingerprint`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from cit_bayes.exceptions import ModelError

__all__ = ["as_int_seed", "derive_seed", "fingerprint"]


def derive_seed(seed: int | np.random.Generator, *labels: str) -> int:
    """Return a 31-bit integer seed derived from ``seed`` and text labels.

    The same seed and labels give the same integer on every platform, so that a fit named
    ``"response/flat"`` gets the same seed whether or not other fits run beside it.

    Examples
    --------
    >>> from cit_bayes.bayes.seeds import derive_seed
    >>> seed = derive_seed(2024, "response/flat")
    >>> seed == derive_seed(2024, "response/flat"), seed == derive_seed(2024, "plt/flat")
    (True, False)
    >>> 0 <= seed < 2**31
    True
    """
    base = as_int_seed(seed)
    words = [
        int.from_bytes(hashlib.sha256(label.encode()).digest()[:4], "little") for label in labels
    ]
    return int(np.random.SeedSequence([base, *words]).generate_state(1)[0] & 0x7FFFFFFF)


def fingerprint(*parts: object) -> str:
    """Return a SHA-256 hex digest of arrays, DataFrames, mappings, text or numbers.

    Used as the ``data_fingerprint`` provenance attribute: equal inputs give equal digests.

    Examples
    --------
    >>> from cit_bayes.bayes.seeds import fingerprint
    >>> digest = fingerprint(np.arange(3), {"arm": "combination"})
    >>> digest == fingerprint(np.arange(3), {"arm": "combination"}), len(digest)
    (True, 64)
    """
    digest = hashlib.sha256()
    for part in parts:
        _feed(digest, part)
    return digest.hexdigest()


def _feed(digest, part: object) -> None:
    if isinstance(part, pd.DataFrame):
        digest.update(part.to_csv(index=True).encode())
    elif isinstance(part, Mapping):
        for key in sorted(part, key=str):
            digest.update(str(key).encode())
            _feed(digest, part[key])
    elif isinstance(part, list | tuple):
        digest.update(f"[{len(part)}".encode())
        for item in part:
            _feed(digest, item)
        digest.update(b"]")
    elif isinstance(part, np.ndarray):
        array = np.ascontiguousarray(part)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes() if array.dtype != object else repr(array.tolist()).encode())
    else:
        digest.update(repr(part).encode())


def as_int_seed(seed: int | np.random.Generator) -> int:
    """The integer seed of a fit: the seed itself, or one drawn from a Generator (checked).

    Examples
    --------
    >>> from cit_bayes.bayes.seeds import as_int_seed
    >>> as_int_seed(5), 0 <= as_int_seed(np.random.default_rng(1)) < 2**31
    (5, True)
    """
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**31 - 1))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ModelError(f"seed must be a non-negative integer or a numpy Generator, got {seed!r}")
    return int(seed)
