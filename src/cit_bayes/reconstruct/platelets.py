r"""Starting platelet trajectories of one reconstructed arm.

Given each patient's outcome class and recovery day (see
:mod:`cit_bayes.reconstruct.rules`), :func:`generate_arm_platelets` draws integer
counts on days 0, 3, 7 and 14 that obey every rule and lie close to the arm's published
moments, in five steps:

1. baselines drawn from a normal distribution moment-matched to the day-0 mean and SD, squeezed
   into the CIT range, and assigned at random (then swapped where a class needs it, e.g. a
   responder who never reaches 100 needs a baseline below 50);
2. day-14 counts as baseline + ΔPLT: a stratified sample of ΔPLT from a quantile function that
   is linear between the published Table 6 quartiles, with exponential tails fitted to the
   Table 4 day-14 mean and SD, is matched to patients inside the range each class allows
   (earliest-deadline-first), then swapped within classes so that higher prognostic scores
   tend to get larger rises;
3. a smooth log-scale path per patient,
   :math:`\log x(t) = \log b + (\log x_{14} - \log b)\,h(t)`,
   :math:`h(t) = (1 - e^{-\kappa t}) / (1 - e^{-14\kappa})`, with :math:`\kappa` solved so that a
   recovered patient's path crosses 100 during the recovery day, and
   :math:`\kappa \sim N(0.15, 0.15^2)` otherwise;
4. day 7, then day 3: each path value's position :math:`p_i` inside the range
   :math:`[l_i, u_i]` that the patient's class, recovery day and neighbouring counts allow (log
   scale) is moved to :math:`\sigma(\mathrm{logit}\,p_i + c \pm d/2)` (+ for patients whose
   range lies at or above 100, i.e. early recoveries; - for the others), rank-preserving within
   each group, with the shift :math:`c` and separation :math:`d` solved so that the day's mean
   and SD match the published ones (nothing is clipped onto a bound);
5. each patient's counts are projected onto the nearest (log scale) integer point that obeys
   every rule exactly.

Steps 1 and 2 (the two ends of each path) are in :mod:`cit_bayes.reconstruct.platelet_ends`.
The arm's moments are then met by :func:`cit_bayes.reconstruct.repair.repair_arm_platelets`.
"""

from __future__ import annotations

import math

import numpy as np

from cit_bayes.exceptions import ReconstructionError
from cit_bayes.reconstruct.platelet_ends import arm_baselines, class_range14, day14_rises
from cit_bayes.reconstruct.rules import (
    NON_RESPONDER,
    RECOVERED,
    RESPONDER_NOT_RECOVERED,
    THRESHOLD,
    TrajectoryChecker,
)
from cit_bayes.reconstruct.targets import ArmPlateletTargets

__all__ = ["generate_arm_platelets"]

_LOG_T = math.log(THRESHOLD)
_WINDOW = 40  # candidates per day examined by the projection


def _shape(day: float, kappa: float) -> float:
    """Share of the log-distance from baseline to day 14 covered by ``day``."""
    if abs(kappa) < 1e-9:
        return day / 14.0
    return (1.0 - math.exp(-kappa * day)) / (1.0 - math.exp(-14.0 * kappa))


def _solve_kappa(crossing: float, share: float) -> float:
    """The ``kappa`` whose path covers ``share`` of the log-distance by day ``crossing``."""
    low, high = -1.5, 3.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        if _shape(crossing, mid) < share:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def _day7_bounds(b, d14, outcome, r, checker) -> tuple[float, float]:
    """Range of the day-7 count given baseline, day 14, class and recovery day (approximate)."""
    rules, up, down = checker.rules, checker.up, checker.down
    low = max(rules.min_count, d14 / up[2], b * down[0] * down[1])
    high = min(rules.max_count, d14 / down[2], b * up[0] * up[1])
    if outcome == NON_RESPONDER:
        high = min(high, checker.first_met[b] - 1)
    elif outcome == RESPONDER_NOT_RECOVERED:
        high = min(high, THRESHOLD - 1)
    elif r <= 7:
        low = max(low, THRESHOLD)
        if r > 3:
            high = min(high, (THRESHOLD - 1) * up[1])
    else:
        high = min(high, THRESHOLD - 1)
        slack = rules.interpolation_slack_days
        log14 = math.log(max(d14, THRESHOLD + 1))
        latest = r + slack  # crossing no later than this: a lower bound on day 7
        if latest < 14:
            w = (latest - 7) / 7
            low = max(low, math.exp((_LOG_T - w * log14) / (1 - w)))
        earliest = r - slack - 1  # crossing after this: an upper bound on day 7
        if earliest > 7:
            w = (earliest - 7) / 7
            high = min(high, math.exp((_LOG_T - w * log14) / (1 - w)))
    return low, max(low, high)


