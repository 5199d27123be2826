"""The prior families: the distributions a prior block declares, and their numeric parameters.

:mod:`cit_bayes.bayes.priors` reads them from ``models/priors/*.toml``; the models of
:mod:`cit_bayes.bayes.aggregate_blocks` take their parameters, shaped (blocks x arms), as data.
See :mod:`cit_bayes.bayes.priors` for the meaning of each family and the References.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from cit_bayes.exceptions import PlanError

__all__ = ["BetaPrior", "NormalPrior", "HierarchicalPrior", "frozen_mapping"]


def frozen_mapping(mapping: Mapping | None) -> Mapping:
    """A read-only copy of ``mapping`` (for the fields of frozen dataclasses).

    Examples
    --------
    >>> from cit_bayes.bayes.prior_families import frozen_mapping
    >>> arm_sd = frozen_mapping({"combination": 0.5})
    >>> arm_sd["combination"], type(arm_sd).__name__
    (0.5, 'mappingproxy')
    """
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class BetaPrior:
    """Independent Beta(a_k, b_k) priors on each arm's rate.

    Examples
    --------
    >>> from cit_bayes.bayes.prior_families import BetaPrior
    >>> prior = BetaPrior(1.0, 1.0, arm_a={"rhTPO": 14.0}, arm_b={"rhTPO": 6.0})
    >>> prior.parameters(["rhTPO", "combination"], ["response"])["alpha"].tolist()
    [[14.0, 1.0]]
    """

    a: float
    b: float
    arm_a: Mapping[str, float] = field(default_factory=lambda: frozen_mapping(None))
    arm_b: Mapping[str, float] = field(default_factory=lambda: frozen_mapping(None))
    source: str = ""
    key: str = ""

    family = "beta"

    def parameters(self, arms: Sequence[str], blocks: Sequence[str]) -> dict[str, np.ndarray]:
        """Return ``alpha`` and ``beta`` arrays of shape ``(blocks, arms)``."""
        _check_arm_keys(self.arm_a, arms, self.source, f"{self.key}.arms")
        alpha = np.array([self.arm_a.get(arm, self.a) for arm in arms], dtype=float)
        beta = np.array([self.arm_b.get(arm, self.b) for arm in arms], dtype=float)
        shape = (len(blocks), len(arms))
        return {
            "alpha": np.broadcast_to(alpha, shape).copy(),
            "beta": np.broadcast_to(beta, shape).copy(),
        }


@dataclass(frozen=True)
class NormalPrior:
    """Multivariate normal prior on the arm parameters (see the module docstring).

    Examples
    --------
    >>> from cit_bayes.bayes.prior_families import NormalPrior
    >>> prior = NormalPrior("logit", center=0.0, common_sd=1.5, between_arm_sd=0.5)
    >>> prior.shared_level, prior.covariance(["rhTPO", "combination"]).tolist()
    (True, [[2.5, 2.25], [2.25, 2.5]])
    """

    scale: str
    center: float
    common_sd: float
    between_arm_sd: float
    arm_center: Mapping[str, float] = field(default_factory=lambda: frozen_mapping(None))
    arm_sd: Mapping[str, float] = field(default_factory=lambda: frozen_mapping(None))
    shift: Mapping[str, float | Mapping[str, float]] = field(
        default_factory=lambda: frozen_mapping(None)
    )
    source: str = ""
    key: str = ""

    family = "normal"

    @property
    def shared_level(self) -> bool:
        """Whether the arms share a random level (``common_sd > 0``)."""
        return self.common_sd > 0

    def parameters(self, arms: Sequence[str], blocks: Sequence[str]) -> dict[str, np.ndarray]:
        """Return ``mean`` and ``sd`` of the arm deviations (blocks x arms) and ``common_sd``.

        The prior is ``theta_bk = m_b + delta_bk`` with ``delta_bk ~ N(mean_bk, sd_bk)`` and
        ``m_b ~ N(0, common_sd)`` (absent when ``common_sd`` is 0).
        """
        _check_arm_keys(self.arm_center, arms, self.source, f"{self.key}.arms")
        _check_arm_keys(self.arm_sd, arms, self.source, f"{self.key}.arms")
        _check_arm_keys(self.shift, arms, self.source, f"{self.key}.shift")
        mean = np.empty((len(blocks), len(arms)))
        for j, arm in enumerate(arms):
            shift = self.shift.get(arm, 0.0)
            if isinstance(shift, Mapping):
                unknown = sorted(set(shift) - set(blocks))
                if unknown:
                    raise PlanError(
                        f"{self.source}: key {self.key}.shift.{arm}: unknown block(s) {unknown}; "
                        f"expected some of {list(blocks)}"
                    )
                shifts = [float(shift.get(block, 0.0)) for block in blocks]
            else:
                shifts = [float(shift)] * len(blocks)
            mean[:, j] = self.arm_center.get(arm, self.center) + np.asarray(shifts)
        sd = np.array([self.arm_sd.get(arm, self.between_arm_sd) for arm in arms], dtype=float)
        return {
            "mean": mean,
            "sd": np.broadcast_to(sd, mean.shape).copy(),
            "common_sd": np.full(len(blocks), self.common_sd),
        }

    def covariance(self, arms: Sequence[str]) -> np.ndarray:
        """Prior covariance of the arm parameters within a block: ``common_sd^2 J + diag(sd^2)``."""
        _check_arm_keys(self.arm_sd, arms, self.source, f"{self.key}.arms")
        sd = np.array([self.arm_sd.get(arm, self.between_arm_sd) for arm in arms], dtype=float)
        return self.common_sd**2 * np.ones((len(arms), len(arms))) + np.diag(sd**2)


@dataclass(frozen=True)
class HierarchicalPrior:
    """Partial pooling: theta_k = m + tau z_k, m ~ N(center, common_sd), tau ~ HalfNormal.

    Examples
    --------
    >>> from cit_bayes.bayes.prior_families import HierarchicalPrior
    >>> prior = HierarchicalPrior("natural", center=100.0, common_sd=50.0, tau_scale=10.0)
    >>> prior.parameters(["rhTPO", "combination"], ["day3", "day7"])["tau_scale"].tolist()
    [10.0, 10.0]
    """

    scale: str
    center: float
    common_sd: float
    tau_scale: float
    source: str = ""
    key: str = ""

    family = "hierarchical"

    def parameters(self, arms: Sequence[str], blocks: Sequence[str]) -> dict[str, np.ndarray]:
        """Return ``center``, ``common_sd`` and ``tau_scale`` arrays of shape ``(blocks,)``."""
        size = len(blocks)
        return {
            "center": np.full(size, self.center),
            "common_sd": np.full(size, self.common_sd),
            "tau_scale": np.full(size, self.tau_scale),
        }


def _check_arm_keys(mapping: Mapping, arms: Sequence[str], source: str, key: str) -> None:
    unknown = sorted(set(mapping) - set(arms))
    if unknown:
        raise PlanError(
            f"{source}: key {key}: unknown arm(s) {unknown}; expected some of {list(arms)}"
        )
