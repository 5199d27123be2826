"""The analysis plan of the patient-level reanalysis: ``models/default.toml``, checked.

The plan declares, as data, everything ``cit-bayes fit`` and ``cit-bayes run`` decide: the
covariates, the primary and sensitivity estimands, how the weights are made, the sampler (with
per-model overrides), the comparisons (pairs, non-inferiority margins, thresholds), the platelet
days, the recovery horizon, the safety events and the priors of the four models. Every key is
required; the file is read by the package's one TOML loader (:mod:`cit_bayes.config`), and
:class:`~cit_bayes.exceptions.PlanError` names the file and the key of anything missing or
malformed. :attr:`AnalysisPlan.sha256` (the loader's canonical hash of the file's content) is the
plan hash carried by every result for provenance.

Analyses
--------
:meth:`AnalysisPlan.analyses` lists what is fitted, in order: ``"unadjusted"`` (no weights, no
covariates), ``"adjusted"`` (the primary estimand: weights and covariates) and one
``"adjusted (ATO)"``-style analysis per sensitivity estimand.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

import numpy as np

from cit_bayes._paths import models_dir
from cit_bayes.analyses.fragments import ContrastSpec
from cit_bayes.analyses.prior_sets import load_patient_prior_set
from cit_bayes.bayes import SamplerSettings
from cit_bayes.bayes.recovery import RecoveryPrior
from cit_bayes.bayes.response import ResponsePrior
from cit_bayes.bayes.safety import SafetyPrior
from cit_bayes.bayes.sampling import SAMPLERS
from cit_bayes.bayes.trajectory import TrajectoryPrior
from cit_bayes.cohort.impute import MAX_IMPUTATIONS
from cit_bayes.cohort.labs import MAX_LAB_WINDOW, check_window
from cit_bayes.cohort.schema import (
    ARMS,
    MAX_PLANNED_DAY,
    PLAN_COVARIATES,
    PLT_DAYS,
    SAFETY_OUTCOMES,
    check_planned_days,
)
from cit_bayes.cohort.validate import (
    check_arm_labels,
    extra_covariate_specs,
    group_column_specs,
)
from cit_bayes.config import build, build_sections, read_toml, setting, where
from cit_bayes.confounding.bias import ConfoundingPrior
from cit_bayes.exceptions import CohortError, ModelError, PlanError
from cit_bayes.target_trial import TargetTrial, load_target_trial

__all__ = [
    "AnalysisPlan",
    "Analysis",
    "WeightingPlan",
    "ESTIMANDS",
    "MODELS",
    "load_plan",
    "prior_class",
]

#: Estimands a plan may name (the weighting layer's, less matching weights).
ESTIMANDS = ("ate", "ato", "att")
#: The four patient-level models, in the order they are fitted.
MODELS = ("response", "plt", "recovery", "safety")
METHODS = ("entropy", "propensity")
#: Prior fields a plan may leave out (every other one is written out): structures of the
#: sensitivity analyses, off unless set (``arm_sd_fixed``: a sceptical prior set fixes the SD
#: of pooled arms; ``arm_slopes`` and its ``slope_deviation_sd``: the robustness variant
#: "arm-specific slopes"), so that a plan written before they existed reads as it did, with
#: the same content hash.
OPTIONAL_PRIORS: frozenset[str] = frozenset({"arm_sd_fixed", "arm_slopes", "slope_deviation_sd"})

_PRIOR_CLASSES = {
    "response": ResponsePrior,
    "plt": TrajectoryPrior,
    "recovery": RecoveryPrior,
    "safety": SafetyPrior,
}
_SHARE = {"low": 0.0, "high": 1.0, "open_low": True, "open_high": True}


@dataclass(frozen=True)
class Analysis:
    """One analysis of the plan: its name and estimand (``None`` = unadjusted).

    Examples
    --------
    >>> Analysis("adjusted (ATO)", "ato").adjusted, Analysis("unadjusted", None).adjusted
    (True, False)
    """

    name: str
    estimand: str | None

    @property
    def adjusted(self) -> bool:
        """Whether the analysis uses weights and covariates."""
        return self.estimand is not None


@dataclass(frozen=True)
class WeightingPlan:
    """How the weights of the adjusted analyses are made (section ``[weighting]``).

    Examples
    --------
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
    """Raise :class:`PlanError` naming the first key that names an arm outside ``arms``."""
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


#: Fewest patients a group of the plan's grouping column may have
#: (:meth:`AnalysisPlan.cohort_groups`).
MIN_GROUP_SIZE = 5

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


