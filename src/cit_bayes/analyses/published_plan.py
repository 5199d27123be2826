"""The plan of the published reanalysis: ``models/published_reanalysis.toml``, checked.

Sampler settings (and those for prior sets with a hierarchical block), the comparisons (pairs,
non-inferiority margins, thresholds), the platelet days, the recovery-count assumption and its
sensitivity value, and the safety events. Read by the package's one TOML loader
(:mod:`cit_bayes.config`); :class:`~cit_bayes.exceptions.PlanError` names the file and the key of
anything malformed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cit_bayes._paths import models_dir
from cit_bayes.analyses.fragments import ContrastSpec
from cit_bayes.bayes import SamplerSettings
from cit_bayes.cohort.schema import ARMS
from cit_bayes.config import build_sections, read_toml, setting, where
from cit_bayes.exceptions import ModelError, PlanError
from cit_bayes.plan_sections import (
    ContrastsSection,
    HeadSection,
    ResponseSection,
    SamplerSection,
    check_arm_keys,
    contrast_spec,
)

__all__ = ["ReanalysisPlan", "load_reanalysis_plan"]


@dataclass(frozen=True)
class ReanalysisPlan:
    """The plan of the published reanalysis (``models/published_reanalysis.toml``).

    Examples
    --------
    >>> from cit_bayes.analyses.published_plan import load_reanalysis_plan
    >>> plan = load_reanalysis_plan()
    >>> plan.days, plan.recovery_sizes, plan.spec.focus_arm
    (('day0', 'day3', 'day7', 'day14'), 'implied', 'combination')
    """

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


#: How the number of patients behind Table 6's recovery-time means may be set: a rule, or a
#: share of responders in (0, 1].
RECOVERY_SIZE_RULES = ("implied", "responders")
_DAYS = ("day0", "day3", "day7", "day14")


def _sizes(value: str | float, key: str) -> None:
    if isinstance(value, str) and value not in RECOVERY_SIZE_RULES:
        raise ValueError(
            f"{key}: {value!r} is not one of {RECOVERY_SIZE_RULES} or a share of responders "
            "in (0, 1]"
        )
    if not isinstance(value, str) and not 0 < value <= 1:
        raise ValueError(f"{key}: a share of responders must lie in (0, 1]")


@dataclass(frozen=True)
class _Head(HeadSection):
    prior_sets: tuple[str, ...] = setting(non_empty=True, distinct=True)


@dataclass(frozen=True)
class _Sampler(SamplerSection):
    hierarchical_target_accept: float = setting(low=0.5, high=1.0, open_high=True)
    hierarchical_draws: int = setting(low=1)


@dataclass(frozen=True)
class _Plt:
    days: tuple[str, ...] = setting(choices=_DAYS, non_empty=True, distinct=True)
    contrast_days: tuple[str, ...] = setting(choices=_DAYS, non_empty=True, distinct=True)
    sensitivity_prior_set: str = ""

    def __post_init__(self):
        if not set(self.contrast_days) <= set(self.days):
            raise ValueError(f"contrast_days {self.contrast_days} not all among {self.days}")


@dataclass(frozen=True)
class _Recovery:
    faster_by_days: tuple[float, ...] = setting(non_empty=True, low=0.0)
    analysis_sizes: str | float = "implied"
    sensitivity_analysis_sizes: str | float = "responders"
    sensitivity_prior_set: str = ""

    def __post_init__(self):
        _sizes(self.analysis_sizes, "analysis_sizes")
        _sizes(self.sensitivity_analysis_sizes, "sensitivity_analysis_sizes")


@dataclass(frozen=True)
class _Safety:
    events: tuple[str, ...] = setting(non_empty=True, distinct=True)
    reference_arm: str = setting(choices=ARMS)
    harm_threshold: float = setting(low=0.0)


_SECTIONS = {
    "plan": _Head,
    "sampler": _Sampler,
    "contrasts": ContrastsSection,
    "response": ResponseSection,
    "plt": _Plt,
    "recovery": _Recovery,
    "safety": _Safety,
}


def load_reanalysis_plan(path: str | Path | None = None) -> ReanalysisPlan:
    """Read and check the plan; :class:`PlanError` names the file and key of any problem.

    Examples
    --------
    >>> plan = load_reanalysis_plan()
    >>> plan.prior_sets[0], plan.hierarchical_sampler.target_accept
    ('flat', 0.99)
    """
    path = Path(path) if path is not None else models_dir() / "published_reanalysis.toml"
    document = read_toml(path, "reanalysis plan")
    sections = build_sections(document.data, document.source, _SECTIONS, complete=True)
    head, sampler, plt = sections["plan"], sections["sampler"], sections["plt"]
    response, recovery, safety = (sections[k] for k in ("response", "recovery", "safety"))
    settings = sampler.settings(document.source)
    try:
        hierarchical = settings.replace(
            target_accept=sampler.hierarchical_target_accept, draws=sampler.hierarchical_draws
        )
    except ModelError as error:  # SamplerSettings rejects a value
        raise PlanError(f"{where(document.source, 'sampler')}: {error}") from None
    check_arm_keys(sections, ARMS, document.source)
    spec = contrast_spec(sections, response.noninferiority_margins)
    return ReanalysisPlan(
        path=document.source,
        sha256=document.sha256,
        seed=head.seed,
        prior_sets=head.prior_sets,
        sampler=settings,
        hierarchical_sampler=hierarchical,
        spec=spec,
        days=plt.days,
        plt_sensitivity_prior_set=plt.sensitivity_prior_set,
        recovery_sizes=recovery.analysis_sizes,
        recovery_sensitivity_sizes=recovery.sensitivity_analysis_sizes,
        recovery_sensitivity_prior_set=recovery.sensitivity_prior_set,
        safety_events=safety.events,
    )
