r"""Constrained local search that brings an arm's platelet counts onto the published targets.

:func:`repair_arm_platelets` changes one recorded count of one patient at a time. Each move is
proposed to reduce the largest remaining error (an arm mean, an arm SD or a ΔPLT quartile, in
units of its tolerance) and kept only when the patient's row still obeys its class, its recovery
day and the plausibility rules (:class:`~cit_bayes.reconstruct.rules.TrajectoryChecker`)
and the penalised loss does not increase. Class and recovery day never change, so the responder
counts and the recovery-day moments fixed earlier are preserved exactly.
"""

from __future__ import annotations

import math

import numpy as np

from cit_bayes.exceptions import ReconstructionError
from cit_bayes.reconstruct.rules import DAYS, TrajectoryChecker
from cit_bayes.reconstruct.targets import ArmPlateletTargets

__all__ = ["QUARTILE_PROBS", "arm_platelet_errors", "repair_arm_platelets", "spss_quantile"]

QUARTILE_PROBS: tuple[float, ...] = (0.25, 0.5, 0.75)


def spss_quantile(sorted_values, prob: float) -> float:
    r"""Quantile by SPSS's default (HAVERAGE) definition, on already sorted values.

    Notes
    -----
    With :math:`n` sorted values :math:`x_{(1)} \le \dots \le x_{(n)}`, the position is
    :math:`w = (n + 1)p`, :math:`k = \lfloor w \rfloor`, :math:`g = w - k`, and the quantile is
    :math:`x_{(k)} + g\,(x_{(k+1)} - x_{(k)})`, clamped to :math:`x_{(1)}` and :math:`x_{(n)}`.
    This is numpy's ``method="weibull"``.

    References
    ----------
    Hyndman, R. J. & Fan, Y. (1996). Sample quantiles in statistical packages. *The American
    Statistician* 50(4), 361-365 (definition 6).

    Examples
    --------
    >>> round(spss_quantile([1, 2, 3, 4], 0.25), 3), round(spss_quantile([1, 2, 3, 4], 0.5), 3)
    (1.25, 2.5)
    """
    n = len(sorted_values)
    position = (n + 1) * prob
    k = int(math.floor(position))
    if k < 1:
        return float(sorted_values[0])
    if k >= n:
        return float(sorted_values[-1])
    low = sorted_values[k - 1]
    return float(low + (position - k) * (sorted_values[k] - low))


def arm_platelet_errors(counts: np.ndarray, target: ArmPlateletTargets) -> list[dict]:
    """Every platelet statistic of one arm against its target.

    Returns
    -------
    list of dict
        One dict per statistic with ``statistic`` (``mean_day0`` ... ``sd_day14``,
        ``delta_q25``, ``delta_median``, ``delta_q75``), ``value``, ``target``, ``tolerance``.

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.reconstruct.targets import ArmPlateletTargets
    >>> target = ArmPlateletTargets(2, mean=(50.0,) * 4, sd=(10.0,) * 4, delta_quartiles=(0.0,) * 3)
    >>> errors = arm_platelet_errors(np.array([[40, 40, 40, 40], [60, 60, 60, 60]]), target)
    >>> len(errors), errors[0]["statistic"], round(errors[0]["value"], 3)
    (11, 'mean_day0', 50.0)
    """
    counts = np.asarray(counts, dtype=float)
    out = []
    for t, day in enumerate(DAYS):
        out.append(
            {
                "statistic": f"mean_day{day}",
                "value": float(counts[:, t].mean()),
                "target": target.mean[t],
                "tolerance": target.mean_tolerance_relative * target.mean[t],
            }
        )
        out.append(
            {
                "statistic": f"sd_day{day}",
                "value": float(counts[:, t].std(ddof=1)),
                "target": target.sd[t],
                "tolerance": target.sd_tolerance_relative * target.sd[t],
            }
        )
    delta = sorted(counts[:, 3] - counts[:, 0])
    names = ("delta_q25", "delta_median", "delta_q75")
    for name, prob, value in zip(names, QUARTILE_PROBS, target.delta_quartiles, strict=True):
        out.append(
            {
                "statistic": name,
                "value": spss_quantile(delta, prob),
                "target": value,
                "tolerance": target.quartile_tolerance,
            }
        )
    return out


