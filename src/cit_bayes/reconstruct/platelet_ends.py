"""The two ends of each reconstructed platelet path: the baseline and the day-14 count.

Steps 1 and 2 of :func:`cit_bayes.reconstruct.platelets.generate_arm_platelets` (its module
docstring gives all five): baselines drawn with the arm's day-0 mean and SD and assigned so that
each patient's class can be met from them (:func:`arm_baselines`), and day-14 counts as
baseline + ΔPLT, ΔPLT drawn from the published quartiles and moments and matched to the
patients inside the range each class allows (:func:`day14_rises`, :func:`class_range14`).
"""

from __future__ import annotations

import math

import numpy as np

from cit_bayes.exceptions import ReconstructionError
from cit_bayes.reconstruct.rules import (
    NON_RESPONDER,
    RECOVERED,
    RESPONDER_NOT_RECOVERED,
    THRESHOLD,
    TrajectoryChecker,
)
from cit_bayes.reconstruct.targets import ArmPlateletTargets

__all__ = ["arm_baselines", "class_range14", "day14_rises"]


def arm_baselines(
    target: ArmPlateletTargets, outcome, recovery_day, checker: TrajectoryChecker, rng
) -> np.ndarray:
    """Step 1: integer baselines near the arm's day-0 mean and SD, assigned to the patients so
    that each one's class and recovery day can be met from its baseline.

    Examples
    --------
    >>> from cit_bayes.reconstruct.platelet_ends import arm_baselines
    >>> import numpy as np
    >>> from cit_bayes.reconstruct.rules import (NON_RESPONDER, RECOVERED,
    ...     RESPONDER_NOT_RECOVERED, TrajectoryChecker, TrajectoryRules)
    >>> from cit_bayes.reconstruct.targets import ArmPlateletTargets
    >>> checker = TrajectoryChecker(TrajectoryRules())
    >>> outcome = [NON_RESPONDER, NON_RESPONDER, RESPONDER_NOT_RECOVERED, RECOVERED, RECOVERED]
    >>> recovery_day = [0, 0, 0, 7, 14]
    >>> target = ArmPlateletTargets(5, mean=(50.0, 60.0, 80.0, 100.0),
    ...                             sd=(12.0, 15.0, 25.0, 35.0), delta_quartiles=(20.0, 50.0, 80.0))
    >>> baseline = arm_baselines(target, outcome, recovery_day, checker, np.random.default_rng(1))
    >>> len(baseline), all(10 <= b <= 99 for b in baseline)  # inside the CIT range
    (5, True)
    """
    values = _draw_baselines(len(outcome), target, checker.rules, rng)
    return _assign_baselines(values, outcome, recovery_day, checker, rng)


def day14_rises(
    target: ArmPlateletTargets, baseline, outcome, score, checker: TrajectoryChecker, rng
) -> list[int]:
    """Step 2: each patient's ΔPLT (day 14 - day 0), drawn from the arm's published quartiles
    and day-14 moments and matched to the patients inside the range their class allows, larger
    rises to higher prognostic ``score`` within a class.

    Examples
    --------
    >>> from cit_bayes.reconstruct.platelet_ends import arm_baselines, day14_rises
    >>> import numpy as np
    >>> from cit_bayes.reconstruct.rules import (NON_RESPONDER, RECOVERED,
    ...     RESPONDER_NOT_RECOVERED, TrajectoryChecker, TrajectoryRules)
    >>> from cit_bayes.reconstruct.targets import ArmPlateletTargets
    >>> checker = TrajectoryChecker(TrajectoryRules())
    >>> outcome = [NON_RESPONDER, NON_RESPONDER, RESPONDER_NOT_RECOVERED, RECOVERED, RECOVERED]
    >>> recovery_day = [0, 0, 0, 7, 14]
    >>> target = ArmPlateletTargets(5, mean=(50.0, 60.0, 80.0, 100.0),
    ...                             sd=(12.0, 15.0, 25.0, 35.0), delta_quartiles=(20.0, 50.0, 80.0))
    >>> rng = np.random.default_rng(1)
    >>> baseline = [int(b) for b in arm_baselines(target, outcome, recovery_day, checker, rng)]
    >>> rises = day14_rises(target, baseline, outcome, np.zeros(5), checker, rng)
    >>> [b + d >= 100 for b, d in zip(baseline, rises)]  # only the recovered reach 100
    [False, False, False, True, True]
    """
    return _match_deltas(
        _draw_deltas(len(outcome), target, rng), baseline, outcome, score, checker, rng
    )


