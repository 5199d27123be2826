"""Reconstruction as imputation: the open choices of a reconstruction drawn from stated priors.

The published tables fix each arm's marginal summaries but not the prognostic effects, the
copula loadings, the number of recovered patients nor how tightly the score orders the outcomes.
``models/reconstruction-uncertainty.toml`` gives each a prior (with its rationale), centred on the
reconstruction plan's own value. :func:`reconstruct_drawn_cohorts` draws those choices for each
cohort, reconstructs it (every published target must still be met) and records what was drawn
in the cohort's provenance; a draw that fails is reported and replaced by the next seed, never
dropped in silence. The analysis of M such cohorts, pooled by mixing (Zhou & Reiter 2010), is
:mod:`cit_bayes.analyses.reconstructions`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cit_bayes._paths import models_dir
from cit_bayes.config import build_sections, canonical_hash, read_toml, setting
from cit_bayes.exceptions import ReconstructionError
from cit_bayes.reconstruct.cohorts import ReconstructedCohort, reconstruct_cohort
from cit_bayes.reconstruct.plan import PlanHead, ReconstructionPlan, load_reconstruction_plan
from cit_bayes.reconstruct.targets import published_targets

__all__ = [
    "ReconstructionUncertainty",
    "assumption_seed",
    "draw_assumptions",
    "load_reconstruction_uncertainty",
    "reconstruct_drawn_cohorts",
]

_LOADING_LIMIT = 0.9


@dataclass(frozen=True)
class _Prognosis:
    sd: float = setting(low=0.0, high=5.0)


@dataclass(frozen=True)
class _Loadings:
    half_width: float = setting(low=0.0, high=1.0)


@dataclass(frozen=True)
class _Recovered:
    half_width: int = setting(low=0, high=50)


@dataclass(frozen=True)
class _OrderNoise:
    range: tuple[float, float] = setting(low=0.0, high=100.0, open_low=True)

    def __post_init__(self):
        if not self.range[0] <= self.range[1]:
            raise ValueError(f"range must be increasing, got {list(self.range)}")


_SECTIONS = {
    "plan": PlanHead,
    "prognosis": _Prognosis,
    "loadings": _Loadings,
    "recovered": _Recovered,
    "order_noise": _OrderNoise,
}


@dataclass(frozen=True)
class ReconstructionUncertainty:
    """The priors of a reconstruction's open choices (``models/reconstruction-uncertainty.toml``).

    Examples
    --------
    >>> u = load_reconstruction_uncertainty()
    >>> u.prognosis_sd, u.loading_half_width, u.recovered_half_width, u.order_noise_range
    (0.35, 0.2, 4, (0.5, 2.0))
    """

    name: str
    source: str
    sha256: str
    prognosis_sd: float
    loading_half_width: float
    recovered_half_width: int
    order_noise_range: tuple[float, float]

    def as_dict(self) -> dict:
        """JSON-safe: the file, its hash and every prior."""
        return {
            "name": self.name,
            "file": self.source,
            "sha256": self.sha256,
            "prognosis": f"Normal(plan value, {self.prognosis_sd:g}) per log odds ratio",
            "loadings": f"Uniform(plan value -/+ {self.loading_half_width:g}), clipped to "
            f"[-{_LOADING_LIMIT:g}, {_LOADING_LIMIT:g}]",
            "recovered": f"uniform whole numbers within {self.recovered_half_width} of the plan's "
            "value, at most the arm's responders",
            "order_noise": f"log-uniform on [{self.order_noise_range[0]:g}, "
            f"{self.order_noise_range[1]:g}]",
        }


def load_reconstruction_uncertainty(path: str | Path | None = None) -> ReconstructionUncertainty:
    """Read the priors (default ``models/reconstruction-uncertainty.toml``).

    Examples
    --------
    >>> load_reconstruction_uncertainty("missing.toml")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: reconstruction uncertainty not found: missing.toml
    """
    path = Path(path) if path is not None else models_dir() / "reconstruction-uncertainty.toml"
    document = read_toml(path, "reconstruction uncertainty")
    sections = build_sections(document.data, path.name, _SECTIONS, optional=("plan",))
    return ReconstructionUncertainty(
        name=sections["plan"].name,
        source=path.name,
        sha256=canonical_hash(document.data),
        prognosis_sd=float(sections["prognosis"].sd),
        loading_half_width=float(sections["loadings"].half_width),
        recovered_half_width=int(sections["recovered"].half_width),
        order_noise_range=tuple(float(v) for v in sections["order_noise"].range),
    )


def assumption_seed(seed: int, draw: int) -> np.random.SeedSequence:
    """The stream that draws cohort ``draw``'s assumptions: apart from the streams the
    reconstruction itself spawns from the same seed and draw.

    Examples
    --------
    >>> assumption_seed(1, 2).spawn_key
    (1, 1000)
    """
    if draw < 1 or seed < 0:
        raise ReconstructionError(f"need seed >= 0 and draw >= 1, got {seed}, {draw}")
    return np.random.SeedSequence(int(seed), spawn_key=(int(draw) - 1, 1000))


def draw_assumptions(
    plan: ReconstructionPlan,
    uncertainty: ReconstructionUncertainty,
    rng: np.random.Generator,
    responders: dict[str, int],
) -> ReconstructionPlan:
    """The plan with its open choices drawn from their priors.

    Examples
    --------
    >>> plan = load_reconstruction_plan()
    >>> drawn = draw_assumptions(plan, load_reconstruction_uncertainty(),
    ...                          np.random.default_rng(1), {a: 60 for a in plan.recovered})
    >>> drawn.prognosis["stage_iv"] != plan.prognosis["stage_iv"], drawn.plan_hash == plan.plan_hash
    (True, True)
    """
    prognosis = {
        term: float(np.clip(rng.normal(value, uncertainty.prognosis_sd), -5.0, 5.0))
        for term, value in plan.prognosis.items()
    }
    width = uncertainty.loading_half_width
    loadings = {
        name: float(np.clip(rng.uniform(value - width, value + width), -_LOADING_LIMIT, _LOADING_LIMIT))
        for name, value in plan.loadings.items()
    }  # fmt: skip
    recovered = {}
    for arm, value in plan.recovered.items():
        low = max(0, value - uncertainty.recovered_half_width)
        high = min(responders[arm], value + uncertainty.recovered_half_width)
        recovered[arm] = int(rng.integers(low, high + 1))
    low, high = np.log(uncertainty.order_noise_range)
    order_noise = float(np.exp(rng.uniform(low, high)))
    return dataclasses.replace(
        plan, prognosis=prognosis, loadings=loadings, recovered=recovered, order_noise=order_noise
    )


def reconstruct_drawn_cohorts(
    m: int,
    seed: int,
    *,
    plan: ReconstructionPlan | str | Path | None = None,
    uncertainty: ReconstructionUncertainty | str | Path | None = None,
    max_failures: int | None = None,
) -> tuple[list[ReconstructedCohort], list[dict]]:
    """``m`` cohorts, each with its open choices drawn from their priors.

    Draw k (k = 1, 2, ...) uses :func:`assumption_seed` for its choices and the reconstruction's
    own streams of ``seed`` and k. A draw whose reconstruction fails or misses a published
    target is recorded (draw, error) and the next draw is tried, until ``m`` cohorts passed.

    Returns
    -------
    (list of ReconstructedCohort, list of dict)
        The cohorts (each with ``drawn``: the priors' file and hash) and the failed draws.

    Raises
    ------
    ReconstructionError
        After ``max_failures`` failed draws (default ``m``).

    Examples
    --------
    >>> cohorts, failed = reconstruct_drawn_cohorts(1, 7)
    >>> cohorts[0].drawn["file"], cohorts[0].passed
    ('reconstruction-uncertainty.toml', True)
    """
    if m < 1:
        raise ReconstructionError(f"need at least one reconstruction, got {m}")
    if not isinstance(plan, ReconstructionPlan):
        plan = load_reconstruction_plan(plan)
    if not isinstance(uncertainty, ReconstructionUncertainty):
        uncertainty = load_reconstruction_uncertainty(uncertainty)
    targets = published_targets(tolerances=plan.tolerances)
    responders = {arm: target.responders for arm, target in targets.arms.items()}
    limit = m if max_failures is None else int(max_failures)
    cohorts: list[ReconstructedCohort] = []
    failures: list[dict] = []
    draw = 0
    while len(cohorts) < m:
        draw += 1
        rng = np.random.default_rng(assumption_seed(seed, draw))
        drawn = draw_assumptions(plan, uncertainty, rng, responders)
        try:
            result = reconstruct_cohort(seed, draw=draw, plan=drawn, targets=targets)
        except ReconstructionError as error:
            failures.append({"draw": draw, "error": str(error)})
        else:
            if result.passed:
                cohorts.append(dataclasses.replace(result, drawn=uncertainty.as_dict()))
            else:
                gates = result.fidelity[result.fidelity["gate"]]
                missed = ", ".join(gates.loc[~gates["passed"], "check"].astype(str))
                failures.append({"draw": draw, "error": f"published targets missed: {missed}"})
        if len(failures) > limit:
            raise ReconstructionError(
                f"{len(failures)} of {draw} drawn reconstructions failed (more than {limit}): "
                + "; ".join(f"draw {f['draw']}: {f['error']}" for f in failures[:3])
            )
    return cohorts, failures