def _prior_sets(names: tuple[str, ...], source: str) -> dict:
    """The plan's patient-level prior sets, read and checked before any fit."""
    try:
        return {name: load_patient_prior_set(name) for name in names}
    except PlanError as error:
        raise PlanError(f"{where(source, 'robustness.prior_sets')}: {error}") from None


def prior_class(model: str) -> type:
    """The prior dataclass of a patient-level model.

    Examples
    --------
    >>> prior_class("recovery").__name__
    'RecoveryPrior'
    """
    if model not in _PRIOR_CLASSES:
        raise PlanError(f"unknown model {model!r}; known: {list(_PRIOR_CLASSES)}")
    return _PRIOR_CLASSES[model]


@dataclass(frozen=True)
class _Estimands:
    primary: Literal["ate", "ato", "att"]
    sensitivity: tuple[str, ...] = setting(choices=ESTIMANDS, distinct=True)
    att_arm: str


@dataclass(frozen=True)
class SamplerSection:
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
    pairs: tuple[tuple[str, str], ...] = setting(non_empty=True)
    focus_arm: str

    def __post_init__(self):
        pairs_of_arms(self.pairs, "pairs")


@dataclass(frozen=True)
class ResponseSection:
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
    """The comparisons a plan asks for, from its sections (shared by both plans' loaders)."""
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
class _Labs:
    window: int = setting(1, low=0, high=MAX_LAB_WINDOW)


@dataclass(frozen=True)
class ImputationPlan:
    """How missing baseline covariates are imputed under ``--missing impute`` (section
    ``[imputation]``, optional; :mod:`cit_bayes.cohort.impute`).

    Examples
    --------
    >>> ImputationPlan()
    ImputationPlan(m=5, iterations=10)
    """

    m: int = setting(5, low=1, high=MAX_IMPUTATIONS)
    iterations: int = setting(10, low=1, high=100)


@dataclass(frozen=True)
class _Arms:
    labels: tuple[str, ...] = setting(non_empty=True, distinct=True)

    def __post_init__(self):
        check_arm_labels(self.labels)


