"""How a fit is sampled, and the gates it must pass: :class:`SamplerSettings`.

The samplers :func:`cit_bayes.bayes.sampling.sample` can use (:data:`SAMPLERS`), the default one
and nutpie's mass-matrix adaptations, with every setting checked when the settings are made.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace

from cit_bayes.exceptions import ModelError

__all__ = ["SAMPLERS", "DEFAULT_SAMPLER", "MASS_MATRICES", "SamplerSettings"]

#: Samplers :func:`~cit_bayes.bayes.sampling.sample` can use.
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc")
#: The default, chosen by measurement (``benchmarks/bench_samplers.py``, 2 shared cores, warm
#: caches): on the joint aggregate models nutpie compiles in 12-17 s but samples in 0.7-7 s and
#: re-uses its compiled model across prior sets; PyMC compiles in about 1 s but samples in 7-9 s
#: (60 s for the hierarchical model at target_accept 0.99), on every fit. ``reanalyse
#: --published``: nutpie about 60 s warm, PyMC about twice that.
DEFAULT_SAMPLER = "nutpie"
#: nutpie's mass-matrix adaptations (:attr:`SamplerSettings.mass_matrix`).
MASS_MATRICES: tuple[str, ...] = ("low-rank", "diagonal")


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample, and the gates a fit must pass.

    Attributes
    ----------
    sampler : {"nutpie", "pymc"}
    chains, draws, tune : int
        Four chains of 1000 draws after 1000 tuning steps by default.
    cores : int or None
        Chains run in parallel; ``None`` means ``min(4, os.cpu_count())``.
    target_accept : float
        NUTS step-size adaptation target (0.9 by default: the hierarchical models have funnel-like
        corners, and a smaller step costs little on these small models).
    max_rhat, min_ess, max_divergences
        The gates: R-hat <= 1.01, bulk and tail ESS >= 400, no divergences.
    mass_matrix : {"low-rank", "diagonal"}
        nutpie's mass-matrix adaptation: ``"low-rank"`` (default) adds the leading directions of
        the draws' and gradients' covariance to the diagonal (``adaptation="low_rank"``, marked
        experimental by nutpie 0.16; every fit still has to pass the gates), ``"diagonal"`` is
        nutpie's standard diagonal adaptation (``"diag"``). Measured on the
        bundled cohort's adjusted fits (4 x 2000 draws, 2 cores; issue 17): leapfrog steps
        316,784 -> 119,960 and smallest bulk ESS 4,099 -> 9,105 for the trajectory model
        (sampling 5.1 s -> 1.9 s); bulk ESS 4,469 -> 8,978 for the response model and 2,109 ->
        3,646 for the recovery model at the same cost: the coefficients and the arm levels are
        correlated a posteriori, which a diagonal metric cannot follow. PyMC's sampler ignores it.

    Examples
    --------
    >>> from cit_bayes.bayes.sampling import SamplerSettings
    >>> settings = SamplerSettings(draws=500, cores=1)
    >>> settings.sampler, settings.chains, settings.draws, settings.resolved_cores
    ('nutpie', 4, 500, 1)
    """

    sampler: str = DEFAULT_SAMPLER
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    cores: int | None = None
    target_accept: float = 0.9
    max_rhat: float = 1.01
    min_ess: float = 400.0
    max_divergences: int = 0
    mass_matrix: str = "low-rank"

    def __post_init__(self):
        if self.mass_matrix not in MASS_MATRICES:
            raise ModelError(
                f"mass_matrix must be one of {MASS_MATRICES}, got {self.mass_matrix!r}"
            )
        if self.sampler not in SAMPLERS:
            raise ModelError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        for name in ("chains", "draws", "tune"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelError(f"{name} must be a positive integer, got {value!r}")
        if self.cores is not None and (not isinstance(self.cores, int) or self.cores < 1):
            raise ModelError(f"cores must be a positive integer or None, got {self.cores!r}")
        if not 0.5 <= self.target_accept < 1.0:
            raise ModelError(f"target_accept must lie in [0.5, 1), got {self.target_accept}")
        if self.max_rhat < 1.0 or self.min_ess < 0 or self.max_divergences < 0:
            raise ModelError("gates must be max_rhat >= 1, min_ess >= 0, max_divergences >= 0")

    @property
    def resolved_cores(self) -> int:
        """Cores actually used: ``cores``, or ``min(4, os.cpu_count())``, never above chains."""
        cores = self.cores if self.cores is not None else min(4, os.cpu_count() or 1)
        return max(1, min(cores, self.chains))

    def replace(self, **changes) -> SamplerSettings:
        """Return a copy with some fields changed."""
        return replace(self, **changes)

    def as_dict(self) -> dict:
        """Plain dict of the settings, with ``cores`` resolved."""
        return asdict(self) | {"cores": self.resolved_cores}