class _ArmState:
    """Running sums and the sorted ΔPLT of one arm, and the target loss."""

    def __init__(self, counts, target: ArmPlateletTargets):
        self.x = [[int(v) for v in row] for row in counts]
        self.x0 = [list(row) for row in self.x]
        self.n = len(self.x)
        self.target = target
        self.s1 = [float(sum(row[t] for row in self.x)) for t in range(4)]
        self.s2 = [float(sum(row[t] * row[t] for row in self.x)) for t in range(4)]
        self.delta = sorted(row[3] - row[0] for row in self.x)
        self.tol_mean = [target.mean_tolerance_relative * m for m in target.mean]
        self.tol_sd = [target.sd_tolerance_relative * s for s in target.sd]
        self.aim = target.aim_fraction

    def errors(self, s1, s2, delta) -> list[float]:
        """Signed errors in units of tolerance: 4 means, 4 SDs, 3 quartiles."""
        n, target = self.n, self.target
        out = [(s1[t] / n - target.mean[t]) / self.tol_mean[t] for t in range(4)]
        for t in range(4):
            var = (s2[t] - s1[t] * s1[t] / n) / (n - 1)
            out.append((math.sqrt(max(var, 0.0)) - target.sd[t]) / self.tol_sd[t])
        for prob, goal in zip(QUARTILE_PROBS, target.delta_quartiles, strict=True):
            out.append((spss_quantile(delta, prob) - goal) / target.quartile_tolerance)
        return out

    def loss(self, errors) -> float:
        aim = self.aim
        return sum(max(0.0, abs(e) - aim) for e in errors)


