"""Simulation scenarios: TOML files in ``models/scenarios/`` and the features they may name.

A scenario declares the baseline population, a multinomial-logit assignment of arms given
baseline characteristics, the platelet response of each arm and the safety outcomes (see
``docs/cohort-schema.md``, "Simulated cohorts"). A file may ``extends = "other"``: a table of
values written in the extending file replaces the base table whole; tables of tables merge key
by key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cit_bayes._paths import models_dir
from cit_bayes.cohort.schema import ARMS, BINARY_COVARIATES, SAFETY_OUTCOMES, TUMOR_TYPES
from cit_bayes.config import canonical_hash, read_toml
from cit_bayes.exceptions import PlanError

__all__ = [
    "ADVERSE_EVENTS",
    "ASSIGNMENT_FEATURES",
    "FEATURES",
    "Scenario",
    "design_matrix",
    "linear_predictor",
    "list_scenarios",
    "load_scenario",
    "scenarios_dir",
]

#: Features a scenario's coefficients may name (built from the baseline characteristics).
FEATURES: tuple[str, ...] = (
    "age10",  # (age - 60) / 10
    "bmi5",  # (bmi - 22.5) / 5
    "male",
    "ecog",
    "tumor_gynecological",
    "tumor_lung",
    "tumor_breast",
    "tumor_urinary",
    "tumor_other",
    "stage_III",
    "stage_IV",
    *BINARY_COVARIATES,
)
#: Features the assignment of arms may also name: the baseline count on the log scale, centred at
#: 50 x 10^9/L (``log(plt_day0 / 50)``). Drawn after the covariates and before the arm, it makes
#: baseline PLT a confounder when assignment depends on it (the outcomes always do: the count
#: starts from it, recovery is reaching 100 and response is relative to it).
ASSIGNMENT_FEATURES: tuple[str, ...] = (*FEATURES, "log_baseline")

#: Adverse-event columns a scenario gives rates for.
ADVERSE_EVENTS: tuple[str, ...] = tuple(name for name in SAFETY_OUTCOMES if name.startswith("ae_"))


def scenarios_dir() -> Path:
    """The folder of bundled scenarios (``models/scenarios``).

    Examples
    --------
    >>> (scenarios_dir() / "paper-like.toml").is_file()
    True
    """
    return models_dir() / "scenarios"


def list_scenarios() -> tuple[str, ...]:
    """Names of the bundled scenarios.

    Examples
    --------
    >>> "paper-like" in list_scenarios(), "null" in list_scenarios()
    (True, True)
    """
    return tuple(sorted(path.stem for path in scenarios_dir().glob("*.toml")))


def _is_leaf(table: dict) -> bool:
    return not any(isinstance(value, dict) for value in table.values())


def _merge(base: dict, override: dict) -> dict:
    """``extends``: a table of values only is replaced whole; tables of tables merge by key."""
    merged = dict(base)
    for key, value in override.items():
        if (
            isinstance(value, dict)
            and isinstance(merged.get(key), dict)
            and not (_is_leaf(value) and _is_leaf(merged[key]))
        ):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path, seen: tuple[str, ...] = ()) -> dict:
    """The scenario's tables with those of the scenario it ``extends`` merged in."""
    if not path.is_file():
        known = ", ".join(list_scenarios())
        raise PlanError(f"scenario {path.stem!r} not found; bundled: {known}")
    raw = dict(read_toml(path, "scenario").data)  # the package's one TOML loader
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if parent in seen:
        raise PlanError(f"scenario {path.stem!r}: circular 'extends' ({' -> '.join(seen)})")
    return _merge(_read_toml(path.with_name(f"{parent}.toml"), (*seen, path.stem)), raw)


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: the raw TOML tables (after ``extends``) and their hash.

    Attributes
    ----------
    name, description : str
    spec : dict
        The merged tables ``population``, ``assignment``, ``outcome``, ``safety``.
    sha256 : str
        The package's hash (:func:`cit_bayes.config.canonical_hash`) of the merged tables.

    Examples
    --------
    >>> scenario = load_scenario("null")
    >>> scenario.name, sorted(scenario.spec), len(scenario.sha256)
    ('null', ['assignment', 'outcome', 'population', 'safety'], 64)
    """

    name: str
    description: str
    spec: dict
    sha256: str


def load_scenario(scenario: str | Path) -> Scenario:
    """Load a bundled scenario by name, or a scenario TOML by path.

    Raises
    ------
    PlanError
        Unknown scenario, unreadable file, or a coefficient naming an unknown feature or arm.

    Examples
    --------
    >>> scenario = load_scenario("null")  # extends paper-like
    >>> scenario.spec["outcome"]["arms"]["rhTPO"]["amplitude"]
    98.0
    """
    path = Path(scenario)
    if path.suffix.lower() != ".toml":
        path = scenarios_dir() / f"{scenario}.toml"
    raw = _read_toml(path)
    for section in ("population", "assignment", "outcome", "safety"):
        if not isinstance(raw.get(section), dict):
            raise PlanError(f"scenario {path.stem!r}: missing table [{section}]")
    spec = {key: raw[key] for key in ("population", "assignment", "outcome", "safety")}
    _check_structure(path.stem, spec)
    _check_names(path.stem, spec)
    return Scenario(
        name=str(raw.get("name", path.stem)),
        description=str(raw.get("description", "")).strip(),
        spec=spec,
        sha256=canonical_hash(raw),
    )


#: Keys every scenario must provide (after ``extends``), by table path.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "population": (
        "age",
        "bmi",
        "ecog",
        "tumor_type",
        "male_share_by_tumor_type",
        "stage",
        "metastasis_if_stage_iv",
        "binary",
    ),
    "population.age": ("mean", "sd", "min", "max"),
    "population.bmi": ("mean", "sd", "min", "max"),
    "population.male_share_by_tumor_type": TUMOR_TYPES,
    "assignment": ("intercept",),
    "outcome": (
        "hill",
        "amplitude_sd",
        "amplitude_max",
        "t50_sd",
        "day_noise_sd",
        "baseline",
        "arms",
    ),
    "outcome.baseline": ("logit_mean", "logit_sd"),
    "safety": ("transfusion", "adverse_events"),
    "safety.transfusion": ("if_response", "if_no_response"),
    "safety.adverse_events": ADVERSE_EVENTS,
}


def _numbers_only(name: str, where: str, table: dict) -> None:
    for key, value in table.items():
        if isinstance(value, dict):
            _numbers_only(name, f"{where}.{key}", value)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise PlanError(f"scenario {name!r}: {where}.{key} must be a number, got {value!r}")


def _check_structure(name: str, spec: dict) -> None:
    for where, keys in _REQUIRED.items():
        table: object = spec
        for part in where.split("."):
            table = table.get(part) if isinstance(table, dict) else None
        if not isinstance(table, dict):
            raise PlanError(f"scenario {name!r}: [{where}] must be a table")
        missing = [key for key in keys if key not in table]
        if missing:
            raise PlanError(f"scenario {name!r}: [{where}] lacks {', '.join(missing)}")
    for arm, table in spec["outcome"]["arms"].items():
        if not isinstance(table, dict) or {"amplitude", "t50"} - set(table):
            raise PlanError(f"scenario {name!r}: [outcome.arms] {arm} needs amplitude and t50")
    for section in ("population", "assignment", "outcome", "safety"):
        _numbers_only(name, section, spec[section])
    population, outcome, safety = spec["population"], spec["outcome"], spec["safety"]
    shares = {
        "population.male_share_by_tumor_type": population["male_share_by_tumor_type"],
        "population.metastasis_if_stage_iv": population["metastasis_if_stage_iv"],
        "population.binary": population["binary"],
        "safety.transfusion": safety["transfusion"],
        **{f"safety.adverse_events.{k}": v for k, v in safety["adverse_events"].items()},
    }
    weights = {f"population.{k}": population[k] for k in ("ecog", "tumor_type", "stage")}
    for where, table in {**shares, **weights}.items():
        high = 1.0 if where in shares else float("inf")
        bad = {key: value for key, value in table.items() if not 0.0 <= value <= high}
        if bad:
            raise PlanError(f"scenario {name!r}: [{where}] values must lie in [0, {high:g}]: {bad}")
    positive = {
        f"outcome.arms.{arm}.{key}": t[key] for arm, t in outcome["arms"].items() for key in t
    }
    positive.update({f"population.{k}.sd": population[k]["sd"] for k in ("age", "bmi")})
    positive["outcome.hill"] = outcome["hill"]
    positive["outcome.amplitude_max"] = outcome["amplitude_max"]
    for where, value in positive.items():
        if not value > 0:
            raise PlanError(f"scenario {name!r}: {where} must be positive, got {value!r}")
    for where in ("amplitude_sd", "t50_sd", "day_noise_sd"):
        if outcome[where] < 0:
            raise PlanError(f"scenario {name!r}: outcome.{where} must not be negative")


def _check_names(name: str, spec: dict) -> None:
    def features(table: dict, where: str, known: tuple[str, ...] = FEATURES) -> None:
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise PlanError(
                f"scenario {name!r}, {where}: unknown feature(s) {unknown}; known: {known}"
            )

    def arms(table: dict, where: str, complete: bool = True) -> None:
        unknown = sorted(set(table) - set(ARMS))
        missing = sorted(set(ARMS) - set(table)) if complete else []
        if unknown or missing:
            raise PlanError(
                f"scenario {name!r}, {where}: arms must be {ARMS} (unknown {unknown}, missing {missing})"
            )

    assignment, outcome = spec["assignment"], spec["outcome"]
    arms(assignment.get("intercept", {}), "[assignment] intercept")
    arms(assignment.get("coefficients", {}), "[assignment.coefficients]", complete=False)
    for arm, table in assignment.get("coefficients", {}).items():
        features(table, f"[assignment.coefficients.{arm}]", ASSIGNMENT_FEATURES)
    arms(outcome.get("arms", {}), "[outcome.arms]")
    for key in ("baseline_effects", "amplitude_effects", "t50_effects"):
        features(outcome.get(key, {}), f"[outcome] {key}")
    arms(outcome.get("effect_modifiers", {}), "[outcome.effect_modifiers]", complete=False)
    for arm, table in outcome.get("effect_modifiers", {}).items():
        features(table, f"[outcome.effect_modifiers.{arm}]")
    for event in ADVERSE_EVENTS:
        arms(
            spec["safety"].get("adverse_events", {}).get(event, {}),
            f"[safety.adverse_events] {event}",
        )


def design_matrix(covariates: pd.DataFrame) -> pd.DataFrame:
    """The scenario features (``FEATURES``) of baseline covariates in the cohort schema.

    Examples
    --------
    >>> from cit_bayes.simulate import simulate_cohort
    >>> x = design_matrix(simulate_cohort(5, seed=0).data)
    >>> x.shape, list(x.columns[:3])
    ((5, 16), ['age10', 'bmi5', 'male'])
    """
    x = pd.DataFrame(index=covariates.index)
    x["age10"] = (covariates["age"].astype(float) - 60.0) / 10.0
    x["bmi5"] = (covariates["bmi"].astype(float) - 22.5) / 5.0
    x["male"] = (covariates["sex"] == "M").astype(float)
    x["ecog"] = covariates["ecog"].astype(float)
    for tumor in TUMOR_TYPES[1:]:
        x[f"tumor_{tumor}"] = (covariates["tumor_type"] == tumor).astype(float)
    for stage in ("III", "IV"):
        x[f"stage_{stage}"] = (covariates["stage"] == stage).astype(float)
    for name in BINARY_COVARIATES:
        x[name] = covariates[name].astype(float)
    return x.loc[:, list(FEATURES)]


def linear_predictor(x: pd.DataFrame, coefficients: dict) -> np.ndarray:
    """Sum of ``coefficient x feature`` over a scenario's coefficient table (0 when empty).

    Examples
    --------
    >>> import pandas as pd
    >>> x = pd.DataFrame({"male": [0.0, 1.0], "ecog": [1.0, 2.0]})
    >>> linear_predictor(x, {"male": 0.5, "ecog": -1.0}).tolist()
    [-1.0, -1.5]
    """
    eta = np.zeros(len(x))
    for name, value in coefficients.items():
        eta += float(value) * x[name].to_numpy()
    return eta