def _day3_bounds(b, d7, outcome, r, checker) -> tuple[float, float]:
    """Range of the day-3 count given baseline, day 7, class and recovery day (approximate)."""
    rules, up, down = checker.rules, checker.up, checker.down
    low = max(rules.min_count, b * down[0], d7 / up[1])
    high = min(rules.max_count, b * up[0], d7 / down[1])
    slack = rules.interpolation_slack_days
    if outcome == NON_RESPONDER:
        high = min(high, checker.first_met[b] - 1)
    elif outcome == RESPONDER_NOT_RECOVERED or r > 7:
        high = min(high, THRESHOLD - 1)
    elif r > 3:  # crossing between day 3 and day 7
        high = min(high, THRESHOLD - 1)
        log7 = math.log(max(d7, THRESHOLD))
        latest, earliest = r + slack, r - slack - 1
        if latest < 7:
            w = (latest - 3) / 4
            low = max(low, math.exp((_LOG_T - w * log7) / (1 - w)))
        if earliest > 3:
            w = (earliest - 3) / 4
            high = min(high, math.exp((_LOG_T - w * log7) / (1 - w)))
    else:  # crossing between day 0 and day 3
        low = max(low, THRESHOLD)
        log0 = math.log(b)
        latest, earliest = r + slack, r - slack - 1
        if latest < 3:
            low = max(low, math.exp(log0 + (_LOG_T - log0) * 3 / latest))
        if earliest > 0:
            high = min(high, math.exp(log0 + (_LOG_T - log0) * 3 / earliest))
    return low, max(low, high)


def _calibrate(natural, low, high, mean, sd, upper_group) -> np.ndarray:
    """Rank-preserving map of ``natural`` into each ``[low_i, high_i]`` with the given moments.

    Each value's position in its own range, on the log scale, :math:`p_i`, is moved to
    :math:`\\sigma(\\mathrm{logit}\\,p_i + c \\pm d/2)`, with :math:`+` for the patients of
    ``upper_group`` (those whose range lies at or above 100, the early recoveries) and :math:`-`
    for the others; the shift :math:`c` and the separation :math:`d` are solved by nested
    bisection so that the mean and SD of the mapped values match. No value is clipped onto a
    bound.
    """
    log_low = np.log(np.maximum(low, 1.0))
    log_high = np.log(np.maximum(high, 1.0))
    span = np.maximum(log_high - log_low, 0.0)
    free = span > 1e-9
    position = np.full(len(natural), 0.5)
    position[free] = (np.log(np.maximum(natural[free], 1.0)) - log_low[free]) / span[free]
    position = np.clip(position, 0.02, 0.98)
    logit = np.log(position / (1 - position))
    side = np.where(upper_group, 0.5, -0.5)

    def values(shift: float, separation: float) -> np.ndarray:
        moved = 1.0 / (1.0 + np.exp(-(logit + shift + side * separation)))
        return np.exp(log_low + span * moved)

    def shift_for(separation: float) -> float:
        lo, hi = -12.0, 12.0
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            if values(mid, separation).mean() < mean:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    lo, hi = -8.0, 8.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if values(shift_for(mid), mid).std(ddof=1) < sd:
            lo = mid
        else:
            hi = mid
    separation = 0.5 * (lo + hi)
    return values(shift_for(separation), separation)


