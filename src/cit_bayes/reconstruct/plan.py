"""The reconstruction plan: every assumption of a pseudo-cohort, loaded from ``models/*.toml``.

The plan is data, not code (``models/reconstruction.toml`` is the default and documents every
value with its rationale). :func:`load_reconstruction_plan` reads it strictly, through the
package's one TOML loader (:mod:`cit_bayes.config`): an unknown section or key, a value of the
wrong type or out of range is a :class:`PlanError` naming the file and the key. The plan's hash
(the loader's canonical hash, so comments and key order do not change it) travels with every
cohort made from it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cit_bayes._paths import models_dir
from cit_bayes.cohort.schema import ARMS, TUMOR_TYPES
from cit_bayes.config import build_sections, canonical_hash, read_toml, setting
from cit_bayes.reconstruct.rules import TrajectoryRules
from cit_bayes.reconstruct.targets import Tolerances

__all__ = [
    "COPULA_CHARACTERISTICS",
    "PROGNOSTIC_TERMS",
    "PlanHead",
    "ReconstructionPlan",
    "default_plan_path",
    "load_reconstruction_plan",
    "plan_from_dict",
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


# The sections of the file as the loader reads them (defaults where a key may be left out).
@dataclass(frozen=True)
class PlanHead:
    """The ``[plan]`` table of a reconstruction file: a name and a description.

    Examples
    --------
    >>> PlanHead().name
    'unnamed'
    """

    name: str = "unnamed"
    description: str = ""


@dataclass(frozen=True)
class _Baseline:
    age_range: tuple[int, int] = setting((18, 80), low=0, high=120)
    bmi_range: tuple[float, float] = setting((15.0, 40.0), low=5, high=100)
    match_overall_age_quartiles: bool = True
    metastasis_requires_stage_iv: bool = True
    female_only_tumor_types: tuple[str, ...] = setting((), choices=TUMOR_TYPES)
    loadings: dict[str, float] | None = setting(None, low=-0.95, high=0.95)

    def __post_init__(self):
        for name in ("age_range", "bmi_range"):
            low, high = getattr(self, name)
            if low >= high:
                raise ValueError(f"{name} must be increasing, got {[low, high]}")
        unknown = sorted(set(self.loadings or {}) - set(COPULA_CHARACTERISTICS))
        if unknown:
            raise ValueError(f"loadings: unknown {unknown}; expected {COPULA_CHARACTERISTICS}")


#: ``[prognosis]``: one log-weight per term, each in [-5, 5], absent = 0.
_Prognosis = dataclasses.make_dataclass(
    "_Prognosis",
    [(term, float, setting(0.0, low=-5.0, high=5.0)) for term in PROGNOSTIC_TERMS],
    frozen=True,
)


@dataclass(frozen=True)
class _Outcomes:
    recovered: dict[str, int] = setting(low=0)
    order_noise: float = setting(1.0, low=0.0, high=100.0)

    def __post_init__(self):
        if set(self.recovered) != set(ARMS):
            raise ValueError(f"recovered must name exactly the arms {ARMS}")


@dataclass(frozen=True)
class _Transfusion:
    among: Literal["non_responders"] = "non_responders"  # the paper's criterion
    lowest_count_weight: float = setting(0.0, low=-10.0, high=10.0)


@dataclass(frozen=True)
class _AdverseEvents:
    overlap_order: tuple[str, ...] = setting(
        ("ae_bilirubin", "ae_fatigue", "ae_headache"),
        choices=("ae_bilirubin", "ae_fatigue", "ae_headache"),  # not ae_transaminase
        distinct=True,
    )
    hepatic_metastasis_weight: float = setting(0.0, low=-10.0, high=10.0)


@dataclass(frozen=True)
class _Search:
    max_attempts: int = setting(8, low=1)
    max_moves: int = setting(100_000, low=1)
    distance_weight: float = setting(1.0, low=0.0, high=1e3)


_SECTIONS = {
    "plan": PlanHead,
    "tolerances": Tolerances,
    "baseline": _Baseline,
    "prognosis": _Prognosis,
    "outcomes": _Outcomes,
    "trajectory": TrajectoryRules,
    "transfusion": _Transfusion,
    "adverse_events": _AdverseEvents,
    "search": _Search,
}
_OPTIONAL = ("plan", "prognosis", "transfusion", "adverse_events", "search")


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

    Examples
    --------
    >>> plan = load_reconstruction_plan()
    >>> plan.name, plan.age_range, plan.has_prognostic_effects
    ('default', (18, 80), True)
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

    def assumptions(self) -> dict:
        """The values the published tables leave open and this plan chooses (JSON-safe): the
        prognostic log odds ratios, the copula loadings, the recovered patients per arm, the
        order noise, and how Table 4's ± is read (fixed: a standard error, which Table 6's
        quartiles require; see ``models/reconstruction.toml``).

        Examples
        --------
        >>> load_reconstruction_plan().assumptions()["prognosis"]["stage_iv"]
        -0.5
        """
        return {
            "prognosis": {k: float(v) for k, v in self.prognosis.items()},
            "loadings": {k: float(v) for k, v in self.loadings.items()},
            "recovered": {k: int(v) for k, v in self.recovered.items()},
            "order_noise": float(self.order_noise),
            "plusminus_read_as": "standard error",
        }


def default_plan_path() -> Path:
    """The default plan, ``models/reconstruction.toml``.

    Examples
    --------
    >>> default_plan_path().name
    'reconstruction.toml'
    """
    return models_dir() / "reconstruction.toml"


def plan_from_dict(raw: dict, *, source: str = "<dict>") -> ReconstructionPlan:
    """Build a plan from an already parsed TOML document (see :func:`load_reconstruction_plan`).

    Examples
    --------
    >>> import tomllib
    >>> raw = tomllib.loads(default_plan_path().read_text(encoding="utf-8"))
    >>> plan_from_dict(raw).recovered["combination"] <= 34
    True
    """
    sections = build_sections(raw, source, _SECTIONS, optional=_OPTIONAL)
    head, baseline, outcomes = sections["plan"], sections["baseline"], sections["outcomes"]
    transfusion, events, search = (sections[k] for k in ("transfusion", "adverse_events", "search"))
    return ReconstructionPlan(
        name=head.name,
        description=head.description,
        source=source,
        plan_hash=canonical_hash(raw),
        tolerances=sections["tolerances"],
        age_range=baseline.age_range,
        bmi_range=baseline.bmi_range,
        match_overall_age_quartiles=baseline.match_overall_age_quartiles,
        metastasis_requires_stage_iv=baseline.metastasis_requires_stage_iv,
        female_only_tumor_types=baseline.female_only_tumor_types,
        loadings={n: (baseline.loadings or {}).get(n, 0.0) for n in COPULA_CHARACTERISTICS},
        prognosis=dataclasses.asdict(sections["prognosis"]),
        recovered={arm: outcomes.recovered[arm] for arm in ARMS},
        order_noise=outcomes.order_noise,
        trajectory=sections["trajectory"],
        transfusion_among=transfusion.among,
        lowest_count_weight=transfusion.lowest_count_weight,
        overlap_order=events.overlap_order,
        hepatic_metastasis_weight=events.hepatic_metastasis_weight,
        max_attempts=search.max_attempts,
        max_moves=search.max_moves,
        distance_weight=search.distance_weight,
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

    Examples
    --------
    >>> plan = load_reconstruction_plan()
    >>> plan.source, plan.prognosis["stage_iv"]
    ('reconstruction.toml', -0.5)
    """
    plan_path = Path(path) if path is not None else default_plan_path()
    document = read_toml(plan_path, "reconstruction plan")
    return plan_from_dict(document.data, source=plan_path.name)
