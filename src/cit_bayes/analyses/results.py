"""The shared ``results.json`` layout: assemble, validate, write; and fits saved as netCDF.

Every analysis of the package (the published reanalysis, the patient-level models) writes its
numbers into one document with the same layout, documented key by key in
``docs/results-schema.md``::

    {"meta": {...}, "response": {"<analysis name>": {...}}, "plt": {...}, "recovery": {...},
     "safety": {...}, "weighting": {...}, "robustness": {...}, "unmeasured_confounding": {...},
     "calibration": {...},
     "diagnostics": {"<fit name>": {"max_rhat": r, "min_ess_bulk": e, "min_ess_tail": e,
                                    "divergences": d, "passed": true, ...}}}

Under each endpoint, analyses are keyed by name (a prior set such as ``"flat"``, a sensitivity
run such as ``"flat (± as SD)"``, ``"adjusted"``, ``"unadjusted"``). Keys of contrasts
follow :mod:`cit_bayes.contrasts` (``"A-B"``, ``"A/B"``, ``"A>B"``, ``"A vs B @ 0.10"``,
``"A-B > 0.05"``). :func:`validate_results` checks the required keys, that every arm named in a key
is a canonical label, that probabilities lie in [0, 1] and that every number is finite, and that a
``calibration`` block (the calibration a run shows, ``cit_bayes.calibration.report_block.calibration_block``)
has its keys and coverages in [0, 1]; it reports every problem at once. The layout's keys and
its check live in :mod:`cit_bayes.analyses.results_schema`; this module assembles, writes and
reads the documents, and is where the layout's names are public.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import tempfile
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from cit_bayes.analyses.fit_files import load_idata, save_fit
from cit_bayes.analyses.results_schema import (
    ENDPOINT_KEYS,
    REQUIRED_META_KEYS,
    SCHEMA_VERSION,
    TOP_LEVEL_KEYS,
    validate_results,
    validation_problems,
)
from cit_bayes.exceptions import ResultsSchemaError

__all__ = [
    "SCHEMA_VERSION",
    "ENDPOINT_KEYS",
    "TOP_LEVEL_KEYS",
    "REQUIRED_META_KEYS",
    "ResultsSchemaError",
    "new_results",
    "add_analysis",
    "add_diagnostics",
    "to_jsonable",
    "validation_problems",
    "validate_results",
    "write_results",
    "read_results",
    "save_fit",
    "load_idata",
    "file_stem",
    "software_versions",
    "SOFTWARE",
]

#: The packages whose versions every results document records (``meta.software``).
SOFTWARE = ("pymc", "pytensor", "arviz", "numpy", "nutpie", "lifelines", "scikit-learn")


def software_versions() -> dict[str, str]:
    """Python's version and those of :data:`SOFTWARE`, for ``meta.software``.

    Examples
    --------
    >>> sorted(software_versions())[:3], "python" in software_versions()
    (['arviz', 'lifelines', 'numpy'], True)
    """
    versions = {"python": platform.python_version()}
    for package in SOFTWARE:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            versions[package] = "not installed"
    return versions


def file_stem(name: str) -> str:
    """A fit's or table's name as a file name: ``/`` becomes ``__``, other runs of characters
    outside letters, digits, ``-`` and ``_`` one ``_``.

    Examples
    --------
    >>> file_stem("published/flat (± as SD)"), file_stem("response/adjusted (ATO)")
    ('published__flat_as_SD', 'response__adjusted_ATO')
    """
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name.replace("/", "__")).strip("_")


def new_results(
    *,
    source: str,
    seed: int,
    package_version: str,
    synthetic: bool,
    **meta: Any,
) -> dict:
    """Start a results document with its ``meta`` block (extra keys go into ``meta`` as given).

    The document holds no clock time: when a run was made and how long it took go to ``run.json``
    (:mod:`cit_bayes.run_record`), so that the same seed rewrites the same document.

    Examples
    --------
    >>> list(new_results(source="cohort", seed=7, package_version="0.1", synthetic=True)["meta"])
    ['schema_version', 'source', 'seed', 'package_version', 'synthetic']
    """
    head = {
        "schema_version": SCHEMA_VERSION,
        "source": source,
        "seed": int(seed),
        "package_version": package_version,
        "synthetic": bool(synthetic),
    }
    return {"meta": head | meta, "diagnostics": {}}


def add_analysis(results: dict, endpoint: str, name: str, analysis: Mapping) -> None:
    """Add one named analysis under an endpoint (an existing name is an error).

    Examples
    --------
    >>> results = {}
    >>> add_analysis(results, "response", "flat", {"passed": True})
    >>> results
    {'response': {'flat': {'passed': True}}}
    """
    if endpoint not in ENDPOINT_KEYS + ("weighting",):
        raise ResultsSchemaError(f"unknown endpoint section {endpoint!r}")
    section = results.setdefault(endpoint, {})
    if name in section:
        raise ResultsSchemaError(f"analysis {name!r} already present under {endpoint!r}")
    section[name] = dict(analysis)


def add_diagnostics(results: dict, name: str, diagnostics: Mapping) -> None:
    """Add the diagnostics of one fit (a dict such as ``Diagnostics.as_dict()``).

    Examples
    --------
    >>> results = {"diagnostics": {}}
    >>> add_diagnostics(results, "response/flat", {"max_rhat": 1.002, "passed": True})
    >>> results["diagnostics"]["response/flat"]["passed"]
    True
    """
    section = results.setdefault("diagnostics", {})
    if name in section:
        raise ResultsSchemaError(f"diagnostics of {name!r} already present")
    section[name] = dict(diagnostics)


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars and arrays, tuples and Paths to plain JSON types.

    Raises
    ------
    ResultsSchemaError
        On a NaN or infinite number (write ``None`` for a quantity that cannot be computed).

    Examples
    --------
    >>> to_jsonable({"n": np.int64(3), "arms": ("A", "B"), "file": Path("results.json")})
    {'n': 3, 'arms': ['A', 'B'], 'file': 'results.json'}
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if not math.isfinite(float(value)):
            raise ResultsSchemaError(f"non-finite number {value!r} cannot be written")
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    raise ResultsSchemaError(f"cannot write {type(value).__name__} to JSON")


def write_results(results: Mapping, path: str | Path, arms: Sequence[str] | None = None) -> Path:
    """Validate and write ``results`` as UTF-8 JSON (keys in the layout's order).

    The file is written to a temporary name in the same folder and then renamed, so a reader
    never sees half a file.

    Examples
    --------
    >>> results = new_results(source="cohort", seed=7, package_version="0.1", synthetic=True)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_results(results, Path(folder) / "results.json").name
    'results.json'
    """
    document = to_jsonable(results)
    ordered = {k: document[k] for k in TOP_LEVEL_KEYS if k in document}
    ordered |= {k: v for k, v in document.items() if k not in ordered}
    validate_results(ordered, arms)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(ordered, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=".results-", suffix=".tmp", delete=False
    )
    try:
        with handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(handle.name, 0o666 & ~umask)  # a normal file, not the temporary's 0600
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path


def read_results(path: str | Path) -> dict:
    """Read a ``results.json`` written by :func:`write_results`.

    Examples
    --------
    >>> results = new_results(source="cohort", seed=7, package_version="0.1", synthetic=True)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     read_results(write_results(results, Path(folder) / "results.json")) == results
    True
    """
    return json.loads(Path(path).read_text(encoding="utf-8"))