def _propose(state: _ArmState, errors, rng) -> list[tuple[int, int, int]]:
    """One or two moves (patient, day index, change) aimed at a remaining error.

    A mean is moved by one count; an SD by a mean-preserving pair (one count above the mean
    and one below move apart, or together); a ΔPLT quartile by one of the order statistics
    around its position.
    """
    n, x = state.n, state.x
    excess = [max(0.0, abs(e) - state.aim) for e in errors]
    total = sum(excess)
    if rng.random() < 0.1:  # relaxation: a step back towards the generated path
        i, t = int(rng.integers(n)), int(rng.integers(4))
        gap = state.x0[i][t] - x[i][t]
        if gap == 0:
            return [(i, t, int(rng.choice((-1, 1))))]
        step = int(rng.integers(1, abs(gap) + 1))
        return [(i, t, step if gap > 0 else -step)]
    pick = rng.random() * total
    term = 0
    while term < len(excess) - 1 and pick > excess[term]:
        pick -= excess[term]
        term += 1
    error = errors[term]
    if term < 4:  # a mean
        need = abs(error) * state.tol_mean[term] * n
        cap = max(1, int(min(need, 0.3 * state.target.sd[term])))
        step = int(rng.integers(1, cap + 1))
        return [(int(rng.integers(n)), term, -step if error > 0 else step)]
    if term < 8:  # an SD: a mean-preserving pair
        t = term - 4
        mean = state.s1[t] / n
        above = [i for i in range(n) if x[i][t] > mean]
        below = [i for i in range(n) if x[i][t] <= mean]
        if not above or not below:
            return [(int(rng.integers(n)), t, int(rng.choice((-1, 1))))]
        i = above[int(rng.integers(len(above)))]
        j = below[int(rng.integers(len(below)))]
        cap = max(1, int(0.1 * state.target.sd[t]))
        step = int(rng.integers(1, cap + 1))
        if error > 0:  # too spread: bring the two together
            step = min(step, max(1, (x[i][t] - x[j][t]) // 2))
            return [(i, t, -step), (j, t, step)]
        return [(i, t, step), (j, t, -step)]
    prob = QUARTILE_PROBS[term - 8]  # a ΔPLT quartile
    k = int(math.floor((n + 1) * prob))
    order = sorted(range(n), key=lambda i: x[i][3] - x[i][0])
    ranks = (
        range(max(0, k - 3), min(n, k + 1)) if error < 0 else range(max(0, k - 1), min(n, k + 3))
    )
    i = order[ranks[int(rng.integers(len(ranks)))]]
    cap = max(1, int(abs(error) * state.target.quartile_tolerance * 2))
    change = int(rng.integers(1, cap + 1)) * (1 if error < 0 else -1)
    if rng.random() < 0.75:
        return [(i, 3, change)]
    return [(i, 0, -change)]


def repair_arm_platelets(
    counts: np.ndarray,
    outcome: np.ndarray,
    recovery_day: np.ndarray,
    target: ArmPlateletTargets,
    checker: TrajectoryChecker,
    rng: np.random.Generator,
    *,
    max_moves: int = 100_000,
    distance_weight: float = 1.0,
    patience: int = 15_000,
) -> tuple[np.ndarray, bool]:
    r"""Adjust the counts until every platelet target of the arm is within its aim.

    Parameters
    ----------
    counts : ndarray of int, shape (n, 4)
        A feasible starting point (from
        :func:`~cit_bayes.reconstruct.platelets.generate_arm_platelets`).
    outcome, recovery_day : ndarray of int
        Class and recovery day of each patient (never changed).
    target : ArmPlateletTargets
    checker : TrajectoryChecker
    rng : numpy.random.Generator
    max_moves : int
        Proposals before giving up.
    patience : int
        Proposals without a decrease of the target loss before giving up.
    distance_weight : float
        Weight :math:`\lambda` of the squared log-distance of a count from its starting value.

    Returns
    -------
    counts : numpy.ndarray of int, shape (n, 4)
    converged : bool
        Whether every target is within its aim.

    Notes
    -----
    The target loss is :math:`L = \sum_k \max(0, |e_k| - a)`, where :math:`e_k` is the error of
    target :math:`k` in units of its tolerance and :math:`a` the aim fraction. A proposed move of
    count :math:`x_{it}` (starting value :math:`x^0_{it}`) is kept when the row stays feasible
    and :math:`\Delta L + \lambda\,\Delta(\log x_{it} - \log x^0_{it})^2 \le 0`, so the search
    prefers small departures from the generated paths. It stops when :math:`L = 0`.

    Examples
    --------
    Three non-responders whose day means lie 2 to 3 below the targets. Means of three
    integers move in steps of 1/3 and the aim is 0.3 of a 1 % tolerance (0.16 to 0.19 here),
    so a converged arm meets each target mean exactly:

    >>> import numpy as np
    >>> from cit_bayes.reconstruct.repair import repair_arm_platelets
    >>> from cit_bayes.reconstruct.rules import NON_RESPONDER, TrajectoryChecker, TrajectoryRules
    >>> from cit_bayes.reconstruct.targets import ArmPlateletTargets
    >>> checker = TrajectoryChecker(TrajectoryRules())
    >>> start = np.array([[40, 45, 50, 55], [60, 62, 64, 66], [50, 52, 56, 60]])
    >>> outcome, recovery_day = np.full(3, NON_RESPONDER), np.zeros(3, dtype=int)
    >>> target = ArmPlateletTargets(3, mean=(52.0, 55.0, 58.0, 62.0), sd=(10.0, 9.0, 7.0, 6.0),
    ...                             delta_quartiles=(6.0, 10.0, 15.0))
    >>> counts, converged = repair_arm_platelets(start, outcome, recovery_day, target, checker,
    ...                                          np.random.default_rng(0))
    >>> converged, counts.mean(axis=0).tolist()
    (True, [52.0, 55.0, 58.0, 62.0])
    >>> all(checker.feasible(list(row), NON_RESPONDER, 0) for row in counts)
    True

    A starting row that breaks its class (a non-responder at 120 on day 14) is refused:

    >>> repair_arm_platelets(np.array([[40, 45, 50, 120]]), outcome[:1], recovery_day[:1],
    ...                      target, checker, np.random.default_rng(0))
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ReconstructionError: starting counts of patient 0 break the trajectory rules
    """
    rules = checker.rules
    outcome = [int(v) for v in outcome]
    recovery_day = [int(v) for v in recovery_day]
    state = _ArmState(counts, target)
    for i in range(state.n):
        if not checker.feasible(state.x[i], outcome[i], recovery_day[i]):
            raise ReconstructionError(f"starting counts of patient {i} break the trajectory rules")
    log = checker.log
    origin = [[log[v] for v in row] for row in state.x]
    errors = state.errors(state.s1, state.s2, state.delta)
    loss = state.loss(errors)
    since_best = 0
    for _ in range(max_moves):
        if loss == 0.0 or since_best > patience:
            break
        since_best += 1
        moves = _propose(state, errors, rng)
        if len({(i, t) for i, t, _ in moves}) < len(moves):
            continue
        s1, s2, delta = list(state.s1), list(state.s2), state.delta
        moved = 0.0
        applied = []
        ok = True
        for i, t, change in moves:
            row = state.x[i]
            old = row[t]
            new = old + change
            if not rules.min_count <= new <= rules.max_count:
                ok = False
                break
            row[t] = new
            applied.append((i, t, old))
            s1[t] += change
            s2[t] += new * new - old * old
            moved += (log[new] - origin[i][t]) ** 2 - (log[old] - origin[i][t]) ** 2
        if ok:
            ok = all(checker.feasible(state.x[i], outcome[i], recovery_day[i]) for i, _, _ in moves)
        if not ok:
            for i, t, old in reversed(applied):
                state.x[i][t] = old
            continue
        if any(t in (0, 3) for _, t, _ in moves):
            delta = sorted(row[3] - row[0] for row in state.x)
        new_errors = state.errors(s1, s2, delta)
        new_loss = state.loss(new_errors)
        if new_loss + distance_weight * moved <= loss:
            if new_loss < loss:
                since_best = 0
            state.s1, state.s2, state.delta = s1, s2, delta
            errors, loss = new_errors, new_loss
        else:
            for i, t, old in reversed(applied):
                state.x[i][t] = old
    return np.array(state.x, dtype=int), loss == 0.0
