"""The ``results.json`` layout as data and its check: the keys, the fields that name arms.

:func:`validation_problems` lists every way a document departs from the layout documented in
``docs/results-schema.md``: the required keys, that every arm named in a key is one of the
analysis's arms (by default the canonical labels), that probabilities lie in [0, 1] and that every
number is finite, and that a ``calibration`` block (the calibration a run shows,
``cit_bayes.calibration.report_block.calibration_block``) has its keys and coverages in [0, 1];
:func:`validate_results` raises them all at once. :mod:`cit_bayes.analyses.results` assembles
and writes the documents (and is where these names are public).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from cit_bayes.cohort.schema import ARMS
from cit_bayes.exceptions import ResultsSchemaError

__all__ = [
    "SCHEMA_VERSION",
    "ENDPOINT_KEYS",
    "TOP_LEVEL_KEYS",
    "REQUIRED_META_KEYS",
    "validation_problems",
    "validate_results",
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
