r"""Bias analysis with a latent binary confounder U: bias-adjusted posteriors of two arms' risks.

The model (McCandless, Gustafson & Levy 2007, at the level of each arm's marginal risk). An
unmeasured binary characteristic U has prevalence :math:`\pi_a` in arm *a* and raises the log odds
of the (favourable) outcome by :math:`\gamma` in every arm, beyond the measured covariates the
analysis adjusted for:

.. math::
    p_a^{obs} = \pi_a\,\operatorname{expit}(\eta_a + \gamma) + (1 - \pi_a)\,\operatorname{expit}(\eta_a),
    \qquad
    p_a^{adj} = \pi^*\,\operatorname{expit}(\eta_a + \gamma) + (1 - \pi^*)\,\operatorname{expit}(\eta_a),

where :math:`p_a^{obs}` is the arm's adjusted (for the measured covariates) risk the model
reports and :math:`p_a^{adj}` the risk had U had the same prevalence :math:`\pi^*` in both arms
(the U-adjusted risk in the target population; :math:`\pi^*` is the arms' size-weighted mean
prevalence). U is not measured, so :math:`(\pi_a, \gamma)` are not identified: they get stated
priors (:class:`ConfoundingPrior`), and in the *transparent* parametrisation (Gustafson 2005:
the identified risks :math:`p^{obs}` and the bias parameters a priori independent) the data
leave the bias parameters' prior unchanged and the joint posterior is the model's posterior
of :math:`p^{obs}` times that prior. Each posterior draw of :math:`p^{obs}` is therefore paired
with one draw of :math:`(\pi_a, \gamma)` from its prior, :math:`\eta_a` solved (the left-hand
equation is monotone in :math:`\eta_a`; safeguarded Newton) and :math:`p^{adj}` computed: these are
exact draws of the bias-adjusted posterior, without refitting the outcome model (which a
latent-U refit would need for every confounder strength of the tipping-point surface).

Assumptions, stated in the report: U is independent of the measured covariates within each arm;
its effect :math:`\gamma` is the same in both arms and acts on each arm's marginal log odds; the
direction is the one adverse to "focus better than reference" (U favourable and commoner in the
focus arm), so the analysis asks how far the answer could fall, not whether it could rise.

With :math:`\gamma = 0` or :math:`\pi_{focus} = \pi_{reference}` the adjusted draws equal the
reported ones (a test).

References
----------
McCandless, L. C., Gustafson, P. & Levy, A. (2007). Bayesian sensitivity analysis for unmeasured
confounding in observational studies. *Statistics in Medicine* 26(11), 2331-2347.
Gustafson, P. (2005). On model expansion, model contraction, identifiability and prior
information. *Statistical Science* 20(2), 111-140.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from cit_bayes.config import setting
from cit_bayes.exceptions import ModelError

__all__ = [
    "ConfoundingPrior",
    "adjust_risk",
    "bias_adjusted",
    "draw_bias_parameters",
    "tipping_surface",
]

_TOLERANCE = 1e-12  # on the observed risk
_MAX_STEPS = 60


def _solve_eta(p, pi, gamma):
    """eta with pi expit(eta + gamma) + (1 - pi) expit(eta) = p, by Newton's method kept inside
    the bracket [logit p - max(gamma, 0), logit p - min(gamma, 0)] (the left side is a mixture of
    two increasing logistic curves, so the root lies there) and bisection where a step leaves it."""
    shape = np.broadcast_shapes(p.shape, pi.shape, gamma.shape)
    p, pi, gamma = (np.broadcast_to(v, shape) for v in (p, pi, gamma))
    logit = np.log(p) - np.log1p(-p)
    low = logit - np.maximum(gamma, 0.0) - 1e-9
    high = logit - np.minimum(gamma, 0.0) + 1e-9
    eta = logit - pi * gamma
    for _ in range(_MAX_STEPS):
        upper, lower = expit(eta + gamma), expit(eta)
        error = pi * upper + (1.0 - pi) * lower - p
        if np.max(np.abs(error)) < _TOLERANCE:
            break
        low = np.where(error < 0, eta, low)
        high = np.where(error > 0, eta, high)
        slope = pi * upper * (1.0 - upper) + (1.0 - pi) * lower * (1.0 - lower)
        step = eta - error / slope
        eta = np.where((step > low) & (step < high), step, 0.5 * (low + high))
    return eta


@dataclass(frozen=True)
class ConfoundingPrior:
    """Priors of the latent confounder U (plan section ``[unmeasured_confounding]``, optional).

    Attributes
    ----------
    prevalence_reference : (float, float)
        Bounds of the uniform prior of U's prevalence in the reference arm.
    prevalence_difference : (float, float)
        Bounds of the uniform prior of (prevalence in the focus arm) - (in the reference arm),
        the direction adverse to "focus better".
    log_odds_ratio_mean, log_odds_ratio_sd : float
        Normal prior of U's effect on the log odds of the favourable outcome (response,
        recovery by the horizon): by default odds ratio 2 (log 0.69), SD 0.35 (95 % between
        about 1 and 4).
    max_odds_ratio : float
        The largest odds ratio of U shown on the tipping-point surface.

    Examples
    --------
    >>> ConfoundingPrior().prevalence_difference
    (0.0, 0.2)
    """

    prevalence_reference: tuple[float, float] = setting((0.2, 0.6), low=0.0, high=1.0)
    prevalence_difference: tuple[float, float] = setting((0.0, 0.2), low=0.0, high=1.0)
    log_odds_ratio_mean: float = setting(0.69, low=0.0)
    log_odds_ratio_sd: float = setting(0.35, low=0.0)
    max_odds_ratio: float = setting(6.0, low=1.0, open_low=True)

    def __post_init__(self):
        for name in ("prevalence_reference", "prevalence_difference"):
            low, high = (float(v) for v in getattr(self, name))
            if not 0.0 <= low <= high <= 1.0:
                raise ModelError(f"{name} must be bounds 0 <= low <= high <= 1, got {low, high}")
            object.__setattr__(self, name, (low, high))
        if self.prevalence_reference[1] + self.prevalence_difference[1] > 1.0:
            raise ModelError(
                "prevalence_reference's upper bound plus prevalence_difference's must be at "
                "most 1 (a prevalence in the focus arm above 1 otherwise)"
            )

    def as_dict(self) -> dict:
        """JSON-safe values."""
        return {
            "prevalence_reference": list(self.prevalence_reference),
            "prevalence_difference": list(self.prevalence_difference),
            "log_odds_ratio_mean": self.log_odds_ratio_mean,
            "log_odds_ratio_sd": self.log_odds_ratio_sd,
            "max_odds_ratio": self.max_odds_ratio,
        }


def _risks(values, name: str) -> np.ndarray:
    risk = np.asarray(values, dtype=float)
    if not np.all((risk > 0.0) & (risk < 1.0)):
        raise ModelError(f"{name} must lie strictly between 0 and 1")
    return risk


def adjust_risk(observed, prevalence, log_odds_ratio, target_prevalence):
    """An arm's risk had U had prevalence ``target_prevalence`` instead of ``prevalence``.

    Solves pi expit(eta + gamma) + (1 - pi) expit(eta) = observed for eta (safeguarded Newton
    on a monotone function, to 1e-12 on the risk) and returns pi* expit(eta + gamma) + (1 - pi*) expit(eta); every argument
    broadcasts.

    Examples
    --------
    >>> float(adjust_risk(0.6, 0.5, 0.0, 0.2))  # U without effect: nothing changes
    0.6
    >>> round(float(adjust_risk(0.6, 0.7, np.log(3), 0.5)), 4)  # U commoner here than in the target
    0.5469
    """
    p = _risks(observed, "observed risks")
    pi = np.asarray(prevalence, dtype=float)
    target = np.asarray(target_prevalence, dtype=float)
    gamma = np.asarray(log_odds_ratio, dtype=float)
    if np.any((pi < 0) | (pi > 1)) or np.any((target < 0) | (target > 1)):
        raise ModelError("prevalences must lie in [0, 1]")
    eta = _solve_eta(p, pi, gamma)
    out = target * expit(eta + gamma) + (1.0 - target) * expit(eta)
    # where U changes nothing (no effect, or the same prevalence) the answer is exactly p
    out = np.where((gamma == 0.0) | (pi == target), p, out)
    return out if out.ndim else float(out)


def draw_bias_parameters(prior: ConfoundingPrior, size: int, rng: np.random.Generator) -> dict:
    """``size`` draws of U's prevalences and log odds ratio from their priors.

    Examples
    --------
    >>> draws = draw_bias_parameters(ConfoundingPrior(), 1000, np.random.default_rng(1))
    >>> bool(np.all(draws["prevalence_focus"] >= draws["prevalence_reference"]))
    True
    """
    if not isinstance(rng, np.random.Generator):
        raise ModelError("draw_bias_parameters needs a numpy Generator")
    reference = rng.uniform(*prior.prevalence_reference, size=size)
    difference = rng.uniform(*prior.prevalence_difference, size=size)
    gamma = rng.normal(prior.log_odds_ratio_mean, prior.log_odds_ratio_sd, size=size)
    return {
        "prevalence_reference": reference,
        "prevalence_focus": reference + difference,
        "log_odds_ratio": gamma,
    }


def bias_adjusted(
    focus, reference, bias: dict, *, focus_share: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """The focus and reference arms' risks adjusted for U, draw by draw.

    Parameters
    ----------
    focus, reference : array_like
        Posterior draws of the two arms' risks (same shape, flattened).
    bias : dict
        One draw of U's parameters per posterior draw (:func:`draw_bias_parameters`).
    focus_share : float
        The focus arm's share of the two arms' patients: the target prevalence is
        ``focus_share * pi_focus + (1 - focus_share) * pi_reference``.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> focus, reference = np.full(4, 0.7), np.full(4, 0.5)
    >>> bias = draw_bias_parameters(ConfoundingPrior(log_odds_ratio_sd=0.0), 4, rng)
    >>> f, r = bias_adjusted(focus, reference, bias)
    >>> bool(np.all(f - r < 0.2))  # U commoner in the focus arm: the difference shrinks
    True
    """
    focus = np.ravel(np.asarray(focus, dtype=float))
    reference = np.ravel(np.asarray(reference, dtype=float))
    if focus.shape != reference.shape:
        raise ModelError("focus and reference draws need the same number of draws")
    if not 0.0 <= focus_share <= 1.0:
        raise ModelError(f"focus_share must lie in [0, 1], got {focus_share}")
    pi_f, pi_r = bias["prevalence_focus"], bias["prevalence_reference"]
    gamma = bias["log_odds_ratio"]
    if not all(np.shape(v) == focus.shape for v in (pi_f, pi_r, gamma)):
        raise ModelError("need one draw of the bias parameters per posterior draw")
    target = pi_r + focus_share * (pi_f - pi_r)  # exactly pi_r when the prevalences agree
    return adjust_risk(focus, pi_f, gamma, target), adjust_risk(reference, pi_r, gamma, target)


def tipping_surface(focus, reference, differences, odds_ratios) -> np.ndarray:
    """P(focus > reference) after adjusting for a U of fixed strength, on a grid.

    U's prevalence is 0.5 + d/2 in the focus arm and 0.5 - d/2 in the reference arm (target
    0.5) for each prevalence difference d, and its odds ratio on the outcome is each of
    ``odds_ratios``.

    Returns
    -------
    numpy.ndarray, shape (len(odds_ratios), len(differences))

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> focus, reference = rng.beta(70, 30, 4000), rng.beta(55, 45, 4000)
    >>> surface = tipping_surface(focus, reference, [0.0, 0.5], [1.0, 4.0])
    >>> bool(surface[0, 0] == surface[0, 1] == surface[1, 0]), bool(surface[1, 1] < surface[0, 0])
    (True, True)
    """
    focus = np.ravel(np.asarray(focus, dtype=float))
    reference = np.ravel(np.asarray(reference, dtype=float))
    differences = np.asarray(differences, dtype=float)
    odds_ratios = np.asarray(odds_ratios, dtype=float)
    if np.any((differences < 0) | (differences > 1)) or np.any(odds_ratios <= 0):
        raise ModelError("need prevalence differences in [0, 1] and positive odds ratios")
    surface = np.empty((odds_ratios.size, differences.size))
    for i, ratio in enumerate(odds_ratios):
        gamma = np.log(ratio)
        for j, d in enumerate(differences):
            f = adjust_risk(focus, 0.5 + d / 2, gamma, 0.5)
            r = adjust_risk(reference, 0.5 - d / 2, gamma, 0.5)
            surface[i, j] = np.mean(f > r)
    return surface
