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
has its keys and coverages in [0, 1]; it reports every problem at once.
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
from cit_bayes.cohort.schema import ARMS
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

#: Version of the layout; bump it when a key changes meaning.
SCHEMA_VERSION = "1.3"
#: Endpoint sections, each a dict of analyses keyed by analysis name.
ENDPOINT_KEYS: tuple[str, ...] = ("response", "plt", "recovery", "safety")
#: Every top-level key the layout knows, in the order written.
TOP_LEVEL_KEYS = (
    "meta",
    *ENDPOINT_KEYS,
    "weighting",
    "robustness",
    "unmeasured_confounding",
    "calibration",
    "diagnostics",
)
REQUIRED_META_KEYS: tuple[str, ...] = (
    "schema_version",
    "source",
    "seed",
    "package_version",
    "synthetic",
)
_REQUIRED_DIAGNOSTICS = ("max_rhat", "min_ess_bulk", "min_ess_tail", "divergences", "passed")
_REQUIRED_CALIBRATION = ("source", "path", "what", "synthetic", "plan", "same_plan", "verdicts",
                         "sbc_verdicts", "coverage", "sbc")  # fmt: skip
_INTERVAL_KEYS = ("mean", "ci_low", "ci_high")
_THRESHOLD = r"-?\d+\.\d{2}"

# Fields of an analysis whose keys name arms or pairs of arms, by key kind. A field may be keyed
# directly (arm -> value) or by block first (day / event -> arm -> value).
_ARM_FIELDS = {
    "rate",
    "mean",
    "mean_days",
    "prob_best",
    "recovery_analysis_sizes",
    "rmtr",
    "cumulative_recovery",
    "median_day",
    "delta_plt",
    "baseline_mean",
}
_PAIR_FIELDS = {
    "risk_difference": "difference",
    "difference": "difference",
    "odds_ratio": "ratio",
    "ratio": "ratio",
    "prob_superior": "superior",
    "prob_noninferior": "noninferior",
    "prob_difference_exceeds": "exceeds",
    "hazard_ratio": "ratio",
    "hazard_ratio_change": "ratio",
    "recovered_difference": "difference",
    "prob_higher_hazard": "superior",
    "delta_plt_difference": "difference",
}
_INTERVAL_FIELDS = {
    "rate",
    "rmtr",
    "cumulative_recovery",
    "delta_plt",
    "delta_plt_difference",
    "hazard_ratio",
    "recovered_difference",
    "mean",
    "mean_days",
    "risk_difference",
    "difference",
    "odds_ratio",
    "ratio",
}


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


def _patterns(arms: Sequence[str]) -> dict[str, re.Pattern]:
    arm = "(" + "|".join(re.escape(a) for a in sorted(arms, key=len, reverse=True)) + ")"
    return {
        "arm": re.compile(f"^{arm}$"),
        "difference": re.compile(f"^{arm}-{arm}$"),
        "ratio": re.compile(f"^{arm}/{arm}$"),
        "superior": re.compile(f"^{arm}[<>]{arm}$"),
        "noninferior": re.compile(f"^{arm} vs {arm} @ {_THRESHOLD}$"),
        "exceeds": re.compile(f"^{arm}-{arm} > {_THRESHOLD}$"),
    }


def validation_problems(results: Mapping, arms: Sequence[str] | None = None) -> list[str]:
    """Return every way ``results`` departs from the layout (empty when it is valid).

    Keys that name arms are checked against ``arms``: by default the cohort's
    (``meta.data.arms`` of a patient-level analysis), else the CIT study's four.

    Examples
    --------
    >>> validation_problems({"meta": {"seed": 1}, "diagnostics": {}})[:2]
    ["meta: missing 'schema_version'", "meta: missing 'source'"]
    """
    problems: list[str] = []
    if not isinstance(results, Mapping):
        return ["the document is not a mapping"]
    arms = _arms_of(results) if arms is None else arms
    unknown = [k for k in results if k not in TOP_LEVEL_KEYS]
    if unknown:
        problems.append(f"unknown top-level key(s) {unknown}; allowed {list(TOP_LEVEL_KEYS)}")
    meta = results.get("meta")
    if not isinstance(meta, Mapping):
        problems.append("missing 'meta' block")
    else:
        problems += [f"meta: missing {k!r}" for k in REQUIRED_META_KEYS if k not in meta]
        if "synthetic" in meta and not isinstance(meta["synthetic"], bool):
            problems.append("meta.synthetic must be true or false")
        if "seed" in meta and (isinstance(meta["seed"], bool) or not isinstance(meta["seed"], int)):
            problems.append("meta.seed must be an integer")
    diagnostics = results.get("diagnostics")
    if not isinstance(diagnostics, Mapping):
        problems.append("missing 'diagnostics' block")
    else:
        for name, entry in diagnostics.items():
            if not isinstance(entry, Mapping):
                problems.append(f"diagnostics.{name}: not a mapping")
                continue
            problems += [
                f"diagnostics.{name}: missing {k!r}"
                for k in _REQUIRED_DIAGNOSTICS
                if k not in entry
            ]
            if "passed" in entry and not isinstance(entry["passed"], bool):
                problems.append(f"diagnostics.{name}.passed must be true or false")
    patterns = _patterns(arms)
    for endpoint in ENDPOINT_KEYS:
        if endpoint not in results:
            continue
        section = results[endpoint]
        if not isinstance(section, Mapping):
            problems.append(f"{endpoint}: expected analyses keyed by name")
            continue
        for name, analysis in section.items():
            where = f"{endpoint}.{name}"
            if not name or not isinstance(analysis, Mapping):
                problems.append(f"{where}: expected a named analysis (a mapping)")
                continue
            for field, value in analysis.items():
                problems += _check_field(field, value, f"{where}.{field}", patterns)
    if "calibration" in results:
        problems += _check_calibration(results["calibration"])
    problems += _check_numbers(results, "", allow_none=False)
    return problems


