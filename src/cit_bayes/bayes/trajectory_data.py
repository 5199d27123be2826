"""The trajectory model's data: the sets of recorded days, the likelihood's form, the ``pm.Data``.

The model itself, and R, its within-patient correlation matrix: :mod:`cit_bayes.bayes.trajectory`.

Missing counts: two forms of the same likelihood
------------------------------------------------
*Unrolled*: the patients are grouped by their set of recorded days, and each set has its own
block of the likelihood, with the Cholesky factor of its correlation block written out in
scalar operations (read off the factor of R for a leading block). The graph, and the model's
cache key, hold the sets. *Batched*: the sets are data (``pattern_mask``, the distinct sets as
0/1 rows padded with empty ones to a multiple of :data:`PATTERN_BLOCK`; ``pattern_index``, each
patient's set): every set's masked correlation :math:`M R M + (I - M)` is factored together
(:func:`~cit_bayes.bayes.correlation.masked_mvn_logpdf`), which gives each patient the density of
the recorded days exactly (the same log density and gradient to rounding, tested). The graph
does not depend on the sets, nor on n, and the cache key holds neither the sets nor their
counts: a cohort of the same size with other missing counts re-uses the built model, and a
cohort of any size the compiled sampler (both callbacks loaded from the on-disk cache,
:func:`~cit_bayes.bayes.compiled.compile_model`; within a process the nutpie backend re-uses
the compiled model itself while the data keep their shapes, hence the padding).

Which form (:func:`likelihood_form`): unrolled for a cohort with one set of recorded days (no
missing count), or at most :data:`BATCHED_ABOVE` = 7 sets with at most :data:`UNROLLED_DAYS` = 3
days (every set three days can make: the bundled cohort, whose graph and draws stay those of
the unrolled form, bit for bit); batched otherwise. Measured for issue 17 (numba backend, 2 cores
shared with other work, so within about 30 %; "compile": nutpie's callbacks with PyTensor's cache
holding other models, "cold" with an empty cache; "gradient": one log density and gradient):

- 3 days, all 7 sets, n = 1,000: unrolled 664 graph nodes, compile 53 s, gradient 0.075 ms;
  batched 426 nodes, compile 47 s, gradient 0.115 ms. (n = 200, the bundled cohort's size:
  unrolled compile 58 s, gradient 0.071 ms.)
- 9 days, n = 1,000, unrolled: one set (no missing count) compile 40 s, gradient 0.11 ms; four
  sets compile 703 s, gradient 0.53 ms (each block that is not a leading one has its scalar
  Cholesky factor written out, and numba compiles the large fused loops slowly).
- 9 days, 20 % of counts missing at random, n = 3,000 (278 sets): unrolled 127,883 nodes, graph
  built in 24 s, compile not done after 25 minutes (stopped, so no gradient time); batched 1,095
  nodes, built in 0.1 s, compile 226 s cold and 8.6 s for a cohort with other missing counts
  (270 sets: both callbacks from the cache), gradient 1.4-1.8 ms.
- the same at n = 10,000 (377 sets): unrolled 153,497 nodes, built in 26 s; batched built in
  0.2 s, compile 244 s cold and 9.6 s with the n = 3,000 model's cache entries (the same graph),
  gradient 4.5-6.0 ms.

With three days the two forms compile alike and the unrolled one evaluates 1.5 times faster;
with nine days an unrolled block that is not a leading one compiles slowly, and every cohort
with other sets of recorded days is a new structure for the unrolled form, never for the
batched one.
From four days on the batched form is therefore taken as soon as a count is missing.
"""

from __future__ import annotations

import numpy as np

from cit_bayes.bayes.patient_base import PatientData, group_values
from cit_bayes.bayes.trajectory_prior import PRIOR_NAMES, TrajectoryPrior
from cit_bayes.exceptions import ModelError

