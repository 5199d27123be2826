"""The analysis plan of the patient-level reanalysis: ``models/default.toml``, checked.

The plan declares, as data, everything ``cit-bayes fit`` and ``cit-bayes run`` decide: the
covariates, the primary and sensitivity estimands, how the weights are made, the sampler (with
per-model overrides), the comparisons (pairs, non-inferiority margins, thresholds), the platelet
days, the recovery horizon, the safety events and the priors of the four models. Every key is
required; :class:`~cit_bayes.exceptions.PlanError` names the file and the key of anything missing
or malformed. :attr:`AnalysisPlan.sha256` (of the file's bytes) is the plan hash carried by every
result for provenance.

Analyses
--------
:meth:`AnalysisPlan.analyses` lists what is fitted, in order: ``"unadjusted"`` (no weights, no
covariates), ``"adjusted"`` (the primary estimand: weights and covariates) and one
``"adjusted (ATO)"``-style analysis per sensitivity estimand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

from cit_bayes._paths import models_dir
from cit_bayes._plan_keys import NUMBER, get, get_arm, get_list, get_pairs, read_toml
from cit_bayes.bayes import SamplerSettings
from cit_bayes.bayes.recovery import RecoveryPrior
from cit_bayes.bayes.response import ResponsePrior
from cit_bayes.bayes.safety import SafetyPrior
from cit_bayes.bayes.trajectory import TrajectoryPrior
from cit_bayes.cohort.schema import (
    ARMS,
    BASELINE_COVARIATES,
    POST_BASELINE_PLT_COLUMNS,
    SAFETY_OUTCOMES,
)
from cit_bayes.exceptions import ModelError, PlanError
from cit_bayes.reanalysis_contrasts import ContrastSpec

__all__ = ["AnalysisPlan", "Analysis", "WeightingPlan", "ESTIMANDS", "MODELS", "load_plan"]

#: Estimands a plan may name (the weighting layer's, less matching weights).
ESTIMANDS = ("ate", "ato", "att")
#: The four patient-level models, in the order they are fitted.
MODELS = ("response", "plt", "recovery", "safety")
METHODS = ("entropy", "propensity")
_PRIOR_CLASSES = {
    "response": ResponsePrior,
    "plt": TrajectoryPrior,
    "recovery": RecoveryPrior,
    "safety": SafetyPrior,
}


@dataclass(frozen=True)
class Analysis:
    """One analysis of the plan: its name and estimand (``None`` = unadjusted)."""

    name: str
    estimand: str | None

    @property
    def adjusted(self) -> bool:
        """Whether the analysis uses weights and covariates."""
        return self.estimand is not None


@dataclass(frozen=True)
class WeightingPlan:
    """How the weights of the adjusted analyses are made."""

    method: str
    moments: int
    tolerance: float
    penalty: float
    rare_level_min: int
    trim: float
    n_bootstrap: int
    balance_threshold: float


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
    covariates : tuple of str
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


def _priors(document: dict, source: str) -> dict:
    table = get(document, "priors", source, dict, "(top)")
    priors = {}
    for model, cls in _PRIOR_CLASSES.items():
        values = get(table, model, source, dict, "priors")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise PlanError(
                f"{source}: key priors.{model}: unknown field(s) {unknown}; known {sorted(known)}"
            )
        missing = sorted(known - set(values))
        if missing:
            raise PlanError(f"{source}: key priors.{model}: missing field(s) {missing}")
        converted = {
            k: (float(v) if isinstance(v, int) and not isinstance(v, bool) and k != "rank" else v)
            for k, v in values.items()
        }
        try:
            priors[model] = cls(**converted)
        except (ModelError, TypeError) as error:
            raise PlanError(f"{source}: key priors.{model}: {error}") from error
    return priors


def _weighting(table: dict, source: str) -> WeightingPlan:
    method = get(table, "method", source, str, "weighting")
    if method not in METHODS:
        raise PlanError(f"{source}: key weighting.method: {method!r} is not one of {METHODS}")
    moments = get(table, "moments", source, int, "weighting")
    if moments not in (1, 2):
        raise PlanError(f"{source}: key weighting.moments: must be 1 or 2, got {moments}")
    plan = WeightingPlan(
        method=method,
        moments=moments,
        tolerance=float(get(table, "tolerance", source, NUMBER, "weighting")),
        penalty=float(get(table, "penalty", source, NUMBER, "weighting")),
        rare_level_min=get(table, "rare_level_min", source, int, "weighting"),
        trim=float(get(table, "trim", source, NUMBER, "weighting")),
        n_bootstrap=get(table, "n_bootstrap", source, int, "weighting"),
        balance_threshold=float(get(table, "balance_threshold", source, NUMBER, "weighting")),
    )
    checks = {
        "tolerance": plan.tolerance > 0,
        "penalty": plan.penalty > 0,
        "rare_level_min": plan.rare_level_min >= 1,
        "trim": 0 <= plan.trim < 0.5,
        "n_bootstrap": plan.n_bootstrap >= 0,
        "balance_threshold": plan.balance_threshold > 0,
    }
    for key, ok in checks.items():
        if not ok:
            raise PlanError(f"{source}: key weighting.{key}: out of range ({getattr(plan, key)})")
    return plan


def _sampler(table: dict, source: str) -> tuple[SamplerSettings, dict]:
    try:
        settings = SamplerSettings(
            sampler=get(table, "sampler", source, str, "sampler"),
            chains=get(table, "chains", source, int, "sampler"),
            draws=get(table, "draws", source, int, "sampler"),
            tune=get(table, "tune", source, int, "sampler"),
            target_accept=float(get(table, "target_accept", source, NUMBER, "sampler")),
        )
        by_model = get(table, "target_accept_by_model", source, dict, "sampler")
        unknown = sorted(set(by_model) - set(MODELS))
        if unknown:
            raise PlanError(
                f"{source}: key sampler.target_accept_by_model: unknown model(s) {unknown}"
            )
        accept = {}
        for model, value in by_model.items():
            value = get(by_model, model, source, NUMBER, "sampler.target_accept_by_model")
            settings.replace(target_accept=float(value))  # checks the range
            accept[model] = float(value)
    except ModelError as error:
        raise PlanError(f"{source}: section [sampler]: {error}") from error
    return settings, accept


def _estimands(table: dict, source: str) -> tuple[str, tuple[str, ...], str]:
    primary = get(table, "primary", source, str, "estimands")
    if primary not in ESTIMANDS:
        raise PlanError(f"{source}: key estimands.primary: {primary!r} is not one of {ESTIMANDS}")
    sensitivity = get(table, "sensitivity", source, list, "estimands")
    bad = [e for e in sensitivity if e not in ESTIMANDS]
    if bad or len(set(sensitivity)) != len(sensitivity):
        raise PlanError(
            f"{source}: key estimands.sensitivity: expected distinct estimands from {ESTIMANDS}"
        )
    return primary, tuple(sensitivity), get_arm(table, "att_arm", source, "estimands")


def load_plan(path: str | Path | None = None) -> AnalysisPlan:
    """Read and check an analysis plan (default ``models/default.toml``).

    Raises
    ------
    PlanError
        Naming the file and the key of the first problem found.
    """
    path = Path(path) if path is not None else models_dir() / "default.toml"
    source = str(path)
    raw, document = read_toml(path, "analysis plan")
    sections = {
        name: get(document, name, source, dict, "(top)")
        for name in (
            "plan",
            "covariates",
            "estimands",
            "weighting",
            "sampler",
            "contrasts",
            "response",
            "plt",
            "recovery",
            "safety",
        )
    }
    head = sections["plan"]
    covariates = get_list(sections["covariates"], "names", source, "covariates", str)
    bad = [c for c in covariates if c not in BASELINE_COVARIATES]
    if bad or len(set(covariates)) != len(covariates):
        raise PlanError(
            f"{source}: key covariates.names: {bad or 'duplicates'}; "
            f"expected distinct names from {BASELINE_COVARIATES}"
        )
    primary, sensitivity, att_arm = _estimands(sections["estimands"], source)
    settings, accept = _sampler(sections["sampler"], source)
    contrasts, response = sections["contrasts"], sections["response"]
    plt, recovery, safety = sections["plt"], sections["recovery"], sections["safety"]
    days = get_list(plt, "days", source, "plt", str)
    known_days = tuple(c.removeprefix("plt_") for c in POST_BASELINE_PLT_COLUMNS)
    if any(d not in known_days for d in days) or len(set(days)) != len(days):
        raise PlanError(f"{source}: key plt.days: expected distinct days from {known_days}")
    contrast_days = get_list(plt, "contrast_days", source, "plt", str)
    if not set(contrast_days) <= set(days):
        raise PlanError(f"{source}: key plt.contrast_days: {contrast_days} not all among {days}")
    events = get_list(safety, "events", source, "safety", str)
    if any(e not in SAFETY_OUTCOMES for e in events) or len(set(events)) != len(events):
        raise PlanError(
            f"{source}: key safety.events: expected distinct events from {SAFETY_OUTCOMES}"
        )
    horizon = get(recovery, "horizon", source, int, "recovery")
    if not 3 <= horizon <= 14:
        raise PlanError(f"{source}: key recovery.horizon: must lie in 3..14, got {horizon}")
    margin = float(get(response, "margin", source, NUMBER, "response"))
    margins = get_list(response, "noninferiority_margins", source, "response", NUMBER)
    if not 0 < margin < 1 or any(not 0 < m < 1 for m in margins):
        raise PlanError(f"{source}: key response.margin(s): margins must lie in (0, 1)")
    ci_level = float(get(head, "ci_level", source, NUMBER, "plan"))
    if not 0.5 < ci_level < 1:
        raise PlanError(f"{source}: key plan.ci_level: must lie in (0.5, 1), got {ci_level}")
    spec = ContrastSpec(
        arms=tuple(ARMS),
        pairs=get_pairs(
            get(contrasts, "pairs", source, list, "contrasts"), source, "contrasts.pairs"
        ),
        focus_arm=get_arm(contrasts, "focus_arm", source, "contrasts"),
        ci_level=ci_level,
        noninferiority_pairs=get_pairs(
            get(response, "noninferiority_pairs", source, list, "response"),
            source,
            "response.noninferiority_pairs",
        ),
        noninferiority_margins=tuple(sorted(set(margins) | {margin})),
        difference_thresholds=get_list(
            response, "difference_thresholds", source, "response", NUMBER
        ),
        contrast_days=contrast_days,
        faster_by_days=get_list(recovery, "faster_by_days", source, "recovery", NUMBER),
        safety_reference=get_arm(safety, "reference_arm", source, "safety"),
        harm_threshold=float(get(safety, "harm_threshold", source, NUMBER, "safety")),
    )
    return AnalysisPlan(
        path=source,
        sha256=hashlib.sha256(raw).hexdigest(),
        name=get(head, "name", source, str, "plan"),
        title=get(head, "title", source, str, "plan"),
        seed=get(head, "seed", source, int, "plan"),
        covariates=covariates,
        primary_estimand=primary,
        sensitivity_estimands=sensitivity,
        att_arm=att_arm,
        weighting=_weighting(sections["weighting"], source),
        sampler=settings,
        target_accept_by_model=accept,
        spec=spec,
        margin=margin,
        days=days,
        horizon=horizon,
        recovery_reference=get_arm(recovery, "reference_arm", source, "recovery"),
        safety_events=events,
        priors=_priors(document, source),
    )