def _check_calibration(block: Any, where: str = "calibration") -> list[str]:
    """Keys of the ``calibration`` block; every ``coverage`` and ``mc_se`` a share in [0, 1].

    Examples
    --------
    >>> _check_calibration({"source": "user", "coverage": {"s": {"coverage": 1.2}}})[-1]
    'calibration.coverage.s.coverage: 1.2 is not a share in [0, 1]'
    """
    if not isinstance(block, Mapping):
        return [f"{where}: not a mapping"] if where == "calibration" else []
    problems = []
    if where == "calibration":
        problems += [f"{where}: missing {k!r}" for k in _REQUIRED_CALIBRATION if k not in block]
        if block.get("source", "user") not in ("shipped", "user"):
            problems.append(f"{where}.source: {block['source']!r} is not 'shipped' or 'user'")
    for key, item in block.items():
        if key in ("coverage", "mc_se") and not isinstance(item, Mapping):
            if not _is_probability(item):
                problems.append(f"{where}.{key}: {item!r} is not a share in [0, 1]")
        elif key in ("same_plan", "same_estimand") and not isinstance(item, bool):
            problems.append(f"{where}.{key} must be true or false")
        else:
            problems += _check_calibration(item, f"{where}.{key}")
    return problems


def _check_field(field: str, value: Any, where: str, patterns: dict) -> list[str]:
    kind = "arm" if field in _ARM_FIELDS else _PAIR_FIELDS.get(field)
    if kind is None:
        return []
    if not isinstance(value, Mapping) or not value:
        return [f"{where}: expected a non-empty mapping"]
    pattern = patterns[kind]
    if all(isinstance(k, str) and pattern.match(k) for k in value):
        groups = {"": value}
    elif all(isinstance(v, Mapping) for v in value.values()):
        groups = {f".{block}": inner for block, inner in value.items()}
    else:
        bad = [k for k in value if not pattern.match(str(k))]
        return [f"{where}: key(s) {bad} do not name the arms ({kind} keys)"]
    problems = []
    for block, inner in groups.items():
        for key, item in inner.items():
            here = f"{where}{block}.{key}"
            if not pattern.match(str(key)):
                problems.append(f"{here}: key does not name the arms ({kind} key)")
            if field.startswith("prob_") and not _is_probability(item):
                problems.append(f"{here}: {item!r} is not a probability in [0, 1]")
            if field in _INTERVAL_FIELDS:
                problems += _check_interval(item, here)
    return problems


def _check_interval(item: Any, where: str) -> list[str]:
    if not isinstance(item, Mapping):
        return [f"{where}: expected {{mean, ci_low, ci_high}}"]
    missing = [k for k in _INTERVAL_KEYS if k not in item]
    if missing:
        return [f"{where}: missing {missing}"]
    low, high = item["ci_low"], item["ci_high"]
    if _is_number(low) and _is_number(high) and low > high:
        return [f"{where}: ci_low {low} > ci_high {high}"]
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_probability(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value) and 0.0 <= value <= 1.0


def _check_numbers(value: Any, where: str, allow_none: bool) -> list[str]:
    if isinstance(value, Mapping):
        problems = []
        for key, item in value.items():
            inner_allow = allow_none or (where == "" and key == "diagnostics")
            problems += _check_numbers(item, f"{where}.{key}" if where else str(key), inner_allow)
        return problems
    if isinstance(value, list | tuple):
        return [
            p
            for i, item in enumerate(value)
            for p in _check_numbers(item, f"{where}[{i}]", allow_none)
        ]
    if value is None and not allow_none:
        return [f"{where}: null outside the diagnostics block"]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{where}: non-finite number {value!r}"]
    if value is not None and not isinstance(value, str | int | float | bool):
        return [f"{where}: {type(value).__name__} is not a JSON type"]
    return []


def _arms_of(results: Mapping) -> Sequence[str]:
    meta = results.get("meta")
    data = meta.get("data") if isinstance(meta, Mapping) else None
    arms = data.get("arms") if isinstance(data, Mapping) else None
    if isinstance(arms, list | tuple) and arms and all(isinstance(a, str) for a in arms):
        return tuple(arms)
    return ARMS


def validate_results(results: Mapping, arms: Sequence[str] | None = None) -> None:
    """Raise :class:`ResultsSchemaError` listing every problem, if there is any.

    Examples
    --------
    >>> validate_results({"diagnostics": {}})
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ResultsSchemaError: results do not follow the layout: missing 'meta' block
    """
    problems = validation_problems(results, arms)
    if problems:
        shown = "; ".join(problems[:10]) + (
            f"; ... ({len(problems)} in all)" if len(problems) > 10 else ""
        )
        raise ResultsSchemaError(f"results do not follow the layout: {shown}", problems)


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