__all__ = [
    "BATCHED_ABOVE",
    "FORMS",
    "PATTERN_BLOCK",
    "UNROLLED_DAYS",
    "likelihood_form",
    "observed_patterns",
    "pattern_rows",
    "pattern_values",
    "trajectory_values",
]

#: The likelihood is batched over the sets of recorded days when a cohort of at most
#: :data:`UNROLLED_DAYS` days has more than this many distinct non-empty sets (7: every set three
#: days can make, so a three-day cohort keeps the unrolled form), or a cohort of more days more
#: than one set; unrolled (one block per set) otherwise (module docstring, "Missing counts").
BATCHED_ABOVE = 7

#: Up to this many days the unrolled form is kept for up to :data:`BATCHED_ABOVE` sets.
UNROLLED_DAYS = 3

#: The forms of the likelihood: one block per set of recorded days, or masked blocks batched.
FORMS = ("unrolled", "batched")

#: The batched form's sets of recorded days are padded to a multiple of this many rows, so
#: that cohorts whose numbers of sets differ a little have data of the same shapes (the nutpie
#: backend re-uses a compiled model for data of the same shapes).
PATTERN_BLOCK = 32


def observed_patterns(observed: np.ndarray) -> tuple[tuple[bool, ...], ...]:
    """The distinct sets of recorded days (rows of the mask), in a fixed order, none empty.

    Examples
    --------
    >>> from cit_bayes.bayes.trajectory_data import observed_patterns
    >>> observed = np.array([[True, False], [True, True], [False, False], [True, True]])
    >>> observed_patterns(observed)  # two sets; the patient with no count is in none
    ((True, True), (True, False))
    """
    rows = {tuple(bool(v) for v in row) for row in np.asarray(observed, dtype=bool)}
    return tuple(sorted((r for r in rows if any(r)), reverse=True))


def likelihood_form(observed: np.ndarray, form: str | None = None) -> str:
    """The form of the likelihood for these recorded days (``observed``, (n, days) bool).

    ``form`` if given (checked); else ``"unrolled"`` for one set of recorded days, or up to
    :data:`BATCHED_ABOVE` sets with at most :data:`UNROLLED_DAYS` days, and ``"batched"``
    otherwise (module docstring, "Missing counts").

    Examples
    --------
    >>> observed = np.array([[True, True], [True, False], [False, True]])
    >>> likelihood_form(observed), likelihood_form(observed, "batched")
    ('unrolled', 'batched')
    >>> likelihood_form(np.array([[True] * 4, [True, True, True, False]]))  # 4 days, 2 sets
    'batched'
    """
    observed = np.asarray(observed, dtype=bool)
    if form is None:
        limit = BATCHED_ABOVE if observed.shape[1] <= UNROLLED_DAYS else 1
        return "batched" if len(observed_patterns(observed)) > limit else "unrolled"
    if form not in FORMS:
        raise ModelError(f"form must be one of {FORMS}, got {form!r}")
    return form


