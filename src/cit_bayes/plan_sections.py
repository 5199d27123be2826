"""The sections of an analysis plan's file as the loader reads them, and their checks.

Each section of ``models/default.toml`` (``[plan]``, ``[arms]``, ``[covariates]``,
``[estimands]``, ``[weighting]``, ``[sampler]``, ``[contrasts]``, ``[response]``, ``[plt]``,
``[recovery]``, ``[safety]``, ``[robustness]``) is a frozen dataclass built by the package's one
TOML loader (:mod:`cit_bayes.config`), whose limits are the fields' ``setting(...)``; the keys
that name arms, the planned days and the days of the trajectory and of recovery are checked
across sections here. The published reanalysis's plan
(:mod:`cit_bayes.analyses.published_plan`) reads its sections with the ones they share.
:func:`cit_bayes.plan.load_plan` assembles them into the
:class:`~cit_bayes.plan.AnalysisPlan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cit_bayes.analyses.fragments import ContrastSpec
from cit_bayes.bayes import SamplerSettings
from cit_bayes.bayes.sampling import SAMPLERS
from cit_bayes.cohort.plan_columns import (
    check_arm_labels,
    extra_covariate_specs,
    group_column_specs,
)
from cit_bayes.cohort.schema import (
    ARMS,
    MAX_PLANNED_DAY,
    PLAN_COVARIATES,
    PLT_DAYS,
    SAFETY_OUTCOMES,
    check_planned_days,
)
from cit_bayes.config import setting, where
from cit_bayes.exceptions import ModelError, PlanError

__all__ = [
    "ESTIMANDS",
    "MODELS",
    "ROBUSTNESS_VARIANTS",
    "SECTIONS",
    "WeightingPlan",
    "HeadSection",
    "SamplerSection",
    "ContrastsSection",
    "ResponseSection",
    "check_arm_keys",
    "check_days",
    "contrast_spec",
    "take_planned_days",
]

#: Estimands a plan may name (the weighting layer's, less matching weights).
ESTIMANDS = ("ate", "ato", "att")
#: The four patient-level models, in the order they are fitted.
MODELS = ("response", "plt", "recovery", "safety")
_SHARE = {"low": 0.0, "high": 1.0, "open_low": True, "open_high": True}


@dataclass(frozen=True)
class WeightingPlan:
    """How the weights of the adjusted analyses are made (section ``[weighting]``).

    Examples
    --------
    >>> from cit_bayes.plan import load_plan
    >>> weighting = load_plan().weighting
    >>> weighting.method, weighting.moments, weighting.trim
    ('entropy', 1, 0.0)
    """

    method: Literal["entropy", "propensity"]
    moments: int = setting(choices=(1, 2))
    tolerance: float = setting(low=0.0, open_low=True)
    penalty: float = setting(low=0.0, open_low=True)
    rare_level_min: int = setting(low=1)
    arm_level_min: int = setting(low=0)
    trim: float = setting(low=0.0, high=0.5, open_high=True)
    n_bootstrap: int = setting(low=0)
    balance_threshold: float = setting(low=0.0, open_low=True)


def pairs_of_arms(pairs: tuple[tuple[str, str], ...], name: str) -> None:
    for first, second in pairs:
        if first == second:
            raise ValueError(f"{name}: expected pairs of two different arms, got {first!r} twice")


#: Every key of a plan (section, key) that names arms: each must be one of the plan's arms.
_ARM_KEYS = (
    ("contrasts", "pairs"),
    ("contrasts", "focus_arm"),
    ("response", "noninferiority_pairs"),
    ("recovery", "reference_arm"),
    ("safety", "reference_arm"),
    ("estimands", "att_arm"),
)


def check_arm_keys(sections: dict, arms: tuple[str, ...], source: str) -> None:
    """Raise :class:`PlanError` naming the first key that names an arm outside ``arms``.

    Examples
    --------
    >>> sections = {"contrasts": ContrastsSection(pairs=(("C", "A"),), focus_arm="C")}
    >>> check_arm_keys(sections, ("A", "B", "C"), "plan.toml")  # every arm named is the plan's
    >>> check_arm_keys(sections, ("A", "B"), "plan.toml")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: plan.toml: key contrasts.pairs: arm(s) ['C'] are not among ...
    """
    for section, key in _ARM_KEYS:
        value = getattr(sections.get(section), key, None)
        if value is None:
            continue
        named = [value] if isinstance(value, str) else [arm for pair in value for arm in pair]
        unknown = [arm for arm in dict.fromkeys(named) if arm not in arms]
        if unknown:
            raise PlanError(
                f"{where(source, section, key)}: arm(s) {unknown} are not among the "
                f"plan's arms {list(arms)}"
            )


# The sections of the file as the loader reads them; load_plan assembles the AnalysisPlan.
@dataclass(frozen=True)
class HeadSection:
    """The plan's name, title, seed and credible-interval level (section ``[plan]``).

    Examples
    --------
    >>> from cit_bayes.config import build
    >>> table = {"name": "demo", "title": "A demo plan", "seed": 1, "ci_level": 0.9}
    >>> build(HeadSection, table, "plan.toml", "plan").ci_level
    0.9
    >>> build(HeadSection, table | {"ci_level": 1}, "plan.toml", "plan")  # a level in (0.5, 1)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: plan.toml: key plan.ci_level: 1.0 is outside (0.5, 1)
    """

    name: str
    title: str
    seed: int = setting(low=0)
    ci_level: float = setting(low=0.5, high=1.0, open_low=True, open_high=True)


@dataclass(frozen=True)
class _Covariates:
    names: tuple[str, ...] = setting(non_empty=True, distinct=True)
    group: str = ""

    def __post_init__(self):
        # a name outside the schema's covariates is a numeric column of the cohort; the same
        # rules as the cohort reader's (not an outcome, not a schema column, a plain name)
        extra = [name for name in self.names if name not in PLAN_COVARIATES]
        extra_covariate_specs(extra)
        group_column_specs(self.group)
        if self.group in extra:
            raise ValueError(f"{self.group!r} is both a numeric covariate and the grouping column")


#: The robustness variants a plan may ask for (:mod:`cit_bayes.analyses.robustness`).
ROBUSTNESS_VARIANTS: tuple[str, ...] = (
    "regression only",
    "weights only",
    "pooled arms",
    "proportional hazards",
    "arm-specific slopes",
    "no Kish rescaling",
    "design uncertainty",
)


@dataclass(frozen=True)
class _Robustness:
    variants: tuple[str, ...] = setting(choices=ROBUSTNESS_VARIANTS, distinct=True)
    prior_sets: tuple[str, ...] = setting(distinct=True)
    design_draws: int = setting(20, low=2)


@dataclass(frozen=True)
class _Estimands:
    primary: Literal["ate", "ato", "att"]
    sensitivity: tuple[str, ...] = setting(choices=ESTIMANDS, distinct=True)
    att_arm: str


@dataclass(frozen=True)
class SamplerSection:
    """The sampler's keys (section ``[sampler]``), turned into :class:`SamplerSettings`.

    Examples
    --------
    >>> section = SamplerSection("nutpie", chains=4, draws=2000, tune=1000, target_accept=0.9)
    >>> settings = section.settings("plan.toml")
    >>> settings.draws, settings.max_rhat  # the gates are SamplerSettings' defaults
    (2000, 1.01)
    >>> SamplerSection("nutpie", chains=0, draws=2000, tune=1000, target_accept=0.9).settings(
    ...     "plan.toml"
    ... )  # made in code, so the file's limits were not checked: the settings refuse it
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: plan.toml: table [sampler]: chains must be a positive ...
    """

    sampler: str = setting(choices=SAMPLERS)
    chains: int = setting(low=1)
    draws: int = setting(low=1)
    tune: int = setting(low=1)
    target_accept: float = setting(low=0.5, high=1.0, open_high=True)

    def settings(self, source: str) -> SamplerSettings:
        """The sampler settings these keys give (a refusal names the file's [sampler])."""
        try:
            return SamplerSettings(
                sampler=self.sampler,
                chains=self.chains,
                draws=self.draws,
                tune=self.tune,
                target_accept=self.target_accept,
            )
        except ModelError as error:
            raise PlanError(f"{where(source, 'sampler')}: {error}") from None


@dataclass(frozen=True)
class _Sampler(SamplerSection):
    target_accept_by_model: dict[str, float] = setting(low=0.5, high=1.0, open_high=True)

    def __post_init__(self):
        unknown = sorted(set(self.target_accept_by_model) - set(MODELS))
        if unknown:
            raise ValueError(f"target_accept_by_model: unknown model(s) {unknown}")


@dataclass(frozen=True)
class ContrastsSection:
    """The pairwise contrasts, oriented "A vs B", and the focus arm (section ``[contrasts]``).

    Examples
    --------
    >>> from cit_bayes.config import build
    >>> build(ContrastsSection, {"pairs": [["B", "A"]], "focus_arm": "B"}, "plan.toml", "contrasts")
    ContrastsSection(pairs=(('B', 'A'),), focus_arm='B')
    >>> ContrastsSection(pairs=(("B", "B"),), focus_arm="B")
    Traceback (most recent call last):
    ...
    ValueError: pairs: expected pairs of two different arms, got 'B' twice
    """

    pairs: tuple[tuple[str, str], ...] = setting(non_empty=True)
    focus_arm: str

    def __post_init__(self):
        pairs_of_arms(self.pairs, "pairs")


@dataclass(frozen=True)
class ResponseSection:
    """The response's non-inferiority pairs and margins and the thresholds of its differences
    (section ``[response]``, less the key answers' ``margin``).

    Examples
    --------
    >>> from cit_bayes.config import build
    >>> table = {"noninferiority_pairs": [["B", "A"]], "noninferiority_margins": [0.1],
    ...          "difference_thresholds": [0.0, 0.1]}
    >>> build(ResponseSection, table, "plan.toml", "response").noninferiority_pairs
    (('B', 'A'),)
    >>> build(ResponseSection, table | {"noninferiority_margins": [0.1, 1.0]}, "plan.toml",
    ...       "response")  # a margin is a share of patients, strictly between 0 and 1
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: plan.toml: key response.noninferiority_margins: 1.0 is ...
    """

    noninferiority_pairs: tuple[tuple[str, str], ...] = setting(non_empty=True)
    noninferiority_margins: tuple[float, ...] = setting(non_empty=True, **_SHARE)
    difference_thresholds: tuple[float, ...] = setting(non_empty=True)

    def __post_init__(self):
        pairs_of_arms(self.noninferiority_pairs, "noninferiority_pairs")


@dataclass(frozen=True)
class _Response(ResponseSection):
    margin: float = setting(**_SHARE)


@dataclass(frozen=True)
class _Plt:
    days: tuple[str, ...] = setting(non_empty=True, distinct=True)
    contrast_days: tuple[str, ...] = setting(non_empty=True, distinct=True)


@dataclass(frozen=True)
class _Recovery:
    horizon: int = setting(low=3, high=MAX_PLANNED_DAY)
    faster_by_days: tuple[float, ...] = setting(non_empty=True, low=0.0)
    reference_arm: str


@dataclass(frozen=True)
class _Safety:
    events: tuple[str, ...] = setting(choices=SAFETY_OUTCOMES, non_empty=True, distinct=True)
    reference_arm: str
    harm_threshold: float = setting(low=0.0)


def contrast_spec(
    sections: dict, margins: tuple[float, ...], arms: tuple[str, ...] = ARMS
) -> ContrastSpec:
    """The comparisons a plan asks for, from its sections (shared by both plans' loaders).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> sections = {
    ...     "plan": HeadSection("demo", "A demo plan", seed=1, ci_level=0.9),
    ...     "contrasts": ContrastsSection(pairs=(("C", "A"),), focus_arm="C"),
    ...     "response": ResponseSection((("C", "A"),), (0.1,), (0.0,)),
    ...     "plt": SimpleNamespace(contrast_days=("day14",)),
    ...     "recovery": SimpleNamespace(faster_by_days=(1.0,)),
    ...     "safety": SimpleNamespace(reference_arm="A", harm_threshold=0.05),
    ... }
    >>> spec = contrast_spec(sections, (0.05, 0.1), arms=("A", "B", "C"))
    >>> spec.focus_pairs, spec.ci_level, spec.noninferiority_margins  # the margins are the caller's
    ([('C', 'A'), ('C', 'B')], 0.9, (0.05, 0.1))
    """
    contrasts, response, plt = sections["contrasts"], sections["response"], sections["plt"]
    return ContrastSpec(
        arms=tuple(arms),
        pairs=contrasts.pairs,
        focus_arm=contrasts.focus_arm,
        ci_level=sections["plan"].ci_level,
        noninferiority_pairs=response.noninferiority_pairs,
        noninferiority_margins=margins,
        difference_thresholds=response.difference_thresholds,
        contrast_days=plt.contrast_days,
        faster_by_days=sections["recovery"].faster_by_days,
        safety_reference=sections["safety"].reference_arm,
        harm_threshold=sections["safety"].harm_threshold,
    )


@dataclass(frozen=True)
class _Arms:
    labels: tuple[str, ...] = setting(non_empty=True, distinct=True)

    def __post_init__(self):
        check_arm_labels(self.labels)


#: The sections of a plan's file, by name, and the dataclass each is read as.
SECTIONS = {
    "plan": HeadSection,
    "arms": _Arms,
    "covariates": _Covariates,
    "estimands": _Estimands,
    "weighting": WeightingPlan,
    "sampler": _Sampler,
    "contrasts": ContrastsSection,
    "response": _Response,
    "plt": _Plt,
    "recovery": _Recovery,
    "safety": _Safety,
    "robustness": _Robustness,
}


def take_planned_days(data: dict, source: str) -> tuple[int, ...]:
    """``[plt] planned_days`` taken out of the plan's table (optional; default the study's).

    Examples
    --------
    >>> data = {"plt": {"days": ["day5", "day21"], "planned_days": [0, 5, 10, 21]}}
    >>> take_planned_days(data, "plan.toml"), data["plt"]  # taken out of [plt]
    ((0, 5, 10, 21), {'days': ['day5', 'day21']})
    >>> take_planned_days({"plt": {"days": ["day7"]}}, "plan.toml")  # absent: the study's days
    (0, 3, 7, 14)
    >>> take_planned_days({"plt": {"planned_days": [0, 7, 3]}}, "plan.toml")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: plan.toml: key plt.planned_days: planned days must start ...
    """
    table = data.get("plt")
    if not isinstance(table, dict) or "planned_days" not in table:
        return PLT_DAYS
    table = dict(table)
    value = table.pop("planned_days")
    data["plt"] = table
    try:
        return check_planned_days(value if isinstance(value, list) else [value])
    except ValueError as error:
        raise PlanError(f"{where(source, 'plt', 'planned_days')}: {error}") from None


def check_days(plt, recovery, planned: tuple[int, ...], source: str) -> None:
    """The trajectory's days are planned days after the baseline, the horizon at most the last.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> plt = SimpleNamespace(days=("day3", "day7", "day14"), contrast_days=("day14",))
    >>> check_days(plt, SimpleNamespace(horizon=14), (0, 3, 7, 14), "plan.toml")  # consistent
    >>> check_days(plt, SimpleNamespace(horizon=21), (0, 3, 7, 14), "plan.toml")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: plan.toml: key recovery.horizon: 21 is after the last ...
    """
    labels = [f"day{day}" for day in planned[1:]]
    for key in ("days", "contrast_days"):
        unknown = [day for day in getattr(plt, key) if day not in labels]
        if unknown:
            raise PlanError(
                f"{where(source, 'plt', key)}: {unknown} not among the planned days after "
                f"the baseline {labels} ([plt] planned_days)"
            )
    if not set(plt.contrast_days) <= set(plt.days):
        raise PlanError(
            f"{where(source, 'plt', 'contrast_days')}: {plt.contrast_days} not all among {plt.days}"
        )
    if recovery.horizon > planned[-1]:
        raise PlanError(
            f"{where(source, 'recovery', 'horizon')}: {recovery.horizon} is after the last planned "
            f"day {planned[-1]} ([plt] planned_days)"
        )
