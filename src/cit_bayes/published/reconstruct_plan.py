"""The reconstruction plan: every assumption of a pseudo-cohort, loaded from ``models/*.toml``.

The plan is data, not code (``models/reconstruction.toml`` is the default and documents every
value with its rationale). :func:`load_reconstruction_plan` reads it strictly: an unknown
section or key, a value of the wrong type or out of range is a :class:`PlanError` naming the
file and the key. The plan's hash (SHA-256 of its canonical JSON form, so comments and key order
do not change it) travels with every cohort made from it.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cit_bayes._paths import models_dir
from cit_bayes.cohort.schema import ARMS, TUMOR_TYPES
from cit_bayes.exceptions import PlanError
from cit_bayes.published.reconstruct_rules import TrajectoryRules
from cit_bayes.published.reconstruct_targets import Tolerances

__all__ = [
    "COPULA_CHARACTERISTICS",
    "PROGNOSTIC_TERMS",
    "ReconstructionPlan",
    "default_plan_path",
    "load_reconstruction_plan",
]

#: Characteristics that take part in the one-factor copula.
COPULA_CHARACTERISTICS: tuple[str, ...] = (
    "age",
    "bmi",
    "ecog",
    "stage",
    "hepatic_metastasis",
    "bone_metastasis",
    "chemo_cycles_over5",
    "radiotherapy",
    "targeted_therapy",
)

#: Terms the prognostic score may use.
PROGNOSTIC_TERMS: tuple[str, ...] = (
    "stage_iv",
    "bone_metastasis",
    "hepatic_metastasis",
    "ecog_2_or_more",
    "chemo_cycles_over5",
    "radiotherapy",
    "targeted_therapy",
    "female",
    "age_per_10_years",
)

_ADVERSE_EVENT_COLUMNS = ("ae_transaminase", "ae_bilirubin", "ae_fatigue", "ae_headache")

_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "plan": {"name": str, "description": str},
    "tolerances": {
        "age_bmi_mean": float,
        "age_bmi_sd": float,
        "plt_mean_relative": float,
        "plt_sd_relative": float,
        "delta_quartile": float,
        "recovery_mean": float,
        "recovery_sd": float,
        "aim_fraction": float,
    },
    "baseline": {
        "age_range": list,
        "bmi_range": list,
        "match_overall_age_quartiles": bool,
        "metastasis_requires_stage_iv": bool,
        "female_only_tumor_types": list,
        "loadings": dict,
    },
    "prognosis": dict.fromkeys(PROGNOSTIC_TERMS, float),
    "outcomes": {"recovered": dict, "order_noise": float},
    "trajectory": {
        "min_baseline": int,
        "max_baseline": int,
        "min_count": int,
        "max_count": int,
        "max_daily_rise": float,
        "max_daily_fall": float,
        "earliest_recovery_day": int,
        "sustained_recovery": bool,
        "interpolation_slack_days": int,
    },
    "transfusion": {"among": str, "lowest_count_weight": float},
    "adverse_events": {"overlap_order": list, "hepatic_metastasis_weight": float},
    "search": {"max_attempts": int, "max_moves": int, "distance_weight": float},
}
_REQUIRED_SECTIONS = ("tolerances", "baseline", "outcomes", "trajectory")


@dataclass(frozen=True)
class ReconstructionPlan:
    """A parsed reconstruction plan (see ``models/reconstruction.toml`` for every field).

    Attributes
    ----------
    name, description : str
    source : str
        File name the plan was read from.
    plan_hash : str
        SHA-256 (hex) of the plan's canonical JSON form.
    tolerances : Tolerances
    age_range : tuple of int
    bmi_range : tuple of float
    match_overall_age_quartiles, metastasis_requires_stage_iv : bool
    female_only_tumor_types : tuple of str
    loadings : dict of str to float
        Copula loadings, one per name in ``COPULA_CHARACTERISTICS`` (missing = 0).
    prognosis : dict of str to float
        Log-weights of the prognostic score, one per name in ``PROGNOSTIC_TERMS`` (missing = 0).
    recovered : dict of str to int
        Patients per arm who reach >= 100 by day 14.
    order_noise : float
    trajectory : TrajectoryRules
    transfusion_among : str
    lowest_count_weight : float
    overlap_order : tuple of str
    hepatic_metastasis_weight : float
    max_attempts, max_moves : int
    distance_weight : float
    """

    name: str
    description: str
    source: str
    plan_hash: str
    tolerances: Tolerances
    age_range: tuple[int, int]
    bmi_range: tuple[float, float]
    match_overall_age_quartiles: bool
    metastasis_requires_stage_iv: bool
    female_only_tumor_types: tuple[str, ...]
    loadings: dict[str, float]
    prognosis: dict[str, float]
    recovered: dict[str, int]
    order_noise: float
    trajectory: TrajectoryRules
    transfusion_among: str
    lowest_count_weight: float
    overlap_order: tuple[str, ...]
    hepatic_metastasis_weight: float
    max_attempts: int
    max_moves: int
    distance_weight: float

    @property
    def has_prognostic_effects(self) -> bool:
        """Whether any prognostic log-weight is non-zero."""
        return any(value != 0.0 for value in self.prognosis.values())


def default_plan_path() -> Path:
    """The default plan, ``models/reconstruction.toml``."""
    return models_dir() / "reconstruction.toml"


def _check_types(raw: dict, where: str) -> None:
    unknown_sections = sorted(set(raw) - set(_SCHEMA))
    if unknown_sections:
        raise PlanError(
            f"{where}: unknown section(s) {unknown_sections}; expected {sorted(_SCHEMA)}"
        )
    for section in _REQUIRED_SECTIONS:
        if section not in raw:
            raise PlanError(f"{where}: missing section [{section}]")
    for section, keys in _SCHEMA.items():
        values = raw.get(section, {})
        if not isinstance(values, dict):
            raise PlanError(f"{where}: [{section}] must be a table")
        unknown = sorted(set(values) - set(keys))
        if unknown:
            raise PlanError(
                f"{where}: [{section}] has unknown key(s) {unknown}; expected {sorted(keys)}"
            )
        for key, kind in keys.items():
            if key not in values:
                continue
            value = values[key]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                continue
            if kind is int and isinstance(value, bool):
                raise PlanError(f"{where}: [{section}] {key} must be an integer, got {value!r}")
            if not isinstance(value, kind):
                raise PlanError(
                    f"{where}: [{section}] {key} must be {kind.__name__}, got {value!r}"
                )


def _number(value, where: str, key: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlanError(f"{where}: {key} must be a number, got {value!r}")
    if not low <= value <= high:
        raise PlanError(f"{where}: {key} = {value} is outside [{low}, {high}]")
    return float(value)


def _pair(value, where: str, key: str, low: float, high: float) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise PlanError(f"{where}: {key} must be a list of two numbers")
    first = _number(value[0], where, key, low, high)
    second = _number(value[1], where, key, low, high)
    if first >= second:
        raise PlanError(f"{where}: {key} must be increasing, got {value}")
    return first, second


def plan_from_dict(raw: dict, *, source: str = "<dict>") -> ReconstructionPlan:
    """Build a plan from an already parsed TOML document (see :func:`load_reconstruction_plan`)."""
    where = source
    _check_types(raw, where)
    section = {name: raw.get(name, {}) for name in _SCHEMA}
    tol_values = {
        key: _number(value, where, f"[tolerances] {key}", 0.0, 1e6)
        for key, value in section["tolerances"].items()
    }
    tolerances = Tolerances(**tol_values)
    if not 0.0 < tolerances.aim_fraction <= 1.0:
        raise PlanError(f"{where}: [tolerances] aim_fraction must be in (0, 1]")
    base = section["baseline"]
    age_low, age_high = _pair(
        base.get("age_range", [18, 80]), where, "[baseline] age_range", 0, 120
    )
    if age_low != int(age_low) or age_high != int(age_high):
        raise PlanError(f"{where}: [baseline] age_range must be whole years")
    bmi_range = _pair(base.get("bmi_range", [15.0, 40.0]), where, "[baseline] bmi_range", 5, 100)
    female_only = tuple(base.get("female_only_tumor_types", []))
    bad = sorted(set(female_only) - set(TUMOR_TYPES))
    if bad:
        raise PlanError(
            f"{where}: [baseline] female_only_tumor_types: unknown {bad}; expected {TUMOR_TYPES}"
        )
    loadings_raw = base.get("loadings", {})
    unknown = sorted(set(loadings_raw) - set(COPULA_CHARACTERISTICS))
    if unknown:
        raise PlanError(
            f"{where}: [baseline.loadings] unknown {unknown}; expected {COPULA_CHARACTERISTICS}"
        )
    loadings = {
        name: _number(
            loadings_raw.get(name, 0.0), where, f"[baseline.loadings] {name}", -0.95, 0.95
        )
        for name in COPULA_CHARACTERISTICS
    }
    prognosis = {
        name: _number(section["prognosis"].get(name, 0.0), where, f"[prognosis] {name}", -5, 5)
        for name in PROGNOSTIC_TERMS
    }
    outcomes = section["outcomes"]
    recovered_raw = outcomes.get("recovered")
    if recovered_raw is None:
        raise PlanError(
            f"{where}: [outcomes] recovered is required (patients per arm reaching 100)"
        )
    if set(recovered_raw) != set(ARMS):
        raise PlanError(f"{where}: [outcomes] recovered must name exactly the arms {ARMS}")
    recovered = {}
    for arm in ARMS:
        value = recovered_raw[arm]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PlanError(f"{where}: [outcomes] recovered.{arm} must be a whole number >= 0")
        recovered[arm] = value
    traj_raw = section["trajectory"]
    try:
        trajectory = TrajectoryRules(**traj_raw)
    except TypeError as error:  # pragma: no cover - keys are checked above
        raise PlanError(f"{where}: [trajectory] {error}") from error
    if not 1 <= trajectory.min_baseline <= trajectory.max_baseline <= 99:
        raise PlanError(f"{where}: [trajectory] baselines must satisfy 1 <= min <= max <= 99 (CIT)")
    if not 1 <= trajectory.min_count < 100 < trajectory.max_count <= 2000:
        raise PlanError(f"{where}: [trajectory] counts must satisfy 1 <= min < 100 < max <= 2000")
    if not 1.0 < trajectory.max_daily_rise <= 3.0 or not 0.0 < trajectory.max_daily_fall < 1.0:
        raise PlanError(
            f"{where}: [trajectory] need 1 < max_daily_rise <= 3 and 0 < max_daily_fall < 1"
        )
    if (
        not 1 <= trajectory.earliest_recovery_day <= 14
        or not 0 <= trajectory.interpolation_slack_days <= 14
    ):
        raise PlanError(f"{where}: [trajectory] recovery day rules out of range")
    transfusion = section["transfusion"]
    among = transfusion.get("among", "non_responders")
    if among != "non_responders":
        raise PlanError(
            f"{where}: [transfusion] among must be 'non_responders' (the paper's criterion)"
        )
    events = section["adverse_events"]
    overlap = tuple(events.get("overlap_order", ["ae_bilirubin", "ae_fatigue", "ae_headache"]))
    bad = sorted(set(overlap) - set(_ADVERSE_EVENT_COLUMNS))
    if bad or len(set(overlap)) != len(overlap) or "ae_transaminase" in overlap:
        raise PlanError(
            f"{where}: [adverse_events] overlap_order must list distinct events other than "
            f"ae_transaminase, from {_ADVERSE_EVENT_COLUMNS}"
        )
    search = section["search"]
    max_attempts = int(search.get("max_attempts", 8))
    max_moves = int(search.get("max_moves", 100_000))
    if max_attempts < 1 or max_moves < 1:
        raise PlanError(f"{where}: [search] max_attempts and max_moves must be >= 1")
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return ReconstructionPlan(
        name=str(section["plan"].get("name", "unnamed")),
        description=str(section["plan"].get("description", "")),
        source=source,
        plan_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        tolerances=tolerances,
        age_range=(int(age_low), int(age_high)),
        bmi_range=bmi_range,
        match_overall_age_quartiles=bool(base.get("match_overall_age_quartiles", True)),
        metastasis_requires_stage_iv=bool(base.get("metastasis_requires_stage_iv", True)),
        female_only_tumor_types=female_only,
        loadings=loadings,
        prognosis=prognosis,
        recovered=recovered,
        order_noise=_number(
            outcomes.get("order_noise", 1.0), where, "[outcomes] order_noise", 0, 100
        ),
        trajectory=trajectory,
        transfusion_among=among,
        lowest_count_weight=_number(
            transfusion.get("lowest_count_weight", 0.0),
            where,
            "[transfusion] lowest_count_weight",
            -10,
            10,
        ),
        overlap_order=overlap,
        hepatic_metastasis_weight=_number(
            events.get("hepatic_metastasis_weight", 0.0),
            where,
            "[adverse_events] hepatic_metastasis_weight",
            -10,
            10,
        ),
        max_attempts=max_attempts,
        max_moves=max_moves,
        distance_weight=_number(
            search.get("distance_weight", 1.0), where, "[search] distance_weight", 0, 1e3
        ),
    )


def load_reconstruction_plan(path: str | Path | None = None) -> ReconstructionPlan:
    """Read a reconstruction plan from TOML.

    Parameters
    ----------
    path : str or Path, optional
        The plan file; ``models/reconstruction.toml`` when omitted.

    Returns
    -------
    ReconstructionPlan

    Raises
    ------
    PlanError
        If the file is missing, is not valid TOML, or has an unknown, mistyped or out-of-range
        entry (the message names the file and the key).
    """
    plan_path = Path(path) if path is not None else default_plan_path()
    if not plan_path.is_file():
        raise PlanError(f"reconstruction plan not found: {plan_path}")
    try:
        raw = tomllib.loads(plan_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PlanError(f"{plan_path.name}: not a valid TOML file ({error})") from error
    return plan_from_dict(raw, source=plan_path.name)