def pattern_rows(sets: int) -> int:
    """Rows of the batched form's ``pattern_mask`` for this many distinct sets of recorded
    days: the next multiple of :data:`PATTERN_BLOCK` (empty rows pad it).

    Examples
    --------
    >>> pattern_rows(5), pattern_rows(32), pattern_rows(282)
    (32, 32, 288)
    """
    return PATTERN_BLOCK * max(1, -(-int(sets) // PATTERN_BLOCK))


def pattern_values(observed: np.ndarray) -> dict[str, np.ndarray]:
    """The batched form's ``pm.Data``: the distinct sets of recorded days as 0/1 rows (the
    empty set among them if a patient has no count), padded with empty rows to
    :func:`pattern_rows`, and each patient's row.

    Examples
    --------
    >>> observed = np.array([[True, True], [True, False], [True, True]])
    >>> values = pattern_values(observed)
    >>> values["pattern_mask"][:3].tolist(), values["pattern_mask"].shape
    ([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]], (32, 2))
    >>> values["pattern_index"].tolist()
    [1, 0, 1]
    """
    observed = np.asarray(observed, dtype=bool)
    sets, index = np.unique(observed, axis=0, return_inverse=True)
    mask = np.zeros((pattern_rows(len(sets)), observed.shape[1]))
    mask[: len(sets)] = sets
    return {"pattern_mask": mask, "pattern_index": index.reshape(-1).astype("int64")}


def trajectory_values(
    plt_day0,
    plt_follow_up,
    data: PatientData,
    prior: TrajectoryPrior,
    *,
    adjust_baseline: bool = True,
    form: str | None = None,
) -> dict[str, np.ndarray]:
    """The ``pm.Data`` values for this analysis (checked).

    ``plt_follow_up`` is (n, days) with NaN for a missing count; ``adjust_baseline=False``
    (the unadjusted analysis) sets the centred log baseline to zero. ``form`` as for
    :func:`~cit_bayes.bayes.trajectory.build_trajectory_model` (the same default): the unrolled
    form's data hold each set of recorded days' rows and counts, the batched form's the sets
    (:func:`pattern_values`).

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> counts = [[50, 80], [60, np.nan], [40, 90], [70, 120]]  # day3, day7
    >>> values = trajectory_values([20, 30, 25, 40], counts, data, TrajectoryPrior())
    >>> values["rows_0"].tolist(), values["rows_1"].tolist()  # both days, day3 only
    ([0, 2, 3], [1])
    """
    if not isinstance(prior, TrajectoryPrior):
        raise ModelError(f"prior must be a TrajectoryPrior, got {type(prior).__name__}")
    day0 = np.asarray(plt_day0, dtype=float)
    counts = np.asarray(plt_follow_up, dtype=float)
    if day0.shape != (data.n,):
        raise ModelError(f"plt_day0 must have shape ({data.n},), got {day0.shape}")
    if counts.ndim != 2 or counts.shape[0] != data.n:
        raise ModelError(f"follow-up counts must have shape (n={data.n}, days)")
    if not np.all(np.isfinite(day0)) or np.any(day0 <= 0):
        raise ModelError("every baseline count must be present and positive")
    observed = np.isfinite(counts)
    if np.any(counts[observed] <= 0):
        raise ModelError("platelet counts must be positive (log scale)")
    for j, label in enumerate(data.arms):
        if not observed[data.arm_codes == j].any():
            raise ModelError(f"no follow-up platelet count in arm {label!r}")
    for d in range(counts.shape[1]):
        if observed[:, d].sum() < 2:
            raise ModelError(f"fewer than 2 counts recorded on follow-up day {d + 1}")
    log_baseline = np.log(day0)
    centred = log_baseline - log_baseline.mean() if adjust_baseline else np.zeros(data.n)
    contributes = observed.any(axis=1)
    if adjust_baseline:
        reference = np.ones((data.n, data.n_arms))
    else:
        reference = (data.arm_codes[:, None] == np.arange(data.n_arms)[None, :]).astype(float)
    log_counts = np.log(np.where(observed, counts, 1.0))
    values = {
        "arm_index": data.arm_codes,
        "design": data.design,
        "log_baseline_centred": centred,
        "plt_day0": day0,
        "baseline_reference": reference,
        "log_plt": np.where(observed, log_counts, 0.0),
        "observed": observed.astype(float),
        "weight": data.likelihood_weights(contributes),
        "target_tilt": data.tilt,
    }
    if likelihood_form(observed, form) == "batched":
        values |= pattern_values(observed)
    else:
        for p, pattern in enumerate(observed_patterns(observed)):
            rows = np.flatnonzero(np.all(observed == np.array(pattern), axis=1))
            if len(rows) < data.n:
                values[f"rows_{p}"] = rows.astype("int64")
            values[f"log_plt_{p}"] = log_counts[np.ix_(rows, np.flatnonzero(pattern))]
    for name in PRIOR_NAMES:
        values[f"prior_{name}"] = np.asarray(float(getattr(prior, name)))
    return values | group_values(data)
