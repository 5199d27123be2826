r"""Who responds, who recovers and when, who is transfused, who has which adverse event.

All counts are the printed ones (or, for recovery, the plan's); the plan decides only *which*
patients. Selection uses conditional Poisson sampling (:func:`conditional_poisson`): exactly
:math:`k` patients, each with log odds of inclusion :math:`\alpha + \eta_i`, so the plan's
log-weights :math:`\eta` act as conditional log odds ratios.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cit_bayes.exceptions import ReconstructionError
from cit_bayes.reconstruct.plan import ReconstructionPlan
from cit_bayes.reconstruct.rules import (
    NON_RESPONDER,
    RECOVERED,
    RESPONDER_NOT_RECOVERED,
)
from cit_bayes.reconstruct.targets import ArmTargets

__all__ = [
    "assign_adverse_events",
    "assign_outcome_classes",
    "assign_transfusions",
    "draw_recovery_days",
    "conditional_poisson",
    "prognostic_score",
]


def conditional_poisson(log_odds: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    r"""Indices of exactly ``k`` patients drawn by conditional Poisson sampling.

    Each patient is included independently with probability
    :math:`\sigma(\alpha + \eta_i)`, conditioned on exactly :math:`k` inclusions; :math:`\alpha`
    is solved so that the expected number is :math:`k`. The chosen set then has probability
    proportional to :math:`\prod_{i \in S} e^{\eta_i}`, so differences in :math:`\eta` are log
    odds ratios of inclusion, as in a logistic model conditioned on the total. Drawn exactly by
    rejection of independent Bernoulli draws whose total is not :math:`k`.

    References
    ----------
    Chen, X.-H., Dempster, A. P. & Liu, J. S. (1994). Weighted finite population sampling to
    maximize entropy. *Biometrika* 81(3), 457-469.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> len(conditional_poisson(np.array([0.0, 0.5, -0.5, 1.0, 0.0]), 2, rng))
    2
    >>> conditional_poisson(np.zeros(3), 3, rng).tolist()
    [0, 1, 2]
    """
    log_odds = np.asarray(log_odds, dtype=float)
    n = len(log_odds)
    if not 0 <= k <= n:
        raise ReconstructionError(f"cannot choose {k} of {n} patients")
    if k in (0, n):
        return np.arange(k if k == n else 0)
    low, high = -60.0, 60.0
    for _ in range(100):
        mid = 0.5 * (low + high)
        if (1.0 / (1.0 + np.exp(-(mid + log_odds)))).sum() < k:
            low = mid
        else:
            high = mid
    probability = 1.0 / (1.0 + np.exp(-(0.5 * (low + high) + log_odds)))
    for _ in range(100_000):
        chosen = rng.random(n) < probability
        if int(chosen.sum()) == k:
            return np.flatnonzero(chosen)
    raise ReconstructionError(
        f"conditional Poisson sampling of {k} of {n} did not finish"
    )  # pragma: no cover


def prognostic_score(baseline: pd.DataFrame, plan: ReconstructionPlan) -> np.ndarray:
    r"""The plan's prognostic score per patient (higher = better platelet outcome).

    Notes
    -----
    :math:`s_i = \sum_j \beta_j x_{ij}` over the plan's terms: stage IV, bone and hepatic
    metastasis, ECOG >= 2, more than 5 cycles, radiotherapy, targeted therapy, female sex
    (0/1 each) and age in decades above 60.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.reconstruct.plan import load_reconstruction_plan
    >>> row = dict(stage="IV", bone_metastasis=1, hepatic_metastasis=0, ecog=1, sex="F", age=70,
    ...            chemo_cycles_over5=0, radiotherapy=0, targeted_therapy=0)
    >>> prognostic_score(pd.DataFrame([row]), load_reconstruction_plan()).round(3).tolist()
    [-1.1]
    """
    beta = plan.prognosis
    terms = {
        "stage_iv": (baseline["stage"] == "IV").astype(float),
        "bone_metastasis": baseline["bone_metastasis"].astype(float),
        "hepatic_metastasis": baseline["hepatic_metastasis"].astype(float),
        "ecog_2_or_more": (baseline["ecog"] >= 2).astype(float),
        "chemo_cycles_over5": baseline["chemo_cycles_over5"].astype(float),
        "radiotherapy": baseline["radiotherapy"].astype(float),
        "targeted_therapy": baseline["targeted_therapy"].astype(float),
        "female": (baseline["sex"] == "F").astype(float),
        "age_per_10_years": (baseline["age"].astype(float) - 60.0) / 10.0,
    }
    score = np.zeros(len(baseline))
    for name, values in terms.items():
        score += beta.get(name, 0.0) * values.to_numpy()
    return score


def assign_outcome_classes(
    score: np.ndarray, responders: int, recovered: int, rng: np.random.Generator
) -> np.ndarray:
    """Outcome class per patient of one arm: exact responders, recovered among responders.

    Examples
    --------
    >>> import numpy as np
    >>> outcome = assign_outcome_classes(np.zeros(6), 3, 1, np.random.default_rng(0))
    >>> sorted(outcome.tolist())  # 0 non-responder, 1 responder not recovered, 2 recovered
    [0, 0, 0, 1, 1, 2]
    """
    if recovered > responders:
        raise ReconstructionError(
            f"the plan recovers {recovered} patients but only {responders} respond: every "
            "recovered patient (count >= 100) is a responder"
        )
    outcome = np.full(len(score), NON_RESPONDER, dtype=int)
    responding = conditional_poisson(score, responders, rng)
    outcome[responding] = RESPONDER_NOT_RECOVERED
    outcome[responding[conditional_poisson(score[responding], recovered, rng)]] = RECOVERED
    return outcome


def draw_recovery_days(
    k: int,
    mean: float,
    sd: float,
    *,
    earliest: int,
    rng: np.random.Generator,
    aim_mean: float,
    aim_sd: float,
    latest: int = 14,
    max_moves: int = 50_000,
) -> np.ndarray:
    """``k`` whole recovery days in ``[earliest, latest]`` with the given mean and SD (sorted).

    Drawn from a normal distribution rounded and clipped to the range, then moved one day at a
    time (single days for the mean, mean-preserving pairs for the SD) until both are within
    their aims.

    Raises
    ------
    ReconstructionError
        If the moments cannot be met in the range.

    Examples
    --------
    >>> import numpy as np
    >>> days = draw_recovery_days(10, 7.0, 2.0, earliest=2, rng=np.random.default_rng(0),
    ...                           aim_mean=0.05, aim_sd=0.1)
    >>> len(days), round(float(days.mean()), 3), bool(abs(days.std(ddof=1) - 2.0) <= 0.1)
    (10, 7.0, True)
    """
    if k == 0:
        return np.zeros(0, dtype=int)
    if k == 1:
        value = int(round(mean))
        if abs(value - mean) > aim_mean or not earliest <= value <= latest:
            raise ReconstructionError(f"one recovered patient cannot have mean recovery day {mean}")
        return np.array([value])
    days = np.clip(np.rint(rng.normal(mean, sd, size=k)), earliest, latest).astype(int).tolist()

    def errors(values):
        m = sum(values) / k
        s = math.sqrt(sum((v - m) ** 2 for v in values) / (k - 1))
        return m - mean, s - sd, m

    def loss(e):
        return max(0.0, abs(e[0]) - aim_mean) / aim_mean + max(0.0, abs(e[1]) - aim_sd) / aim_sd

    current = errors(days)
    current_loss = loss(current)
    for _ in range(max_moves):
        if current_loss == 0.0:
            return np.sort(np.array(days, dtype=int))
        if abs(current[0]) > aim_mean and (abs(current[1]) <= aim_sd or rng.random() < 0.5):
            moves = [(int(rng.integers(k)), -1 if current[0] > 0 else 1)]
        else:
            above = [i for i in range(k) if days[i] > current[2]]
            below = [i for i in range(k) if days[i] <= current[2]]
            if not above or not below:
                moves = [(int(rng.integers(k)), int(rng.choice((-1, 1))))]
            else:
                direction = -1 if current[1] > 0 else 1
                moves = [
                    (above[int(rng.integers(len(above)))], direction),
                    (below[int(rng.integers(len(below)))], -direction),
                ]
        if any(not earliest <= days[i] + d <= latest for i, d in moves):
            continue
        for i, d in moves:
            days[i] += d
        new = errors(days)
        new_loss = loss(new)
        if new_loss <= current_loss:
            current, current_loss = new, new_loss
        else:
            for i, d in moves:
                days[i] -= d
    raise ReconstructionError(
        f"cannot give {k} recovered patients recovery days in [{earliest}, {latest}] with mean "
        f"{mean} and SD {sd}"
    )


def assign_transfusions(
    counts: np.ndarray, outcome: np.ndarray, k: int, plan: ReconstructionPlan, rng
) -> np.ndarray:
    """0/1 transfusion per patient: ``k`` non-responders, the lowest counts likeliest.

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.reconstruct.plan import load_reconstruction_plan
    >>> counts = np.array([[20, 18, 15, 12], [40, 45, 50, 55], [30, 60, 90, 120]])
    >>> given = assign_transfusions(counts, np.array([0, 0, 2]), 1, load_reconstruction_plan(),
    ...                             np.random.default_rng(0))
    >>> int(given.sum()), int(given[2])  # one transfusion, never to the recovered patient
    (1, 0)
    """
    transfused = np.zeros(len(outcome), dtype=int)
    candidates = np.flatnonzero(outcome == NON_RESPONDER)
    if k > len(candidates):
        raise ReconstructionError(
            f"{k} transfusions printed but only {len(candidates)} non-responders (the paper "
            "transfuses on treatment ineffectiveness)"
        )
    lowest = counts[candidates].min(axis=1)
    weight = plan.lowest_count_weight * np.maximum(50.0 - lowest, 0.0) / 10.0
    transfused[candidates[conditional_poisson(weight, k, rng)]] = 1
    return transfused


def assign_adverse_events(
    baseline: pd.DataFrame, target: ArmTargets, plan: ReconstructionPlan, rng
) -> pd.DataFrame:
    """Adverse events of one arm: exact count per event and exact count with any event.

    Transaminase elevation goes first (hepatic metastasis raises the weight by the plan's
    log-weight); then each other event, in the plan's ``overlap_order``, takes as many of its
    patients from those who already have an event as the surplus (events minus patients with
    any event) still requires, the rest from patients without one. Bilirubin overlaps go to
    transaminase patients first.

    Returns
    -------
    pandas.DataFrame
        Columns ``ae_transaminase``, ``ae_bilirubin``, ``ae_fatigue``, ``ae_headache`` (0/1).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from cit_bayes.reconstruct import load_reconstruction_plan, published_targets
    >>> arm = published_targets().arms["rhTPO"]
    >>> events = assign_adverse_events(pd.DataFrame({"hepatic_metastasis": [0] * arm.n}), arm,
    ...                                load_reconstruction_plan(), np.random.default_rng(0))
    >>> events.sum().tolist(), int(events.any(axis=1).sum())  # Table 9 counts of rhTPO
    ([5, 3, 1, 1], 10)
    """
    n = len(baseline)
    counts = target.adverse_events
    total = sum(counts.values())
    surplus = total - target.any_adverse_event
    if (
        surplus < 0
        or max(counts.values()) > target.any_adverse_event
        or target.any_adverse_event > n
    ):
        raise ReconstructionError(
            f"{target.arm}: adverse-event counts {counts} cannot give exactly "
            f"{target.any_adverse_event} patients with any event"
        )
    hepatic = plan.hepatic_metastasis_weight * baseline["hepatic_metastasis"].to_numpy(dtype=float)
    events = pd.DataFrame(0, index=baseline.index, columns=list(counts))
    first = "ae_transaminase"
    events.iloc[conditional_poisson(hepatic, counts[first], rng), events.columns.get_loc(first)] = 1
    order = [name for name in plan.overlap_order if name in counts]
    order += [name for name in counts if name not in order and name != first]
    for name in order:
        k = counts[name]
        has_any = events.to_numpy().sum(axis=1) > 0
        overlap = min(surplus, k, int(has_any.sum()))
        weight = hepatic if name == "ae_bilirubin" else np.zeros(n)
        chosen = []
        if overlap:
            pool = np.flatnonzero(has_any)
            if name == "ae_bilirubin":  # prefer transaminase patients
                pool_weight = weight[pool] + 50.0 * events[first].to_numpy()[pool]
            else:
                pool_weight = weight[pool]
            chosen += list(pool[conditional_poisson(pool_weight, overlap, rng)])
        fresh = np.flatnonzero(~has_any)
        chosen += list(fresh[conditional_poisson(weight[fresh], k - overlap, rng)])
        events.iloc[chosen, events.columns.get_loc(name)] = 1
        surplus -= overlap
    if int((events.to_numpy().sum(axis=1) > 0).sum()) != target.any_adverse_event:
        raise ReconstructionError(f"{target.arm}: adverse events could not be combined as printed")
    return events