def _project(b, x3, x7, d14, outcome, r, checker):
    """Nearest integer (day 3, day 7) in log distance with a feasible row, or None."""
    rules = checker.rules
    log = checker.log
    l3, l7 = math.log(max(x3, 1.0)), math.log(max(x7, 1.0))
    first = [b, int(round(x3)), int(round(x7)), d14]
    if (
        rules.min_count <= first[1] <= rules.max_count
        and rules.min_count <= first[2] <= rules.max_count
    ):
        if checker.feasible(first, outcome, r):
            return first
    lo7 = max(rules.min_count, int(x7 * 0.5))
    hi7 = min(rules.max_count, int(x7 * 2.0) + 1)
    cand7 = sorted(range(lo7, hi7 + 1), key=lambda v: abs(log[v] - l7))[:_WINDOW]
    best, best_distance = None, math.inf
    for v7 in cand7:
        d7_distance = (log[v7] - l7) ** 2
        if d7_distance >= best_distance:
            break
        low3, high3 = _day3_bounds(b, v7, outcome, r, checker)
        lo3 = max(rules.min_count, int(math.floor(low3)) - 1)
        hi3 = min(rules.max_count, int(math.ceil(high3)) + 1)
        cand3 = sorted(range(lo3, hi3 + 1), key=lambda v: abs(log[v] - l3))[:_WINDOW]
        for v3 in cand3:
            distance = d7_distance + (log[v3] - l3) ** 2
            if distance >= best_distance:
                break
            if checker.feasible([b, v3, v7, d14], outcome, r):
                best, best_distance = [b, v3, v7, d14], distance
                break
    return best


def _fallback_path(b, outcome, r, checker, rng) -> list[int]:
    """A feasible path found by random search over simple shapes (rarely needed)."""
    for _ in range(5000):
        if outcome == RECOVERED:
            end = THRESHOLD * math.exp(rng.uniform(0.0, 1.5))
            share = (_LOG_T - math.log(b)) / (math.log(end) - math.log(b))
            kappa = _solve_kappa(r - rng.uniform(0.0, 1.0), share)
        else:
            low, high = class_range14(b, outcome, checker)
            end = rng.uniform(low, high + 1)
            kappa = rng.normal(0.0, 0.3)
        log_b, span = math.log(b), math.log(end) - math.log(b)
        x3 = math.exp(log_b + span * _shape(3, kappa))
        x7 = math.exp(log_b + span * _shape(7, kappa))
        row = _project(b, x3, x7, int(round(end)), outcome, r, checker)
        if row is not None:
            return row
    raise ReconstructionError(
        f"no plausible platelet path for a patient of class {outcome} (baseline {b}, recovery "
        f"day {r}); the plan's trajectory rules may be too strict"
    )