_SECTIONS = {
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


@dataclass(frozen=True)
class AnalysisPlan:
    """The checked analysis plan (``models/default.toml``).

    Attributes
    ----------
    path, sha256 : str
        The file and the SHA-256 of its bytes (the plan hash).
    name, title : str
    seed : int
        Default master seed (``--seed`` overrides it).
    arms : tuple of str
        The arms (``[arms] labels``: any labels, two or more, in the order results list
        them); a cohort must hold exactly these (:meth:`cohort_covariates` checks).
    covariates : tuple of str
        Schema covariates (:data:`~cit_bayes.cohort.schema.PLAN_COVARIATES`) and any numeric
        column of the cohort beyond the schema (:attr:`extra_covariates`).
    primary_estimand : str
    sensitivity_estimands : tuple of str
    att_arm : str
    weighting : WeightingPlan
    sampler : SamplerSettings
        Common settings; :meth:`sampler_for` applies the per-model target_accept.
    target_accept_by_model : dict
    spec : ContrastSpec
        Pairs, focus arm, margins, thresholds, contrast days, safety reference.
    margin : float
        The non-inferiority margin of the key answers.
    days : tuple of str
        Follow-up platelet days of the trajectory model (``day3``, ``day7``, ``day14``).
    horizon : int
        Recovery follow-up (days).
    recovery_reference : str
    safety_events : tuple of str
    priors : dict
        Model name -> prior dataclass instance.
    robustness : tuple of str
        The robustness variants fitted beside the analyses (section ``[robustness]``;
        :data:`ROBUSTNESS_VARIANTS`).
    design_draws : int
        Number B of design draws of the "design uncertainty" variant (``[robustness]
        design_draws``; :mod:`cit_bayes.analyses.design_uncertainty`): B refits of each model.
    prior_sets : tuple of str
        Patient-level prior sets fitted beside them (``[robustness] prior_sets``; bundled in
        ``models/priors/patient``; :mod:`cit_bayes.analyses.prior_sets`): the prior
        sensitivity of the key answers on the cohort analysed.
    prior_set_values : dict
        Name -> :class:`~cit_bayes.analyses.prior_sets.PatientPriorSet`, each read and checked
        once, when the plan is read.
    group : str
        The cohort column whose values (tumour type, centre) get a random intercept in every
        outcome model of the adjusted analyses (``[covariates] group``), or "" for none. When
        it is also a covariate, the weights balance it and the outcome models carry it by the
        random intercept instead of fixed indicators (:attr:`outcome_covariates`).
    lab_window : int
        Days either side of a planned day within which a long-format laboratory file's count
        is taken for that day (``[labs] window``, optional, default 1;
        :mod:`cit_bayes.cohort.labs`).
    imputation : ImputationPlan
        Imputations and passes of the chained equations under ``--missing impute``
        (``[imputation] m`` and ``iterations``, optional, default 5 and 10).
    planned_days : tuple of int
        The days of the platelet counts a cohort holds (``[plt] planned_days``, optional,
        default 0, 3, 7, 14): columns ``plt_day<d>``, recovery from day 1 to the last; ``days``
        and ``contrast_days`` name some of them after the baseline, and the recovery horizon
        is at most the last.
    confounding : ConfoundingPrior
        Priors of the latent unmeasured confounder U of the bias analysis
        (``[unmeasured_confounding]``, optional; :mod:`cit_bayes.confounding.bias`).
    target_trial : TargetTrial
        The target trial the analysis emulates, in the authors' words, for the supplement's
        TARGET table: the plan's sidecar ``<plan>.target-trial.toml`` when there is one
        (:func:`cit_bayes.target_trial.load_target_trial`), else nothing stated.

    Examples
    --------
    >>> plan = load_plan()
    >>> [analysis.estimand for analysis in plan.with_primary("ato").analyses()]
    [None, 'ato']
    >>> plan.sampler_for("plt").target_accept, sorted(plan.priors)
    (0.95, ['plt', 'recovery', 'response', 'safety'])
    """

    path: str
    sha256: str
    name: str
    title: str
    seed: int
    covariates: tuple[str, ...]
    primary_estimand: str
    sensitivity_estimands: tuple[str, ...]
    att_arm: str
    weighting: WeightingPlan
    sampler: SamplerSettings
    target_accept_by_model: dict = field(default_factory=dict)
    spec: ContrastSpec | None = None
    margin: float = 0.10
    days: tuple[str, ...] = ()
    horizon: int = 14
    recovery_reference: str = "rhTPO"
    safety_events: tuple[str, ...] = ()
    priors: dict = field(default_factory=dict)
    robustness: tuple[str, ...] = ()
    design_draws: int = 20
    prior_sets: tuple[str, ...] = ()
    prior_set_values: dict = field(default_factory=dict)
    group: str = ""
    arms: tuple[str, ...] = ARMS
    lab_window: int = 1
    imputation: ImputationPlan = field(default_factory=ImputationPlan)
    planned_days: tuple[int, ...] = PLT_DAYS
    confounding: ConfoundingPrior = field(default_factory=ConfoundingPrior)
    target_trial: TargetTrial = field(default_factory=TargetTrial)

    @property
    def outcome_covariates(self) -> tuple[str, ...]:
        """The covariates of the outcome models' design: all but the grouping column.

        Examples
        --------
        >>> plan = replace(load_plan(), group="tumor_type")
        >>> "tumor_type" in plan.covariates, "tumor_type" in plan.outcome_covariates
        (True, False)
        """
        return tuple(name for name in self.covariates if name != self.group)

    def cohort_columns(self) -> dict:
        """What a cohort must be read with for this plan (``read_cohort(path, **...)``): the
        numeric covariates and the grouping column beyond the schema.

        Examples
        --------
        >>> sorted(load_plan().cohort_columns())
        ['arms', 'covariates', 'days', 'group', 'lab_window', 'used_covariates']
        """
        return {
            "days": self.planned_days,
            "lab_window": self.lab_window,
            "covariates": self.extra_covariates,
            "group": self.group or None,
            "arms": self.arms,
            "used_covariates": tuple(
                dict.fromkeys((*self.covariates, *((self.group,) if self.group else ())))
            ),
        }

    def cohort_groups(self, cohort) -> tuple[tuple[str, ...], np.ndarray] | None:
        """The grouping's labels (most patients first, then by label) and each patient's
        position among them, in the cohort's row order; None without a grouping.

        Raises
        ------
        PlanError
            The cohort lacks the column (or was read without it), all its patients are in one
            group, or a group has fewer than :data:`MIN_GROUP_SIZE` patients (an identifier
            column would give one group per patient, and the labels are saved with the
            posteriors).

        Examples
        --------
        >>> from cit_bayes.cohort import validate_cohort
        >>> from cit_bayes.simulate import simulate_cohort
        >>> cohort = validate_cohort(simulate_cohort(80, seed=2).data)
        >>> labels, codes = replace(load_plan(), group="stage").cohort_groups(cohort)
        >>> labels, codes.shape
        (('IV', 'III', 'I', 'II'), (80,))
        >>> small = validate_cohort(simulate_cohort(80, seed=1).data)  # stage I: 3 patients
        >>> replace(load_plan(), group="stage").cohort_groups(small)
        Traceback (most recent call last):
        ...
        cit_bayes.exceptions.PlanError: 1 of the 4 groups of 'stage' have fewer than 5 patients: ...
        """
        if not self.group:
            return None
        if self.group not in cohort.data.columns:
            raise PlanError(
                f"the plan groups patients by {self.group!r}, a column the cohort does not "
                "hold: read the cohort with **plan.cohort_columns() (the command line does)"
            )
        if self.group in getattr(cohort, "unused_covariates", ()):
            raise PlanError(
                f"the cohort was read without {self.group!r}: read it with "
                "**plan.cohort_columns() (the command line does)"
            )
        values = cohort.data[self.group].astype(str).reset_index(drop=True)
        counts = values.value_counts()
        labels = tuple(sorted(counts.index, key=lambda label: (-counts[label], label)))
        if len(labels) < 2:
            raise PlanError(
                f"every patient is in one group of {self.group!r}: a grouping needs two or more"
            )
        small = int((counts < MIN_GROUP_SIZE).sum())
        if small:  # an identifier column, or groups whose effects would show single patients
            raise PlanError(
                f"{small} of the {len(labels)} groups of {self.group!r} have fewer than "
                f"{MIN_GROUP_SIZE} patients: a grouping column groups patients (a centre, a "
                "tumour type), and its labels are saved with the posteriors; merge small groups"
            )
        codes = values.map({label: j for j, label in enumerate(labels)}).to_numpy("int64")
        return labels, codes

    @property
    def extra_covariates(self) -> tuple[str, ...]:
        """The covariates that are numeric cohort columns beyond the schema (read by name).

        Examples
        --------
        >>> load_plan().extra_covariates
        ()
        """
        return tuple(name for name in self.covariates if name not in PLAN_COVARIATES)

    def cohort_covariates(self, cohort):
        """The cohort's covariate table (``Cohort.covariates()``, index reset), checked to hold
        every covariate the plan names and exactly the plan's arms (:meth:`check_arms`).

        Raises
        ------
        PlanError
            A covariate beyond the schema that the cohort was not read with (read it with
            ``read_cohort(..., **plan.cohort_columns())``), arms that differ, or counts on
            other days than the plan's ``planned_days``.

        Examples
        --------
        >>> from cit_bayes.cohort import validate_cohort
        >>> from cit_bayes.simulate import simulate_cohort
        >>> cohort = validate_cohort(simulate_cohort(40, seed=1).data)
        >>> load_plan().cohort_covariates(cohort).shape
        (40, 12)
        """
        self.check_arms(cohort)
        days = tuple(getattr(cohort, "days", PLT_DAYS))
        if days != self.planned_days:
            raise PlanError(
                f"the cohort's counts are on days {days}, the plan's on {self.planned_days}: read "
                "the cohort with days=plan.planned_days (read_cohort(..., "
                "**plan.cohort_columns()), as the command line does)"
            )
        table = cohort.covariates().reset_index(drop=True)
        absent = [name for name in self.covariates if name not in table.columns]
        if absent:
            raise PlanError(
                f"the plan names covariate(s) {absent} that the cohort does not hold: read the "
                "cohort with covariates=plan.extra_covariates (the command line does)"
            )
        return table

    def check_arms(self, cohort) -> None:
        """Raise :class:`PlanError` unless the cohort's arms are the plan's, in its order.

        An arm of the plan without patients (absent from the file, or emptied by
        ``missing="drop"``) is named with the rows dropped from it: the plan's questions about
        it cannot be answered, and the run stops before any fit.

        Examples
        --------
        >>> from cit_bayes.cohort import validate_cohort
        >>> from cit_bayes.simulate import simulate_cohort
        >>> data = simulate_cohort(60, seed=1).data
        >>> load_plan().check_arms(validate_cohort(data[data["arm"] != "rhIL-11"]))
        Traceback (most recent call last):
        ...
        cit_bayes.exceptions.PlanError: the plan's arm(s) ['rhIL-11'] have no patient in the ...
        """
        arms = tuple(cohort.arms)
        if arms == self.arms:
            return
        absent = [arm for arm in self.arms if arm not in arms]
        unknown = [arm for arm in arms if arm not in self.arms]
        problems = []
        if unknown:
            problems.append(
                f"the cohort holds arm(s) {unknown} that the plan does not name (read the "
                "cohort with arms=plan.arms, as the command line does, or add them to [arms])"
            )
        if absent:
            dropped = cohort.n_dropped_by_arm()
            counts = ", ".join(f"{arm}: {int(dropped.get(arm, 0))}" for arm in absent)
            problems.append(
                f"the plan's arm(s) {absent} have no patient in the cohort (rows dropped for "
                f"missing values: {counts}); name the cohort's arms in the plan's [arms] labels "
                "and the comparisons that involve them"
            )
        if problems:
            raise PlanError("; ".join(problems))
        raise PlanError(f"the cohort's arms {list(arms)} are not in the plan's order {self.arms}")

    def analyses(self) -> tuple[Analysis, ...]:
        """Unadjusted, the primary adjusted analysis, then one per sensitivity estimand."""
        out = [Analysis("unadjusted", None), Analysis("adjusted", self.primary_estimand)]
        for estimand in self.sensitivity_estimands:
            if estimand != self.primary_estimand:
                out.append(Analysis(f"adjusted ({estimand.upper()})", estimand))
        return tuple(out)

    def sampler_for(self, model: str) -> SamplerSettings:
        """The sampler settings of one model (the per-model target_accept applied)."""
        accept = self.target_accept_by_model.get(model)
        return self.sampler if accept is None else self.sampler.replace(target_accept=accept)

    def with_primary(self, estimand: str) -> AnalysisPlan:
        """The same plan with another primary estimand (``cit-bayes fit --estimand``)."""
        if estimand not in ESTIMANDS:
            raise PlanError(f"estimand must be one of {ESTIMANDS}, got {estimand!r}")
        return replace(self, primary_estimand=estimand)

    def with_target_accept(self, value: float) -> AnalysisPlan:
        """The same plan with one target_accept for every model (``--target-accept``).

        The per-model values of the plan are dropped: an override given on the command line
        applies to every patient-level model.
        """
        try:
            sampler = self.sampler.replace(target_accept=value)
        except ModelError as error:
            raise PlanError(f"sampler settings: {error}") from error
        return replace(self, sampler=sampler, target_accept_by_model={})

    def with_sampler(self, **changes) -> AnalysisPlan:
        """The same plan with sampler settings changed (``--sampler``, short test chains)."""
        try:
            return replace(self, sampler=self.sampler.replace(**changes))
        except ModelError as error:
            raise PlanError(f"sampler settings: {error}") from error


def load_plan(path: str | Path | None = None) -> AnalysisPlan:
    """Read and check an analysis plan (default ``models/default.toml``).

    Raises
    ------
    PlanError
        Naming the file and the key of the first problem found.

    Examples
    --------
    >>> plan = load_plan()
    >>> plan.name, plan.primary_estimand, [a.name for a in plan.analyses()]
    ('default', 'ate', ['unadjusted', 'adjusted', 'adjusted (ATO)'])
    """
    path = Path(path) if path is not None else models_dir() / "default.toml"
    document = read_toml(path, "analysis plan")
    data = dict(document.data)
    priors_table = data.pop("priors", None)
    # [labs] applies only to long-format laboratory files: optional, its defaults stated
    labs = build(_Labs, data.pop("labs", {}), document.source, "labs")
    # [imputation] applies only under --missing impute: optional, its defaults stated
    imputation = build(ImputationPlan, data.pop("imputation", {}), document.source, "imputation")
    # [unmeasured_confounding]: optional, the priors of the latent confounder U stated in
    # cit_bayes.confounding.bias.ConfoundingPrior
    confounding = build(
        ConfoundingPrior,
        data.pop("unmeasured_confounding", {}),
        document.source,
        "unmeasured_confounding",
    )
    target_trial = load_target_trial(path)  # the sidecar <plan>.target-trial.toml, if any
    # [plt] planned_days: optional, the CIT study's days 0, 3, 7, 14 unless a plan names others
    planned_days = _planned_days(data, document.source)
    sections = build_sections(data, document.source, _SECTIONS, complete=True)
    head, estimands, sampler = (sections[n] for n in ("plan", "estimands", "sampler"))
    response, plt = sections["response"], sections["plt"]
    recovery, safety = sections["recovery"], sections["safety"]
    _check_days(plt, recovery, planned_days, document.source)
    try:
        check_window(labs.window, planned_days)
    except CohortError as error:
        raise PlanError(f"{where(document.source, 'labs.window')}: {error}") from None
    if priors_table is None:
        raise PlanError(f"{where(document.source, 'priors')}: missing")
    if not isinstance(priors_table, dict):
        raise PlanError(f"{where(document.source, 'priors')}: expected a table of models")
    unknown = sorted(set(priors_table) - set(_PRIOR_CLASSES))
    if unknown:
        raise PlanError(f"{where(document.source, 'priors')}: unknown model(s) {unknown}")
    priors = {}
    for model, cls in _PRIOR_CLASSES.items():
        section = f"priors.{model}"
        if model not in priors_table:
            raise PlanError(f"{where(document.source, section)}: missing")
        table = priors_table[model]
        if isinstance(table, dict):  # the sensitivity structures a plan may leave out
            table = {f.name: f.default for f in fields(cls) if f.name in OPTIONAL_PRIORS} | table
        priors[model] = build(cls, table, document.source, section, complete=True)
        if getattr(priors[model], "arm_sd_fixed", False):
            raise PlanError(
                f"{where(document.source, section + '.arm_sd_fixed')}: a fixed between-arm SD "
                "is a prior set's sensitivity analysis (models/priors/patient/sceptical.toml, "
                "[robustness] prior_sets), not the plan's model: its pooled arms (pool_arms) "
                "estimate the SD"
            )
    settings = sampler.settings(document.source)
    margins = tuple(sorted(set(response.noninferiority_margins) | {response.margin}))
    arms = sections["arms"].labels
    check_arm_keys(sections, arms, document.source)
    spec = contrast_spec(sections, margins, arms)
    return AnalysisPlan(
        path=document.source,
        sha256=document.sha256,
        name=head.name,
        title=head.title,
        seed=head.seed,
        covariates=sections["covariates"].names,
        primary_estimand=estimands.primary,
        sensitivity_estimands=estimands.sensitivity,
        att_arm=estimands.att_arm,
        weighting=sections["weighting"],
        sampler=settings,
        target_accept_by_model=dict(sampler.target_accept_by_model),
        spec=spec,
        margin=response.margin,
        days=plt.days,
        horizon=recovery.horizon,
        recovery_reference=recovery.reference_arm,
        safety_events=safety.events,
        priors=priors,
        robustness=sections["robustness"].variants,
        design_draws=sections["robustness"].design_draws,
        prior_sets=sections["robustness"].prior_sets,
        prior_set_values=_prior_sets(sections["robustness"].prior_sets, document.source),
        group=sections["covariates"].group,
        arms=arms,
        lab_window=labs.window,
        imputation=imputation,
        planned_days=planned_days,
        confounding=confounding,
        target_trial=target_trial,
    )


def _planned_days(data: dict, source: str) -> tuple[int, ...]:
    """``[plt] planned_days`` taken out of the plan's table (optional; default the study's)."""
    table = data.get("plt")
    if not isinstance(table, dict) or "planned_days" not in table:
        return PLT_DAYS
    table = dict(table)
    value = table.pop("planned_days")
    data["plt"] = table
    try:
        return check_planned_days(value if isinstance(value, list) else [value])
    except ValueError as error:
        raise PlanError(f"{where(source, 'plt.planned_days')}: {error}") from None


def _check_days(plt, recovery, planned: tuple[int, ...], source: str) -> None:
    """The trajectory's days are planned days after the baseline, the horizon at most the last."""
    labels = [f"day{day}" for day in planned[1:]]
    for key in ("days", "contrast_days"):
        unknown = [day for day in getattr(plt, key) if day not in labels]
        if unknown:
            raise PlanError(
                f"{where(source, f'plt.{key}')}: {unknown} not among the planned days after "
                f"the baseline {labels} ([plt] planned_days)"
            )
    if not set(plt.contrast_days) <= set(plt.days):
        raise PlanError(
            f"{where(source, 'plt.contrast_days')}: {plt.contrast_days} not all among {plt.days}"
        )
    if recovery.horizon > planned[-1]:
        raise PlanError(
            f"{where(source, 'recovery.horizon')}: {recovery.horizon} is after the last planned "
            f"day {planned[-1]} ([plt] planned_days)"
        )