def _draw_baselines(n: int, target: ArmPlateletTargets, rules, rng) -> np.ndarray:
    """Integer baselines in range whose mean and SD are close to the targets."""
    z = rng.standard_normal(n)
    z = (z - z.mean()) / z.std(ddof=1)
    values = target.mean[0] + z * target.sd[0]
    for _ in range(50):  # squeeze into range while keeping the moments
        values = np.clip(values, rules.min_baseline, rules.max_baseline)
        values = target.mean[0] + (values - values.mean()) * target.sd[0] / values.std(ddof=1)
        if values.min() >= rules.min_baseline and values.max() <= rules.max_baseline:
            break
    return np.clip(np.rint(values), rules.min_baseline, rules.max_baseline).astype(int)


def _baseline_ok(baseline: int, outcome: int, recovery_day: int, checker) -> bool:
    """Whether some trajectory of the class exists from this baseline (necessary condition)."""
    rules = checker.rules
    if outcome == RESPONDER_NOT_RECOVERED:
        return checker.first_met[baseline] < THRESHOLD
    if outcome == RECOVERED:
        reach = next(day for day in (3, 7, 14) if day >= recovery_day)
        if baseline * rules.max_daily_rise**reach < THRESHOLD:
            return False
        fastest = math.log(THRESHOLD / baseline) / math.log(rules.max_daily_rise)
        return math.ceil(fastest) <= recovery_day + rules.interpolation_slack_days
    return True


def _assign_baselines(values, outcome, recovery_day, checker, rng) -> np.ndarray:
    """Assign baselines to patients at random, then swap (or, failing that, nudge) until each
    patient's class can be met from its baseline."""
    n = len(values)
    rules = checker.rules
    baseline = [int(v) for v in values[rng.permutation(n)]]

    def ok(value: int, i: int) -> bool:
        return _baseline_ok(value, outcome[i], recovery_day[i], checker)

    for i in [int(k) for k in rng.permutation(n)]:
        if ok(baseline[i], i):
            continue
        partners = [j for j in range(n) if ok(baseline[j], i) and ok(baseline[i], j)]
        if partners:
            j = partners[int(rng.integers(len(partners)))]
            baseline[i], baseline[j] = baseline[j], baseline[i]
            continue
        allowed = [v for v in range(rules.min_baseline, rules.max_baseline + 1) if ok(v, i)]
        if not allowed:
            raise ReconstructionError(
                f"no baseline count allows outcome class {outcome[i]} with recovery day "
                f"{recovery_day[i]} under the trajectory rules"
            )
        baseline[i] = min(allowed, key=lambda v: abs(v - baseline[i]))
    return np.array(baseline, dtype=int)


def class_range14(baseline: int, outcome: int, checker) -> tuple[int, int]:
    """Range of day-14 counts of a non-recovered patient of this class.

    Examples
    --------
    >>> from cit_bayes.reconstruct.platelet_ends import class_range14
    >>> from cit_bayes.reconstruct.rules import (NON_RESPONDER, RESPONDER_NOT_RECOVERED,
    ...     TrajectoryChecker, TrajectoryRules)
    >>> checker = TrajectoryChecker(TrajectoryRules())
    >>> low, high = class_range14(40, NON_RESPONDER, checker)
    >>> high < 80  # a non-responder never doubles its baseline of 40
    True
    >>> class_range14(40, RESPONDER_NOT_RECOVERED, checker)[1]  # and a responder stays below 100
    99
    """
    rules = checker.rules
    floor = max(rules.min_count, math.ceil(baseline * rules.max_daily_fall**14))
    first_met = checker.first_met[baseline]
    if outcome == NON_RESPONDER:
        return floor, max(floor, min(first_met, THRESHOLD) - 1)
    return max(floor, first_met), THRESHOLD - 1


def _delta_quantile(u: np.ndarray, quartiles, lower_scale: float, upper_scale: float):
    """ΔPLT quantile function: linear between the quartiles, exponential tails outside."""
    q1, median, q3 = quartiles
    inner = np.where(
        u < 0.5,
        median + (u - 0.5) / 0.25 * (median - q1),
        median + (u - 0.5) / 0.25 * (q3 - median),
    )
    lower = q1 - lower_scale * -np.log(np.clip(u / 0.25, 1e-12, 1.0))
    upper = q3 + upper_scale * -np.log(np.clip(1.0 - (u - 0.75) / 0.25, 1e-12, 1.0))
    return np.where(u < 0.25, lower, np.where(u > 0.75, upper, inner))


