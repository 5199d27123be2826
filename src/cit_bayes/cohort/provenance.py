"""The provenance sidecar of a synthetic cohort: which plan, seed and assumptions made it.

A reconstructed cohort file ``cohort.csv`` travels with ``cohort.provenance.json`` beside it
(written by :func:`cit_bayes.reconstruct.write_reconstruction`). :func:`read_provenance` reads
it when a cohort is read (:func:`cit_bayes.cohort.read_cohort`), checks that it describes this
very table (the SHA-256 of the validated data, :attr:`Cohort.fingerprint`), and the analysis
carries it into ``results.json`` (``meta.data.provenance``) and the report (the assumptions
table), so that every number on such a cohort can be traced to the assumptions behind it.

The sidecar holds plan values and counts only, never a row of the cohort.
"""

from __future__ import annotations

import json
from pathlib import Path

from cit_bayes.exceptions import CohortError

__all__ = ["REQUIRED_KEYS", "read_provenance", "sidecar_path", "write_provenance"]

#: Keys every sidecar has.
REQUIRED_KEYS = ("kind", "synthetic", "plan", "seed", "draw", "assumptions", "data_fingerprint")


def sidecar_path(path: str | Path) -> Path:
    """The sidecar of a cohort file: ``<stem>.provenance.json`` in the same folder.

    Examples
    --------
    >>> sidecar_path("data/reconstructed/cohort.csv").as_posix()
    'data/reconstructed/cohort.provenance.json'
    """
    path = Path(path)
    return path.with_name(f"{path.stem}.provenance.json")


def write_provenance(path: str | Path, provenance: dict) -> Path:
    """Write ``provenance`` as the sidecar of the cohort file ``path``; return its path.

    Examples
    --------
    >>> write_provenance("cohort.csv", {"kind": "reconstruction"})
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.CohortError: provenance lacks ['synthetic', 'plan', 'seed', 'draw', 'assumptions', 'data_fingerprint']
    """
    missing = [key for key in REQUIRED_KEYS if key not in provenance]
    if missing:
        raise CohortError(f"provenance lacks {missing}")
    target = sidecar_path(path)
    target.write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target


def read_provenance(path: str | Path, fingerprint: str) -> tuple[dict | None, str | None]:
    """The sidecar of the cohort file ``path`` if there is one and it describes this table.

    Returns
    -------
    (dict or None, str or None)
        The provenance, and a note when a sidecar was found but not used (unreadable, or
        written for other data: its ``data_fingerprint`` differs from ``fingerprint``).

    Examples
    --------
    >>> read_provenance("no/such/cohort.csv", "0" * 64)
    (None, None)
    """
    target = sidecar_path(path)
    if not target.is_file():
        return None, None
    try:
        provenance = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return None, f"{target.name} not used: unreadable ({type(error).__name__})"
    if not isinstance(provenance, dict) or any(k not in provenance for k in REQUIRED_KEYS):
        return None, f"{target.name} not used: it lacks the keys {list(REQUIRED_KEYS)}"
    if provenance["data_fingerprint"] != fingerprint:
        return None, (
            f"{target.name} not used: it was written for other data (its data fingerprint "
            "differs from this file's)"
        )
    return provenance, None
