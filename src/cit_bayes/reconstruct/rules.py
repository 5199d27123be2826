r"""Outcome classes and the plausibility rules of synthetic platelet trajectories.

Each synthetic patient has a fixed outcome class before any count is drawn:

* ``NON_RESPONDER``: no recorded post-baseline count meets the response criteria;
* ``RESPONDER_NOT_RECOVERED``: some count meets them, but no recorded count reaches 100;
* ``RECOVERED``: a recovery day :math:`r` (1-14) is set; recorded counts before :math:`r` stay
  below 100 and the first recorded count on or after :math:`r` (and, under the
  sustained-recovery rule, every later one) is at least 100.

The response criteria are never restated here: a lookup table ``meets[b][c]`` (baseline ``b``,
post-baseline count ``c``) is filled once from
:func:`cit_bayes.cohort.derive.meets_response_criteria`, the package's own rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cit_bayes.cohort.derive import meets_response_criteria
from cit_bayes.cohort.schema import RECOVERY_THRESHOLD
from cit_bayes.config import setting

__all__ = [
    "DAYS",
    "NON_RESPONDER",
    "RECOVERED",
    "RESPONDER_NOT_RECOVERED",
    "THRESHOLD",
    "TrajectoryChecker",
    "TrajectoryRules",
    "response_table",
]

NON_RESPONDER = 0
RESPONDER_NOT_RECOVERED = 1
RECOVERED = 2

#: Recorded days, and the gaps between consecutive ones.
DAYS: tuple[int, ...] = (0, 3, 7, 14)
GAPS: tuple[int, ...] = (3, 4, 7)
#: The recovery threshold of the cohort schema (x10^9/L), as an integer count.
THRESHOLD: int = int(RECOVERY_THRESHOLD)


@dataclass(frozen=True)
class TrajectoryRules:
    """Plausibility rules every synthetic trajectory obeys (the plan's ``[trajectory]``).

    Attributes
    ----------
    min_baseline, max_baseline : int
        Range of the baseline count (CIT: baseline < 100, so 1 <= min <= max <= 99).
    min_count, max_count : int
        Range of any recorded count.
    max_daily_rise, max_daily_fall : float
        Bounds on the ratio of consecutive recorded counts, per day, compounded over the gap
        :math:`g` between them: ``max_daily_fall**g <= later / earlier <= max_daily_rise**g``.
    earliest_recovery_day : int
        Smallest recovery day allowed.
    sustained_recovery : bool
        Whether every recorded count after the recovery day stays >= 100 (otherwise only the
        first recorded count on or after it must).
    interpolation_slack_days : int
        The recovery day may differ by at most this many days from the day on which the
        log-linear interpolation between the two recorded counts around it reaches 100.

    Examples
    --------
    >>> rules = TrajectoryRules(max_daily_rise=1.2)
    >>> rules.max_daily_rise, rules.max_baseline
    (1.2, 99)
    """

    min_baseline: int = setting(10, low=1, high=99)
    max_baseline: int = setting(99, low=1, high=99)
    min_count: int = setting(5, low=1, high=99)
    max_count: int = setting(500, low=101, high=2000)
    max_daily_rise: float = setting(1.3, low=1.0, high=3.0, open_low=True)
    max_daily_fall: float = setting(0.85, low=0.0, high=1.0, open_low=True, open_high=True)
    earliest_recovery_day: int = setting(2, low=1, high=14)
    sustained_recovery: bool = True
    interpolation_slack_days: int = setting(2, low=0, high=14)

    def __post_init__(self):
        if self.min_baseline > self.max_baseline:
            raise ValueError("baselines must satisfy 1 <= min <= max <= 99 (CIT)")


def response_table(rules: TrajectoryRules) -> list[list[bool]]:
    """``table[b][c]``: whether count ``c`` meets the response criteria against baseline ``b``.

    Filled from the package's rule (:func:`cit_bayes.cohort.derive.meets_response_criteria`)
    for every integer baseline ``0..max_baseline`` and count ``0..max_count``.

    Examples
    --------
    >>> table = response_table(TrajectoryRules())
    >>> len(table), len(table[0])  # baselines 0..99, counts 0..500
    (100, 501)
    >>> table[30][60], table[30][59]  # doubling the baseline meets the criteria
    (True, False)
    """
    baselines = np.arange(rules.max_baseline + 1, dtype=float)
    counts = np.arange(rules.max_count + 1, dtype=float)
    grid_b, grid_c = np.meshgrid(baselines, counts, indexing="ij")
    met = meets_response_criteria(grid_b.ravel(), grid_c.ravel()).reshape(grid_b.shape)
    return met.tolist()


class TrajectoryChecker:
    """Per-patient feasibility under the rules, with constants precomputed as Python scalars.

    Parameters
    ----------
    rules : TrajectoryRules
    meets : list of list of bool, optional
        The table of :func:`response_table` (computed when omitted).

    Examples
    --------
    >>> checker = TrajectoryChecker(TrajectoryRules())
    >>> checker.feasible([40, 60, 90, 120], RECOVERED, 10)
    True
    >>> checker.feasible([40, 60, 90, 120], RECOVERED, 14)  # these counts reach 100 near day 10
    False
    """

    def __init__(self, rules: TrajectoryRules, meets: list[list[bool]] | None = None):
        self.rules = rules
        self.meets = meets if meets is not None else response_table(rules)
        self.up = [rules.max_daily_rise**gap for gap in GAPS]
        self.down = [rules.max_daily_fall**gap for gap in GAPS]
        self.log = [math.log(max(v, 1)) for v in range(rules.max_count + 1)]
        self.first_met = [
            next((c for c in range(rules.max_count + 1) if row[c]), rules.max_count + 1)
            for row in self.meets
        ]

    def crossing_day(self, counts, recovery_day: int) -> float:
        """Day on which the log-linear interpolation around the recovery day reaches 100."""
        after = 1
        while after < 3 and DAYS[after] < recovery_day:
            after += 1
        before = after - 1
        low, high = counts[before], counts[after]
        span = self.log[high] - self.log[low]
        fraction = (math.log(THRESHOLD) - self.log[low]) / span if span > 0 else 1.0
        return DAYS[before] + (DAYS[after] - DAYS[before]) * fraction

    def crossing_ok(self, crossing: float, recovery_day: int) -> bool:
        """Whether a crossing day is within the slack of the recovery day."""
        whole = math.ceil(crossing - 1e-9)
        return abs(whole - recovery_day) <= self.rules.interpolation_slack_days

    def feasible(self, counts, outcome: int, recovery_day: int) -> bool:
        """Whether counts (4 ints, days 0, 3, 7, 14) obey the class and the rules."""
        rules = self.rules
        d0 = counts[0]
        if d0 < rules.min_baseline or d0 > rules.max_baseline:
            return False
        for value in counts[1:]:
            if value < rules.min_count or value > rules.max_count:
                return False
        for j in range(3):
            earlier, later = counts[j], counts[j + 1]
            if later > earlier * self.up[j] or later < earlier * self.down[j]:
                return False
        row = self.meets[d0]
        if outcome == NON_RESPONDER:
            return not (row[counts[1]] or row[counts[2]] or row[counts[3]])
        if outcome == RESPONDER_NOT_RECOVERED:
            if counts[1] >= THRESHOLD or counts[2] >= THRESHOLD or counts[3] >= THRESHOLD:
                return False
            return row[counts[1]] or row[counts[2]] or row[counts[3]]
        if recovery_day < rules.earliest_recovery_day or recovery_day > DAYS[-1]:
            return False
        first_after = True
        for j in (1, 2, 3):
            if DAYS[j] < recovery_day:
                if counts[j] >= THRESHOLD:
                    return False
            elif first_after or rules.sustained_recovery:
                if counts[j] < THRESHOLD:
                    return False
                first_after = False
        return self.crossing_ok(self.crossing_day(counts, recovery_day), recovery_day)
