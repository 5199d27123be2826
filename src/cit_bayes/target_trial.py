"""The target trial an observational analysis emulates, as its authors state it.

The TARGET guideline (Cashin et al., JAMA/BMJ 2025) asks an observational comparison of
treatments to state the protocol of the randomised trial it would have run (the target trial)
and, component by component, how the data emulate it. The emulation side is what ran and is
filled by the report from ``results.json``; the target side is the authors' design, which no
cohort file holds. It is stated in words in a sidecar of the analysis plan,
``<plan>.target-trial.toml`` beside ``<plan>.toml`` (table ``[target_trial]``, every component
optional; one left out is reported as "not stated in the plan"). A sidecar, not a section of the
plan: the words change no number, so the plan's hash, which calibrations and results record,
does not move when they are edited. ``models/default.target-trial.toml`` states the trial the
paper's cohort emulates.

Examples
--------
>>> from cit_bayes.target_trial import TargetTrial
>>> trial = TargetTrial(time_zero="the first dose of the thrombopoietic agent")
>>> trial.stated()
('time_zero',)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

__all__ = ["COMPONENTS", "TargetTrial", "load_target_trial", "target_trial_path"]

#: The protocol components, in the order of the emulation table, with their headings.
COMPONENTS: dict[str, str] = {
    "eligibility": "Eligibility criteria",
    "treatment_strategies": "Treatment strategies",
    "assignment": "Assignment procedures",
    "time_zero": "Time zero",
    "follow_up": "Follow-up",
    "outcomes": "Outcomes",
    "causal_contrast": "Causal contrasts",
    "analysis": "Analysis plan",
}


@dataclass(frozen=True)
class TargetTrial:
    """The target trial's protocol in words (plan section ``[target_trial]``; each optional).

    Attributes
    ----------
    eligibility, treatment_strategies, assignment, time_zero, follow_up, outcomes,
    causal_contrast, analysis : str
        The target trial's component as its authors would write it in a protocol ("" when the
        plan does not state it).

    Examples
    --------
    >>> from cit_bayes.target_trial import TargetTrial
    >>> trial = TargetTrial(follow_up="from the first dose to day 14",
    ...                     eligibility="adults with a platelet count below 100 x10^9/L",
    ...                     outcomes="  ")
    >>> trial.stated()  # in the table's order; blank words state nothing
    ('eligibility', 'follow_up')
    """

    eligibility: str = ""
    treatment_strategies: str = ""
    assignment: str = ""
    time_zero: str = ""
    follow_up: str = ""
    outcomes: str = ""
    causal_contrast: str = ""
    analysis: str = ""

    def __post_init__(self) -> None:
        if {f.name for f in fields(self)} != set(COMPONENTS):  # pragma: no cover - a code check
            raise TypeError("TargetTrial's fields and COMPONENTS must name the same components")

    def stated(self) -> tuple[str, ...]:
        """The components the plan states (non-empty), in table order."""
        return tuple(name for name in COMPONENTS if getattr(self, name).strip())


def target_trial_path(plan_path: str | Path) -> Path:
    """The sidecar of a plan: ``<stem>.target-trial.toml`` beside it.

    Examples
    --------
    >>> from cit_bayes.target_trial import target_trial_path
    >>> target_trial_path("models/default.toml").as_posix()
    'models/default.target-trial.toml'
    """
    plan_path = Path(plan_path)
    return plan_path.with_name(f"{plan_path.stem}.target-trial.toml")


def load_target_trial(plan_path: str | Path) -> TargetTrial:
    """The target trial stated beside a plan; nothing stated when it has no sidecar.

    Raises
    ------
    PlanError
        A sidecar that is not TOML, has a table other than ``[target_trial]``, an unknown
        component or a value that is not a string (naming the file and the key).

    Examples
    --------
    >>> from cit_bayes._paths import models_dir
    >>> from cit_bayes.target_trial import load_target_trial
    >>> len(load_target_trial(models_dir() / "default.toml").stated())
    8
    >>> load_target_trial(models_dir() / "no-such-plan.toml").stated()
    ()
    """
    from cit_bayes.config import build_sections, read_toml

    path = target_trial_path(plan_path)
    if not path.is_file():
        return TargetTrial()
    document = read_toml(path, "target trial")
    sections = build_sections(document.data, document.source, {"target_trial": TargetTrial})
    return sections["target_trial"]
