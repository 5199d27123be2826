"""The plan of the published reanalysis: ``models/published_reanalysis.toml``, checked.

Sampler settings (and those for prior sets with a hierarchical block), the comparisons (pairs,
non-inferiority margins, thresholds), the platelet days, the recovery-count assumption and its
sensitivity value, and the safety events. :class:`~cit_bayes.exceptions.PlanError` names the file
and the key of anything malformed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cit_bayes._paths import models_dir
from cit_bayes._plan_keys import get as _get
from cit_bayes._plan_keys import get_list as _list
from cit_bayes._plan_keys import get_pairs as _pairs
from cit_bayes._plan_keys import read_toml
from cit_bayes.bayes import SamplerSettings
from cit_bayes.cohort.schema import ARMS
from cit_bayes.exceptions import ModelError, PlanError
from cit_bayes.reanalysis_contrasts import ContrastSpec

__all__ = ["ReanalysisPlan", "load_reanalysis_plan"]


@dataclass(frozen=True)
class ReanalysisPlan:
    """The plan of the published reanalysis (``models/published_reanalysis.toml``)."""

    path: str
    sha256: str
    seed: int
    prior_sets: tuple[str, ...]
    sampler: SamplerSettings
    hierarchical_sampler: SamplerSettings
    spec: ContrastSpec
    days: tuple[str, ...]
    plt_sensitivity_prior_set: str
    recovery_sizes: str | float
    recovery_sensitivity_sizes: str | float
    recovery_sensitivity_prior_set: str
    safety_events: tuple[str, ...]


#: How the number of patients behind Table 6's recovery-time means may be set.
RECOVERY_SIZE_RULES = ("implied", "responders")


def _recovery_sizes(recovery: dict, key: str, source: str) -> str | float:
    value = _get(recovery, key, source, (str, int, float), "recovery")
    if isinstance(value, bool):
        raise PlanError(f"{source}: key recovery.{key}: expected a rule or a share, got {value!r}")
    if isinstance(value, str):
        if value not in RECOVERY_SIZE_RULES:
            raise PlanError(
                f"{source}: key recovery.{key}: {value!r} is not one of {RECOVERY_SIZE_RULES} "
                "or a share of responders in (0, 1]"
            )
        return value
    if not 0 < float(value) <= 1:
        raise PlanError(f"{source}: key recovery.{key}: a share of responders must lie in (0, 1]")
    return float(value)


def load_reanalysis_plan(path: str | Path | None = None) -> ReanalysisPlan:
    """Read and check the plan; :class:`PlanError` names the file and key of any problem."""
    path = Path(path) if path is not None else models_dir() / "published_reanalysis.toml"
    source = str(path)
    raw, document = read_toml(path, "reanalysis plan")
    sections = {}
    for name in ("plan", "sampler", "contrasts", "response", "plt", "recovery", "safety"):
        sections[name] = _get(document, name, source, dict, "(top)")
    plan, sampler, pairs = sections["plan"], sections["sampler"], sections["contrasts"]
    number = (int, float)
    try:
        settings = SamplerSettings(
            sampler=_get(sampler, "sampler", source, str, "sampler"),
            chains=_get(sampler, "chains", source, int, "sampler"),
            draws=_get(sampler, "draws", source, int, "sampler"),
            tune=_get(sampler, "tune", source, int, "sampler"),
            target_accept=float(_get(sampler, "target_accept", source, number, "sampler")),
        )
        hierarchical = settings.replace(
            target_accept=float(
                _get(sampler, "hierarchical_target_accept", source, number, "sampler")
            ),
            draws=_get(sampler, "hierarchical_draws", source, int, "sampler"),
        )
    except ModelError as error:  # SamplerSettings rejects a value
        raise PlanError(f"{source}: section [sampler]: {error}") from error
    focus = _get(pairs, "focus_arm", source, str, "contrasts")
    if focus not in ARMS:
        raise PlanError(f"{source}: key contrasts.focus_arm: {focus!r} is not one of {ARMS}")
    response, plt, recovery, safety = (
        sections[k] for k in ("response", "plt", "recovery", "safety")
    )
    days = _list(plt, "days", source, "plt", str)
    contrast_days = _list(plt, "contrast_days", source, "plt", str)
    if not set(contrast_days) <= set(days):
        raise PlanError(f"{source}: key plt.contrast_days: {contrast_days} not all among {days}")
    reference = _get(safety, "reference_arm", source, str, "safety")
    if reference not in ARMS:
        raise PlanError(f"{source}: key safety.reference_arm: {reference!r} is not one of {ARMS}")
    sizes = _recovery_sizes(recovery, "analysis_sizes", source)
    sensitivity_sizes = _recovery_sizes(recovery, "sensitivity_analysis_sizes", source)
    margins = _list(response, "noninferiority_margins", source, "response", number)
    spec = ContrastSpec(
        arms=tuple(ARMS),
        pairs=_pairs(_get(pairs, "pairs", source, list, "contrasts"), source, "contrasts.pairs"),
        focus_arm=focus,
        ci_level=float(_get(plan, "ci_level", source, number, "plan")),
        noninferiority_pairs=_pairs(
            _get(response, "noninferiority_pairs", source, list, "response"),
            source,
            "response.noninferiority_pairs",
        ),
        noninferiority_margins=margins,
        difference_thresholds=_list(response, "difference_thresholds", source, "response", number),
        contrast_days=contrast_days,
        faster_by_days=_list(recovery, "faster_by_days", source, "recovery", number),
        safety_reference=reference,
        harm_threshold=float(_get(safety, "harm_threshold", source, number, "safety")),
    )
    return ReanalysisPlan(
        path=source,
        sha256=hashlib.sha256(raw).hexdigest(),
        seed=_get(plan, "seed", source, int, "plan"),
        prior_sets=_list(plan, "prior_sets", source, "plan", str),
        sampler=settings,
        hierarchical_sampler=hierarchical,
        spec=spec,
        days=days,
        plt_sensitivity_prior_set=_get(plt, "sensitivity_prior_set", source, str, "plt"),
        recovery_sizes=sizes,
        recovery_sensitivity_sizes=sensitivity_sizes,
        recovery_sensitivity_prior_set=_get(
            recovery, "sensitivity_prior_set", source, str, "recovery"
        ),
        safety_events=_list(safety, "events", source, "safety", str),
    )
