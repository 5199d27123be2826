"""The analysis plan of the patient-level reanalysis: ``models/default.toml``, checked.

The plan declares, as data, everything ``cit-bayes fit`` and ``cit-bayes run`` decide: the
covariates, the primary and sensitivity estimands, how the weights are made, the sampler (with
per-model overrides), the comparisons (pairs, non-inferiority margins, thresholds), the platelet
days, the recovery horizon, the safety events and the priors of the four models. Every key is
required; the file is read by the package's one TOML loader (:mod:`cit_bayes.config`), and
:class:`~cit_bayes.exceptions.PlanError` names the file and the key of anything missing or
malformed. :attr:`AnalysisPlan.sha256` (the loader's canonical hash of the file's content) is the
plan hash carried by every result for provenance. The file's sections are read as the dataclasses
of :mod:`cit_bayes.plan_sections`; the plan's questions to a cohort (how to read it, its arms,
covariates and groups) are the methods of :mod:`cit_bayes.plan_cohort`.

Analyses
--------
:meth:`AnalysisPlan.analyses` lists what is fitted, in order: ``"unadjusted"`` (no weights, no
covariates), ``"adjusted"`` (the primary estimand: weights and covariates) and one
``"adjusted (ATO)"``-style analysis per sensitivity estimand.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from cit_bayes._paths import models_dir
from cit_bayes.analyses.fragments import ContrastSpec
from cit_bayes.analyses.prior_sets import load_patient_prior_set
from cit_bayes.bayes import SamplerSettings
from cit_bayes.bayes.recovery import RecoveryPrior
from cit_bayes.bayes.response import ResponsePrior
from cit_bayes.bayes.safety import SafetyPrior
from cit_bayes.bayes.trajectory_prior import TrajectoryPrior
from cit_bayes.cohort.impute import MAX_IMPUTATIONS
from cit_bayes.cohort.labs import MAX_LAB_WINDOW, check_window
from cit_bayes.cohort.schema import ARMS, PLT_DAYS
from cit_bayes.config import build, build_sections, read_toml, setting, where
from cit_bayes.confounding.bias import ConfoundingPrior
from cit_bayes.exceptions import CohortError, ModelError, PlanError
from cit_bayes.plan_cohort import CohortChecks
from cit_bayes.plan_sections import (
    ESTIMANDS,
    MODELS,
    SECTIONS,
    WeightingPlan,
    check_arm_keys,
    check_days,
    contrast_spec,
    take_planned_days,
)
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
class AnalysisPlan(CohortChecks):
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
        :data:`~cit_bayes.plan_sections.ROBUSTNESS_VARIANTS`).
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
    planned_days = take_planned_days(data, document.source)
    sections = build_sections(data, document.source, SECTIONS, complete=True)
    head, estimands, sampler = (sections[n] for n in ("plan", "estimands", "sampler"))
    response, plt = sections["response"], sections["plt"]
    recovery, safety = sections["recovery"], sections["safety"]
    check_days(plt, recovery, planned_days, document.source)
    try:
        check_window(labs.window, planned_days)
    except CohortError as error:
        raise PlanError(f"{where(document.source, 'labs.window')}: {error}") from None
    priors = _read_priors(priors_table, document.source)
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


def _read_priors(priors_table, source: str) -> dict:
    """The plan's ``[priors.<model>]`` tables read as each model's prior dataclass (the
    sensitivity structures a plan may leave out filled in with their defaults)."""
    if priors_table is None:
        raise PlanError(f"{where(source, 'priors')}: missing")
    if not isinstance(priors_table, dict):
        raise PlanError(f"{where(source, 'priors')}: expected a table of models")
    unknown = sorted(set(priors_table) - set(_PRIOR_CLASSES))
    if unknown:
        raise PlanError(f"{where(source, 'priors')}: unknown model(s) {unknown}")
    priors = {}
    for model, cls in _PRIOR_CLASSES.items():
        section = f"priors.{model}"
        if model not in priors_table:
            raise PlanError(f"{where(source, section)}: missing")
        table = priors_table[model]
        if isinstance(table, dict):  # the sensitivity structures a plan may leave out
            table = {f.name: f.default for f in fields(cls) if f.name in OPTIONAL_PRIORS} | table
        priors[model] = build(cls, table, source, section, complete=True)
        if getattr(priors[model], "arm_sd_fixed", False):
            raise PlanError(
                f"{where(source, section + '.arm_sd_fixed')}: a fixed between-arm SD "
                "is a prior set's sensitivity analysis (models/priors/patient/sceptical.toml, "
                "[robustness] prior_sets), not the plan's model: its pooled arms (pool_arms) "
                "estimate the SD"
            )
    return priors
