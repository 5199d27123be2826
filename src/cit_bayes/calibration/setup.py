"""What a calibration runs: the plan, scenarios, cohort size, replicates, analyses and levels.

:class:`CalibrationSetup` is plain data: it travels to the Dask workers once (scattered) and
its :meth:`~CalibrationSetup.fingerprint` is stored with the replicates, so that a resumed
calibration never mixes replicates of two different setups.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cit_bayes.exceptions import PlanError

if TYPE_CHECKING:  # pragma: no cover
    from cit_bayes.plan import AnalysisPlan

__all__ = ["ANALYSES", "ENDPOINTS", "LEVELS", "SCENARIOS", "CalibrationSetup"]

#: The analyses a calibration can compare: the plan's unadjusted analysis, its primary adjusted
#: analysis with the weights held fixed (the analysis ``cit-bayes run`` reports as
#: ``adjusted``), and the same with the weighting step's uncertainty (design draws).
ANALYSES: tuple[str, ...] = ("unadjusted", "fixed weights", "design uncertainty")
#: The outcome models a calibration fits.
ENDPOINTS: tuple[str, ...] = ("response", "plt", "recovery")
#: Credible levels whose equal-tailed intervals are checked.
LEVELS: tuple[float, ...] = (0.5, 0.8, 0.95)
#: The simulator's scenarios a calibration runs by default (``models/scenarios``).
SCENARIOS: tuple[str, ...] = ("paper-like", "null", "strong-confounding")


@dataclass(frozen=True)
class CalibrationSetup:
    """One calibration: what is simulated, fitted and checked.

    Attributes
    ----------
    plan : cit_bayes.plan.AnalysisPlan
        The analysis plan (its primary estimand defines the truth; its sampler settings apply).
    scenarios : tuple of str
        Bundled scenario names or scenario TOML paths.
    n : int
        Patients per simulated cohort.
    replicates : int
        Simulated cohorts per scenario.
    seed : int
        Each replicate's seed is derived from it, the scenario and the replicate's number
        (:func:`replicate_seed`), so a replicate's numbers do not depend on which worker ran it.
    endpoints, analyses : tuple of str
        Subsets of :data:`ENDPOINTS` and :data:`ANALYSES`.
    design_draws : int
        Design draws of the design-uncertainty analysis (default: the plan's).
    levels : tuple of float
        Credible levels checked.
    sbc : int
        Simulation-based-calibration replicates of each model in ``sbc_endpoints`` (0: none;
        :mod:`cit_bayes.calibration.sbc`).
    sbc_endpoints : tuple of str, optional
        The models SBC checks (default: ``endpoints``).

    Examples
    --------
    >>> from cit_bayes.plan import load_plan
    >>> setup = CalibrationSetup(load_plan(), replicates=3, analyses=("unadjusted",))
    >>> setup.scenarios, setup.design_draws
    (('paper-like', 'null', 'strong-confounding'), 20)
    >>> CalibrationSetup(load_plan(), endpoints=("safety",))
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: calibrate: unknown endpoint 'safety'; expected some of response, plt, recovery
    """

    plan: AnalysisPlan
    scenarios: tuple[str, ...] = SCENARIOS
    n: int = 187
    replicates: int = 200
    seed: int = 20250101
    endpoints: tuple[str, ...] = ENDPOINTS
    analyses: tuple[str, ...] = ANALYSES
    design_draws: int | None = None
    levels: tuple[float, ...] = LEVELS
    sbc: int = 0
    sbc_endpoints: tuple[str, ...] | None = None
    scenario_hashes: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        _subset("endpoint", self.endpoints, ENDPOINTS)
        if self.sbc_endpoints is None:
            object.__setattr__(self, "sbc_endpoints", tuple(self.endpoints))
        _subset("SBC endpoint", self.sbc_endpoints, ENDPOINTS)
        _subset("analysis", self.analyses, ANALYSES)
        if not self.scenarios:
            raise PlanError("calibrate: no scenario")
        if len(set(self.scenarios)) != len(self.scenarios):
            raise PlanError("calibrate: a scenario is named twice")
        if self.n < 20:
            raise PlanError(f"calibrate: n must be at least 20 patients, got {self.n}")
        if self.replicates < 0 or self.sbc < 0 or self.replicates + self.sbc == 0:
            raise PlanError(
                "calibrate: replicates and SBC replicates must be >= 0 and not both 0, got "
                f"{self.replicates} and {self.sbc}"
            )
        if not self.levels or not all(0 < level < 1 for level in self.levels):
            raise PlanError(f"calibrate: levels must lie in (0, 1), got {self.levels}")
        if self.design_draws is None:
            object.__setattr__(self, "design_draws", self.plan.design_draws)
        if "design uncertainty" in self.analyses:
            if self.plan.weighting.method != "entropy":
                raise PlanError(
                    "calibrate: the design-uncertainty analysis needs entropy-balancing weights "
                    f"(the plan's weighting method is {self.plan.weighting.method!r})"
                )
            if self.design_draws < 2:
                raise PlanError(f"calibrate: design draws must be >= 2, got {self.design_draws}")
        if not self.scenario_hashes:
            from cit_bayes.simulate import load_scenario

            hashes = {}
            for scenario in self.scenarios:
                loaded = load_scenario(scenario)
                hashes[scenario] = {"name": loaded.name, "sha256": loaded.sha256}
            object.__setattr__(self, "scenario_hashes", hashes)

    def scenario_name(self, scenario: str) -> str:
        """The scenario's own name (its file's stem for a path); an SBC group's own name."""
        if scenario.startswith("sbc-"):
            return scenario
        return self.scenario_hashes[scenario]["name"]

    def tasks(self) -> list[tuple[str, int]]:
        """Every replicate as (scenario or SBC group, index): the coverage replicates of each
        scenario, then the SBC replicates of each model (group ``sbc-<model>``).

        Examples
        --------
        >>> from cit_bayes.plan import load_plan
        >>> CalibrationSetup(load_plan(), scenarios=("null",), replicates=1, sbc=1,
        ...                  endpoints=("response",)).tasks()
        [('null', 0), ('sbc-response', 0)]
        >>> CalibrationSetup(load_plan(), scenarios=("null",), replicates=1, sbc=1,
        ...                  endpoints=("response",), sbc_endpoints=("plt", "recovery")).tasks()
        [('null', 0), ('sbc-plt', 0), ('sbc-recovery', 0)]
        """
        coverage = [(s, i) for s in self.scenarios for i in range(self.replicates)]
        sbc = [(f"sbc-{e}", i) for e in self.sbc_endpoints for i in range(self.sbc)]
        return coverage + sbc

    def groups(self) -> list[str]:
        """The scenarios, then the SBC groups (those with replicates)."""
        sbc = [f"sbc-{e}" for e in self.sbc_endpoints] if self.sbc else []
        return [*(self.scenarios if self.replicates else ()), *sbc]

    def fingerprint(self) -> dict:
        """Everything that decides a replicate's numbers (all but the number of replicates).

        Examples
        --------
        >>> from cit_bayes.plan import load_plan
        >>> a = CalibrationSetup(load_plan(), replicates=3).fingerprint()
        >>> a == CalibrationSetup(load_plan(), replicates=50).fingerprint()
        True
        >>> a == CalibrationSetup(load_plan(), replicates=3, seed=1).fingerprint()
        False
        """
        sampler = dataclasses.asdict(self.plan.sampler)
        return {
            "plan": {"name": self.plan.name, "sha256": self.plan.sha256},
            "sampler": {k: v for k, v in sampler.items() if _plain(v)},
            "target_accept_by_model": dict(self.plan.target_accept_by_model),
            "primary_estimand": self.plan.primary_estimand,
            "scenarios": [{"scenario": s, **self.scenario_hashes[s]} for s in self.scenarios],
            "n": self.n,
            "seed": self.seed,
            "endpoints": list(self.endpoints),
            "analyses": list(self.analyses),
            "design_draws": self.design_draws if "design uncertainty" in self.analyses else 0,
            "levels": list(self.levels),
            "sbc_design": {"scenario": "paper-like", "n": self.n} if self.sbc else None,
            "sbc_endpoints": list(self.sbc_endpoints) if self.sbc else [],
        }


def _plain(value) -> bool:
    return isinstance(value, str | int | float | bool | type(None))


def _subset(what: str, chosen: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    if not chosen:
        raise PlanError(f"calibrate: no {what}")
    for item in chosen:
        if item not in allowed:
            raise PlanError(
                f"calibrate: unknown {what} {item!r}; expected some of {', '.join(allowed)}"
            )
    if len(set(chosen)) != len(chosen):
        raise PlanError(f"calibrate: an {what} is named twice")