def generate_arm_platelets(
    outcome: np.ndarray,
    recovery_day: np.ndarray,
    order_score: np.ndarray,
    target: ArmPlateletTargets,
    checker: TrajectoryChecker,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw a feasible starting set of counts (n x 4 ints) for one arm.

    Parameters
    ----------
    outcome : ndarray of int
        Class of each patient (``NON_RESPONDER``, ``RESPONDER_NOT_RECOVERED``, ``RECOVERED``).
    recovery_day : ndarray of int
        Recovery day of recovered patients (0 elsewhere).
    order_score : ndarray of float
        Prognostic score (plus noise) of each patient: within a class, a higher score gets a
        larger day-14 count.
    target : ArmPlateletTargets
        The arm's published platelet targets.
    checker : TrajectoryChecker
        The plausibility rules.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray of int, shape (n, 4)
        Counts on days 0, 3, 7, 14; every row is feasible for its class.

    Notes
    -----
    See the module docstring for the five steps. Recovered patients' paths are solved to cross
    100 during their recovery day, so their day-3 and day-7 counts agree with it by
    construction; the projection (step 5) makes every rule hold exactly.

    Examples
    --------
    Six patients of the three classes; every row obeys its class and recovery day, and the
    same seed gives the same counts:

    >>> import numpy as np
    >>> from cit_bayes.reconstruct.platelets import generate_arm_platelets
    >>> from cit_bayes.reconstruct.rules import (NON_RESPONDER, RECOVERED,
    ...     RESPONDER_NOT_RECOVERED, TrajectoryChecker, TrajectoryRules)
    >>> from cit_bayes.reconstruct.targets import ArmPlateletTargets
    >>> checker = TrajectoryChecker(TrajectoryRules())
    >>> outcome = np.array([NON_RESPONDER, NON_RESPONDER, RESPONDER_NOT_RECOVERED,
    ...                     RECOVERED, RECOVERED, RECOVERED])
    >>> recovery_day = np.array([0, 0, 0, 7, 10, 14])
    >>> target = ArmPlateletTargets(6, mean=(50.0, 60.0, 80.0, 100.0),
    ...                             sd=(12.0, 15.0, 25.0, 35.0), delta_quartiles=(20.0, 50.0, 80.0))
    >>> def draw(seed):
    ...     return generate_arm_platelets(outcome, recovery_day, np.zeros(6), target, checker,
    ...                                   np.random.default_rng(seed))
    >>> counts = draw(0)
    >>> counts.shape, all(checker.feasible(list(row), int(c), int(day))
    ...                   for row, c, day in zip(counts, outcome, recovery_day))
    ((6, 4), True)
    >>> bool((draw(0) == counts).all())
    True
    """
    rules = checker.rules
    outcome = [int(v) for v in outcome]
    recovery_day = [int(v) for v in recovery_day]
    score = np.asarray(order_score, dtype=float)
    n = len(outcome)
    baseline = [int(v) for v in arm_baselines(target, outcome, recovery_day, checker, rng)]
    # 2. day 14 = baseline + ΔPLT
    delta = day14_rises(target, baseline, outcome, score, checker, rng)
    day14 = [
        int(min(max(baseline[i] + delta[i], rules.min_count), rules.max_count)) for i in range(n)
    ]
    # 3. smooth paths
    natural3, natural7 = np.zeros(n), np.zeros(n)
    for i in range(n):
        b = baseline[i]
        if outcome[i] == RECOVERED:
            end = max(day14[i], THRESHOLD + 1)
            share = (_LOG_T - math.log(b)) / (math.log(end) - math.log(b))
            kappa = _solve_kappa(recovery_day[i] - rng.uniform(0.0, 1.0), share)
        else:
            end = day14[i]
            kappa = rng.normal(0.15, 0.15)
        span = math.log(end) - math.log(b)
        natural3[i] = b * math.exp(span * _shape(3, kappa) + rng.normal(0.0, 0.05))
        natural7[i] = b * math.exp(span * _shape(7, kappa) + rng.normal(0.0, 0.05))
    # 4. calibrate day 7, then day 3, inside each patient's range
    bounds7 = [
        _day7_bounds(baseline[i], day14[i], outcome[i], recovery_day[i], checker) for i in range(n)
    ]
    x7 = _calibrate(
        natural7,
        np.array([lo for lo, _ in bounds7]),
        np.array([hi for _, hi in bounds7]),
        target.mean[2],
        target.sd[2],
        np.array([lo >= THRESHOLD for lo, _ in bounds7]),
    )
    bounds3 = [
        _day3_bounds(baseline[i], x7[i], outcome[i], recovery_day[i], checker) for i in range(n)
    ]
    x3 = _calibrate(
        natural3,
        np.array([lo for lo, _ in bounds3]),
        np.array([hi for _, hi in bounds3]),
        target.mean[1],
        target.sd[1],
        np.array([lo >= THRESHOLD for lo, _ in bounds3]),
    )
    # 5. project onto the feasible integers
    counts = np.zeros((n, 4), dtype=int)
    for i in range(n):
        row = _project(baseline[i], x3[i], x7[i], day14[i], outcome[i], recovery_day[i], checker)
        if row is None:
            row = _fallback_path(baseline[i], outcome[i], recovery_day[i], checker, rng)
        counts[i] = row
    return counts
