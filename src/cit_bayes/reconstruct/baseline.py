r"""Baseline characteristics of a reconstructed cohort: exact Table 1 counts, stated dependence.

Per arm, every categorical characteristic gets exactly its printed counts. The dependence
between characteristics is a one-factor Gaussian copula: patient :math:`i` has a latent burden
:math:`F_i \sim N(0, 1)`, characteristic :math:`j` a latent
:math:`z_{ij} = \lambda_j F_i + \sqrt{1 - \lambda_j^2}\,\varepsilon_{ij}`, and the printed
counts go to the patients in order of :math:`z_{ij}` (highest stage, highest ECOG, the
"yes" of a binary characteristic, the oldest age and so on to the highest :math:`z`). Two rules
of clinical logic are imposed (plan: ``metastasis_requires_stage_iv``,
``female_only_tumor_types``). Ages (whole years) and BMI (one decimal) are drawn from a beta
distribution on the plan's range with the arm's printed mean and SD (method of moments),
assigned by the same latent order, and then repaired by a small search (±1 year / ±0.1 kg/m²
moves) until each arm's mean and SD agree with Table 1 to the printed two decimals where
possible, and the pooled age quartiles with the text's 52, 60, 66.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import pandas as pd

from cit_bayes.cohort.schema import STAGES, TUMOR_TYPES
from cit_bayes.exceptions import ReconstructionError
from cit_bayes.reconstruct.plan import ReconstructionPlan
from cit_bayes.reconstruct.repair import spss_quantile
from cit_bayes.reconstruct.targets import ArmTargets, PublishedTargets

__all__ = ["draw_baseline", "match_group_moments"]

_BINARY = (
    "hepatic_metastasis",
    "bone_metastasis",
    "chemo_cycles_over5",
    "radiotherapy",
    "targeted_therapy",
)


def _top_k(latent: np.ndarray, k: int, eligible: np.ndarray | None = None) -> np.ndarray:
    """0/1 indicator of the ``k`` eligible patients with the highest latent values."""
    out = np.zeros(len(latent), dtype=int)
    if k == 0:
        return out
    candidates = np.flatnonzero(eligible) if eligible is not None else np.arange(len(latent))
    if len(candidates) < k:
        raise ReconstructionError(
            f"cannot give {k} patients a characteristic: only {len(candidates)} eligible"
        )
    chosen = candidates[np.argsort(-latent[candidates], kind="stable")[:k]]
    out[chosen] = 1
    return out


def _ordered_levels(latent: np.ndarray, counts: list[tuple[object, int]]) -> np.ndarray:
    """Assign ordered levels (lowest first) by increasing latent value, with exact counts."""
    order = np.argsort(latent, kind="stable")
    values = np.empty(len(latent), dtype=object)
    start = 0
    for level, count in counts:
        values[order[start : start + count]] = level
        start += count
    return values


def _beta_draws(n: int, mean: float, sd: float, low: float, high: float, rng) -> np.ndarray:
    """Sorted draws from a beta distribution on [low, high] with the given mean and SD."""
    width = high - low
    mu = (mean - low) / width
    var = (sd / width) ** 2
    total = mu * (1 - mu) / var - 1
    if not 0 < mu < 1 or total <= 0:
        raise ReconstructionError(
            f"no beta distribution on [{low}, {high}] has mean {mean} and SD {sd}"
        )
    return np.sort(low + width * rng.beta(mu * total, (1 - mu) * total, size=n))


def match_group_moments(
    values: np.ndarray,
    groups: np.ndarray,
    targets: dict[object, tuple[float, float]],
    *,
    step: float,
    low: float,
    high: float,
    aim_mean: float,
    aim_sd: float,
    rng: np.random.Generator,
    pooled_quantiles: tuple[tuple[float, float], ...] = (),
    max_moves: int = 100_000,
    patience: int = 20_000,
) -> tuple[np.ndarray, bool]:
    """Move values on a grid until each group's mean and SD (and pooled quantiles) hit targets.

    Parameters
    ----------
    values : ndarray of float
        Starting values; rounded to the grid ``step`` (whole years: 1; BMI: 0.1) and clipped
        into ``[low, high]``.
    groups : ndarray
        Group label of each value.
    targets : dict
        Group label -> (mean, SD).
    step, low, high : float
        Grid step and the allowed range.
    aim_mean, aim_sd : float
        The search stops when every group's mean and SD are this close to their targets (and
        the pooled quantiles are met, if given).
    rng : numpy.random.Generator
    pooled_quantiles : tuple of (probability, value)
        Optional soft targets on the pooled quantiles (SPSS definition).
    max_moves, patience : int
        Proposals in all, and proposals without improvement, before stopping.

    Returns
    -------
    values : numpy.ndarray
    converged : bool
        Whether every group's mean and SD are within their aims (the pooled quantiles are soft).

    Notes
    -----
    Works in integer grid units. A move is one value ±1 step (for a mean), a pair of values of
    one group moving apart or together by one step each (for an SD, keeping the group's sum), or
    the value at a pooled quantile's position moving one step towards its target while the
    nearest value of its group at least two steps beyond moves one step back (keeping that
    group's sum and, nearly, its sum of squares). A move is kept when the
    loss -- errors beyond their aims in units of the aims, plus pooled-quantile errors in grid
    steps -- does not increase. A share of moves re-centres a mean or SD that is already within
    its aim (leaving the loss unchanged), which makes room for the quantile moves.

    Examples
    --------
    >>> import numpy as np
    >>> ages = np.array([50.0, 52, 55, 58, 60, 61, 63, 66, 70, 75])
    >>> values, ok = match_group_moments(ages, np.array(["a"] * 10), {"a": (61.0, 8.0)}, step=1.0,
    ...     low=18, high=80, aim_mean=0.05, aim_sd=0.05, rng=np.random.default_rng(0))
    >>> ok, round(float(values.mean()), 3), bool(abs(values.std(ddof=1) - 8.0) <= 0.05)
    (True, 61.0, True)
    """
    search = _GridSearch(
        values, groups, targets, step, (low, high), (aim_mean, aim_sd), pooled_quantiles
    )
    since_best = 0
    for _ in range(max_moves):
        if search.loss == 0.0 or since_best > patience:
            break
        since_best += 1
        moves = search.propose(rng)
        if moves is not None and search.try_moves(moves):
            since_best = 0
    return np.round(np.array(search.units, dtype=float) * step, 10), search.converged()


class _GridSearch:
    """The state of :func:`match_group_moments`'s search, in integer grid units."""

    def __init__(self, values, groups, targets, step, limits, aims, pooled_quantiles):
        low, high = limits
        self.lo_u, self.hi_u = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
        self.units = (
            np.clip(np.rint(np.asarray(values, dtype=float) / step), self.lo_u, self.hi_u)
            .astype(int)
            .tolist()
        )
        units = self.units
        self.labels = list(targets)
        self.group_of = list(groups)
        self.members = {
            g: [i for i in range(len(units)) if self.group_of[i] == g] for g in self.labels
        }
        self.size = {g: len(self.members[g]) for g in self.labels}
        self.goal = {g: (targets[g][0] / step, targets[g][1] / step) for g in self.labels}
        self.aim_m, self.aim_s = aims[0] / step, aims[1] / step
        self.quantile_goals = [(p, v / step) for p, v in pooled_quantiles]
        self.s1 = {g: float(sum(units[i] for i in self.members[g])) for g in self.labels}
        self.s2 = {g: float(sum(units[i] ** 2 for i in self.members[g])) for g in self.labels}
        self.pool = sorted(units)
        self.errs = {g: self.errors_of(g, self.s1[g], self.s2[g]) for g in self.labels}
        self.qerrs = self.quantile_errors(self.pool)
        self.loss = self.loss_of(self.errs, self.qerrs)

    def errors_of(self, g, a, b):
        n = self.size[g]
        mean = a / n
        sd = math.sqrt(max(b - a * a / n, 0.0) / (n - 1))
        return mean - self.goal[g][0], sd - self.goal[g][1]

    def loss_of(self, errs, qerrs):
        total = sum(abs(e) for e in qerrs)
        for em, es in errs.values():
            total += max(0.0, abs(em) - self.aim_m) / self.aim_m
            total += max(0.0, abs(es) - self.aim_s) / self.aim_s
        return total

    def quantile_errors(self, ordered):
        return [spss_quantile(ordered, p) - v for p, v in self.quantile_goals]

    def converged(self) -> bool:
        return all(
            abs(self.errs[g][0]) <= self.aim_m and abs(self.errs[g][1]) <= self.aim_s
            for g in self.labels
        )

    def propose(self, rng) -> list[tuple[int, int]] | None:
        """A move (index, ±1 step per value moved), or None when the draw gives none."""
        labels, errs, units = self.labels, self.errs, self.units
        terms = [(g, 0, errs[g][0]) for g in labels if abs(errs[g][0]) > self.aim_m]
        terms += [(g, 1, errs[g][1]) for g in labels if abs(errs[g][1]) > self.aim_s]
        terms += [(None, k, e) for k, e in enumerate(self.qerrs) if e != 0]
        if not terms or rng.random() < 0.3:  # re-centre a mean or SD inside its aim
            g = labels[int(rng.integers(len(labels)))]
            kind = int(rng.integers(2))
            terms = [(g, kind, errs[g][kind])]
        g, kind, error = terms[0] if len(terms) == 1 else terms[int(rng.integers(len(terms)))]
        direction = -1 if error > 0 else 1
        if g is None:  # a pooled quantile: the order statistic at its position, and a partner
            k = int(math.floor((len(units) + 1) * self.quantile_goals[kind][0]))
            value = self.pool[min(len(self.pool) - 1, max(0, k - 1 + (1 if direction > 0 else 0)))]
            holders = [i for i in range(len(units)) if units[i] == value]
            i = holders[int(rng.integers(len(holders)))]
            # partner: a value of the same group on the far side, nearest to two steps away,
            # so that the pair meets in the middle (group sum kept, sum of squares nearly so)
            group = self.members[self.group_of[i]]
            beyond = [j for j in group if (units[j] - units[i]) * direction >= 2]
            if not beyond:
                return None
            gap = min(abs(units[j] - units[i]) for j in beyond)
            nearest = [j for j in beyond if abs(units[j] - units[i]) == gap]
            moves = [(i, direction), (nearest[int(rng.integers(len(nearest)))], -direction)]
        elif kind == 0:
            group = self.members[g]
            moves = [(group[int(rng.integers(len(group)))], direction)]
        else:
            mean = self.s1[g] / self.size[g]
            group = self.members[g]
            i, j = group[int(rng.integers(len(group)))], group[int(rng.integers(len(group)))]
            if units[i] < units[j]:
                i, j = j, i
            if i == j or (units[i] - mean) * (units[j] - mean) > 0:
                return None
            moves = [(i, direction), (j, -direction)]
        if any(not self.lo_u <= units[i] + d <= self.hi_u for i, d in moves):
            return None
        return moves

    def try_moves(self, moves) -> bool:
        """Keep the move when the loss does not increase; True when it decreased."""
        units, group_of = self.units, self.group_of
        new_s1, new_s2 = dict(self.s1), dict(self.s2)
        for i, d in moves:
            g_i = group_of[i]
            new_s1[g_i] += d
            new_s2[g_i] += (units[i] + d) ** 2 - units[i] ** 2
        new_errs = dict(self.errs)
        for g_i in {group_of[i] for i, _ in moves}:
            new_errs[g_i] = self.errors_of(g_i, new_s1[g_i], new_s2[g_i])
        new_pool = self.pool
        if self.quantile_goals:
            new_pool = list(self.pool)
            for i, d in moves:
                del new_pool[bisect.bisect_left(new_pool, units[i])]
                bisect.insort(new_pool, units[i] + d)
        new_q = self.quantile_errors(new_pool) if self.quantile_goals else []
        new_loss = self.loss_of(new_errs, new_q)
        if new_loss > self.loss:
            return False
        for i, d in moves:
            units[i] += d
        improved = new_loss < self.loss
        self.s1, self.s2, self.errs, self.qerrs = new_s1, new_s2, new_errs, new_q
        self.pool, self.loss = new_pool, new_loss
        return improved


def _arm_characteristics(target: ArmTargets, plan: ReconstructionPlan, rng) -> pd.DataFrame:
    """Categorical characteristics of one arm with exact counts, and the latent burden."""
    n = target.n
    counts = target.categorical
    burden = rng.standard_normal(n)

    def latent(name: str) -> np.ndarray:
        loading = plan.loadings.get(name, 0.0)
        return loading * burden + math.sqrt(1 - loading**2) * rng.standard_normal(n)

    frame = pd.DataFrame(index=range(n))
    tumour = np.concatenate([[level] * counts["tumor_type"].get(level, 0) for level in TUMOR_TYPES])
    frame["tumor_type"] = rng.permutation(tumour)
    female_only = np.isin(frame["tumor_type"], plan.female_only_tumor_types)
    n_female = counts["sex"]["F"]
    if female_only.sum() > n_female:
        raise ReconstructionError(
            f"{target.arm}: {female_only.sum()} patients have female-only tumour types but only "
            f"{n_female} women are printed"
        )
    female = female_only.astype(int)
    female += _top_k(rng.standard_normal(n), n_female - int(female_only.sum()), ~female_only)
    frame["sex"] = np.where(female == 1, "F", "M")
    frame["ecog"] = _ordered_levels(
        latent("ecog"), [(k, counts["ecog"].get(k, 0)) for k in (0, 1, 2)]
    ).astype(int)
    frame["stage"] = _ordered_levels(
        latent("stage"), [(s, counts["stage"].get(s, 0)) for s in STAGES]
    )
    stage_iv = (frame["stage"] == "IV").to_numpy()
    for name in _BINARY:
        eligible = (
            stage_iv if plan.metastasis_requires_stage_iv and name.endswith("metastasis") else None
        )
        frame[name] = _top_k(latent(name), counts[name].get(1, 0), eligible)
    frame["_age_latent"] = latent("age")
    frame["_bmi_latent"] = latent("bmi")
    return frame


def draw_baseline(
    targets: PublishedTargets, plan: ReconstructionPlan, rng: np.random.Generator
) -> pd.DataFrame:
    """Baseline characteristics of every arm, matching Table 1 exactly or within tolerance.

    Parameters
    ----------
    targets : PublishedTargets
    plan : ReconstructionPlan
    rng : numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        One row per patient, arms in canonical order: ``arm`` and the columns of
        ``BASELINE_COVARIATES`` (``ecog`` int, binaries 0/1, ``age`` whole years, ``bmi`` one
        decimal).

    Raises
    ------
    ReconstructionError
        If the printed counts contradict a rule of the plan, or the age/BMI search fails.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from cit_bayes.reconstruct import load_reconstruction_plan, published_targets
    >>> plan = replace(load_reconstruction_plan(), match_overall_age_quartiles=False)  # quicker
    >>> cohort = draw_baseline(published_targets(), plan, np.random.default_rng(0))
    >>> cohort.shape, int((cohort["arm"] == "combination").sum())
    ((187, 12), 36)
    """
    frames = []
    for arm, target in targets.arms.items():
        frame = _arm_characteristics(target, plan, rng)
        age = _beta_draws(target.n, target.age_mean, target.age_sd, *plan.age_range, rng)
        bmi = _beta_draws(target.n, target.bmi_mean, target.bmi_sd, *plan.bmi_range, rng)
        frame["age"] = age[np.argsort(np.argsort(frame["_age_latent"].to_numpy()))]
        frame["bmi"] = bmi[np.argsort(np.argsort(frame["_bmi_latent"].to_numpy()))]
        frame.insert(0, "arm", arm)
        frames.append(frame.drop(columns=["_age_latent", "_bmi_latent"]))
    cohort = pd.concat(frames, ignore_index=True)
    arms = cohort["arm"].to_numpy()
    tol = targets.tolerances
    quartiles = ()
    if plan.match_overall_age_quartiles:
        quartiles = tuple(zip((0.25, 0.5, 0.75), targets.overall_age_quartiles, strict=True))
    for column, step, (low, high), moments in (
        ("age", 1.0, plan.age_range, {a: (t.age_mean, t.age_sd) for a, t in targets.arms.items()}),
        ("bmi", 0.1, plan.bmi_range, {a: (t.bmi_mean, t.bmi_sd) for a, t in targets.arms.items()}),
    ):
        start = np.clip(np.round(cohort[column].to_numpy() / step) * step, low, high)
        matched, converged = None, False
        for aim in (0.005, tol.aim_fraction * tol.age_bmi_mean):  # printed digits, else the aim
            matched, converged = match_group_moments(
                start,
                arms,
                moments,
                step=step,
                low=low,
                high=high,
                aim_mean=aim,
                aim_sd=min(aim, tol.aim_fraction * tol.age_bmi_sd),
                rng=rng,
                pooled_quantiles=quartiles if column == "age" else (),
            )
            if converged:
                break
        if not converged:
            raise ReconstructionError(f"could not match the per-arm mean and SD of {column}")
        cohort[column] = matched.astype(int) if column == "age" else matched
    return cohort