def _draw_deltas(n: int, target: ArmPlateletTargets, rng) -> np.ndarray:
    r"""A stratified sample of ΔPLT whose quartiles, mean and spread match the published ones.

    The quantile function is linear between the published quartiles, with exponential tails
    :math:`Q_1 - s_l(-\log(u/0.25))` and :math:`Q_3 + s_u(-\log(1 - (u - 0.75)/0.25))`. The
    scales are solved so that the sample mean is the day-14 mean minus the day-0 mean and the
    sample SD is :math:`\sqrt{SD_{14}^2 - SD_0^2}` (its value when baseline and change are
    independent; the repair search settles the rest). Values are drawn at stratified
    probabilities :math:`u_k = (k + U_k)/n`.
    """
    u = (np.arange(n) + rng.uniform(size=n)) / n
    quartiles = target.delta_quartiles
    goal_mean = target.mean[3] - target.mean[0]
    goal_sd = math.sqrt(max(target.sd[3] ** 2 - target.sd[0] ** 2, 1.0))
    width = max(quartiles[2] - quartiles[0], 1.0)

    def upper_for(lower: float) -> float:
        low, high = 0.0, 10.0 * width
        for _ in range(50):
            mid = 0.5 * (low + high)
            if _delta_quantile(u, quartiles, lower, mid).mean() < goal_mean:
                low = mid
            else:
                high = mid
        return 0.5 * (low + high)

    low, high = 0.0, 2.0 * width
    for _ in range(40):
        mid = 0.5 * (low + high)
        if _delta_quantile(u, quartiles, mid, upper_for(mid)).std(ddof=1) < goal_sd:
            low = mid
        else:
            high = mid
    lower = 0.5 * (low + high)
    return np.rint(_delta_quantile(u, quartiles, lower, upper_for(lower))).astype(int)


def _delta_range(b: int, outcome: int, checker) -> tuple[int, int]:
    """Range of ΔPLT (day 14 minus day 0) that a patient's class allows."""
    rules = checker.rules
    if outcome == RECOVERED:
        top = min(rules.max_count, math.floor(b * rules.max_daily_rise**14))
        return THRESHOLD - b, top - b
    low, high = class_range14(b, outcome, checker)
    return low - b, high - b


def _match_deltas(values, baseline, outcome, score, checker, rng) -> list[int]:
    """Give each patient one ΔPLT value, inside the range of its class where possible.

    Values are taken in increasing order, each going to the unmatched patient whose range
    contains it and ends first (earliest-deadline-first matching); a value no range contains
    is clipped into the nearest range. Within a class, values are then swapped so that a
    higher score tends to get a larger ΔPLT, where both patients stay in range.
    """
    n = len(values)
    ranges = [_delta_range(baseline[i], outcome[i], checker) for i in range(n)]
    delta = [0] * n
    open_patients = list(range(n))
    tie = rng.uniform(size=n)
    for value in sorted(int(v) for v in values):
        eligible = [i for i in open_patients if ranges[i][0] <= value <= ranges[i][1]]
        if eligible:
            i = min(eligible, key=lambda i: (ranges[i][1], tie[i]))
            delta[i] = value
        else:
            i = min(
                open_patients,
                key=lambda i: (max(ranges[i][0] - value, value - ranges[i][1], 0), tie[i]),
            )
            delta[i] = min(max(value, ranges[i][0]), ranges[i][1])
        open_patients.remove(i)
    for cls in (NON_RESPONDER, RESPONDER_NOT_RECOVERED, RECOVERED):
        members = [i for i in range(n) if outcome[i] == cls]
        for _ in range(len(members) ** 2):
            if len(members) < 2:
                break
            i, j = rng.choice(members, size=2, replace=False)
            if (score[i] - score[j]) * (delta[i] - delta[j]) < 0:
                if (
                    ranges[i][0] <= delta[j] <= ranges[i][1]
                    and ranges[j][0] <= delta[i] <= ranges[j][1]
                ):
                    delta[i], delta[j] = delta[j], delta[i]
    return delta
