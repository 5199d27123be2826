"""Outcomes the package derives from the platelet counts: response, ΔPLT, time to recovery.

The numeric cores take numpy arrays (NaN = missing) so that the validation of a user's file, the
simulator and the reconstruction of the published cohort all use one definition.
"""

from __future__ import annotations

import numpy as np

from cit_bayes.cohort.schema import (
    RECOVERY_THRESHOLD,
    RESPONSE_FOLD,
    RESPONSE_RISE,
    RESPONSE_RULES,
)
from cit_bayes.exceptions import CohortError

__all__ = [
    "derive_delta_plt",
    "derive_recovery_after",
    "derive_response",
    "derive_response_by_day",
    "derive_time_to_recovery",
    "derive_time_to_recovery_by_day",
    "meets_response_criteria",
    "response_determined",
    "response_determined_by_day",
]

_MAX_POSITIONS_NAMED = 20


def _as_float(values, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise CohortError(f"{name}: expected numbers (NaN for missing)") from error
    return np.atleast_1d(array)


def _by_day(counts, recovery_day) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """The counts as float arrays keyed by day (0 first, then increasing), and the recovery day."""
    if not counts or 0 not in counts:
        raise CohortError("the platelet counts need a baseline (day 0)")
    days = sorted(int(day) for day in counts)
    arrays = {day: _as_float(counts[day], f"plt_day{day}") for day in days}
    first = arrays[0]
    recovery = (
        np.full(first.shape, np.nan)
        if recovery_day is None
        else _as_float(recovery_day, "recovery_day")
    )
    shapes = {array.shape for array in (*arrays.values(), recovery)}
    if len(shapes) != 1 or len(first.shape) != 1:
        raise CohortError(
            f"the platelet arrays must be one-dimensional and of one length: {shapes}"
        )
    return arrays, recovery


def _default_days(plt_day0, plt_day3, plt_day7, plt_day14) -> dict[int, object]:
    return {0: plt_day0, 3: plt_day3, 7: plt_day7, 14: plt_day14}


def _check_rule(rule: str, days=(0, 3, 7, 14)) -> None:
    if rule not in RESPONSE_RULES:
        raise CohortError(f"unknown response rule {rule!r}; expected one of {RESPONSE_RULES}")
    if rule == "day14" and 14 not in days:
        raise CohortError(
            f"response rule 'day14' needs day 14 among the planned days {tuple(days)}; rule "
            "'last' looks at the last planned day's count"
        )


def meets_response_criteria(plt_day0, plt_count) -> np.ndarray:
    """Whether one post-baseline count meets the paper's response criteria.

    Parameters
    ----------
    plt_day0, plt_count : array_like of float
        Baseline and post-baseline platelet counts (x10^9/L); NaN = missing.

    Returns
    -------
    numpy.ndarray of bool
        True where the count is >= 100, or >= baseline + 50, or >= 2 x baseline. False where
        either count is missing (a missing count meets nothing).

    Examples
    --------
    >>> meets_response_criteria([40, 40, 40], [60, 95, float("nan")]).tolist()
    [False, True, False]
    """
    baseline = _as_float(plt_day0, "plt_day0")
    count = _as_float(plt_count, "plt_count")
    with np.errstate(invalid="ignore"):
        met = (
            (count >= RECOVERY_THRESHOLD)
            | (count - baseline >= RESPONSE_RISE)
            | (count >= RESPONSE_FOLD * baseline)
        )
    return met & np.isfinite(count) & np.isfinite(baseline)


def _response_parts(counts, rule, recovery_day):
    arrays, recovery = _by_day(counts, recovery_day)
    days = tuple(arrays)
    _check_rule(rule, days)
    day0 = arrays[0]
    if rule in ("day14", "last"):
        looked_at = (arrays[14 if rule == "day14" else days[-1]],)
        recovered = np.zeros(day0.shape, dtype=bool)
    else:
        looked_at = tuple(arrays[day] for day in days[1:])
        recovered = np.isfinite(recovery) & (recovery >= 1) & (recovery <= days[-1])
    met = recovered.copy()
    any_observed = np.zeros(day0.shape, dtype=bool)
    for count in looked_at:
        met |= meets_response_criteria(day0, count)
        any_observed |= np.isfinite(count)
    has_baseline = np.isfinite(day0)
    determined = has_baseline & (met | any_observed)
    return met & has_baseline, determined


def response_determined_by_day(counts, rule: str = "any", *, recovery_day=None) -> np.ndarray:
    """:func:`response_determined` on any planned days: ``counts`` maps each day (0 = the
    baseline) to its counts.

    Examples
    --------
    >>> nan = float("nan")
    >>> response_determined_by_day({0: [40, 40], 5: [45, nan], 21: [nan, nan]}).tolist()
    [True, False]
    """
    return _response_parts(counts, rule, recovery_day)[1]


def derive_response_by_day(counts, rule: str = "any", *, recovery_day=None) -> np.ndarray:
    """:func:`derive_response` on any planned days: ``counts`` maps each day (0 = the baseline)
    to its counts; rule ``"last"`` looks at the last day's count, ``"day14"`` at day 14's.

    Examples
    --------
    >>> derive_response_by_day({0: [40, 60], 5: [45, 62], 21: [95, 70]}).tolist()
    [1, 0]
    >>> derive_response_by_day({0: [40, 60], 5: [95, 62], 21: [70, 70]}, "last").tolist()
    [0, 0]
    """
    met, determined = _response_parts(counts, rule, recovery_day)
    if not determined.all():
        positions = np.flatnonzero(~determined)
        named = ", ".join(str(int(p)) for p in positions[:_MAX_POSITIONS_NAMED])
        more = len(positions) - _MAX_POSITIONS_NAMED
        suffix = f" and {more} more" if more > 0 else ""
        raise CohortError(
            f"response cannot be determined under rule {rule!r} for {len(positions)} patient(s) "
            f"(positions {named}{suffix}): the baseline count or every count the rule needs is "
            "missing"
        )
    return met.astype(int)


def derive_time_to_recovery_by_day(counts, recovery_day) -> tuple[np.ndarray, np.ndarray]:
    """:func:`derive_time_to_recovery` on any planned days: ``counts`` maps each day (0 = the
    baseline) to its counts; without a recovery, censored at the last day with a count.

    Examples
    --------
    >>> nan = float("nan")
    >>> time, event = derive_time_to_recovery_by_day({0: [40, 40], 5: [45, 60], 21: [130, nan]},
    ...                                              [12, nan])
    >>> time.tolist(), event.tolist()
    ([12, 5], [1, 0])
    """
    arrays, recovery = _by_day(counts, recovery_day)
    recovered = np.isfinite(recovery)
    censor = np.zeros(arrays[0].shape, dtype=int)
    for day, count in arrays.items():
        censor = np.where(np.isfinite(count), day, censor)
    time = np.where(recovered, np.nan_to_num(recovery, nan=0.0), censor).astype(int)
    return time, recovered.astype(int)


def response_determined(
    plt_day0, plt_day3, plt_day7, plt_day14, rule: str = "any", *, recovery_day=None
) -> np.ndarray:
    """Whether the response can be determined from the recorded counts.

    Under rule ``"any"`` a response is determined when the baseline count is known and either a
    criterion is met (by a recorded count or a recorded ``recovery_day``) or at least one
    post-baseline count (day 3, 7 or 14) is recorded. Under rule ``"day14"`` the baseline and
    day-14 counts must both be known.

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> nan = float("nan")
    >>> response_determined([40, 40], [45, nan], [nan, nan], [nan, nan]).tolist()
    [True, False]
    """
    counts = _default_days(plt_day0, plt_day3, plt_day7, plt_day14)
    return response_determined_by_day(counts, rule, recovery_day=recovery_day)


def derive_response(
    plt_day0, plt_day3, plt_day7, plt_day14, rule: str = "any", *, recovery_day=None
) -> np.ndarray:
    """The paper's treatment response, per patient.

    Parameters
    ----------
    plt_day0, plt_day3, plt_day7, plt_day14 : array_like of float
        Platelet counts (x10^9/L) at baseline and on days 3, 7 and 14; NaN = missing.
    rule : {"any", "day14"}
        ``"any"`` (default): the criteria are evaluated at every recorded post-baseline count
        (and a recorded ``recovery_day`` counts as a count >= 100 on that day). ``"day14"``: at
        the day-14 count only.
    recovery_day : array_like of float, optional
        First day (1-14) with PLT >= 100, NaN when not reached. Used by rule ``"any"`` only.

    Returns
    -------
    numpy.ndarray of int
        1 = response, 0 = no response.

    Raises
    ------
    CohortError
        If the response of some patient cannot be determined (no baseline count, or no
        post-baseline count that the rule looks at, and no criterion met): a missing count never
        silently becomes a non-response. The error names the positions (0-based) of those
        patients; use :func:`response_determined` to find them beforehand.

    Notes
    -----
    With baseline :math:`b` and a post-baseline count :math:`c`, a count meets the criteria when

    .. math:: c \\ge 100 \\;\\lor\\; c - b \\ge 50 \\;\\lor\\; c \\ge 2b .

    Under rule ``"any"`` the response is 1 when some recorded count meets them, and 0 when
    none does and at least one post-baseline count is recorded (the rule is evaluated on the
    counts available; the validation layer notes how many non-responses rest on incomplete
    counts). Under ``"day14"`` only the day-14 count is looked at.

    References
    ----------
    The paper, Methods, "Primary outcome measures" 1 (treatment efficacy rate).

    Examples
    --------
    >>> derive_response([40, 60], [45, 62], [95, 70], [float("nan"), 80]).tolist()
    [1, 0]
    >>> derive_response([40, 60], [45, 62], [95, 70], [90, 80], rule="day14").tolist()
    [1, 0]
    """
    counts = _default_days(plt_day0, plt_day3, plt_day7, plt_day14)
    return derive_response_by_day(counts, rule, recovery_day=recovery_day)


def derive_delta_plt(plt_day0, plt_day14) -> np.ndarray:
    """ΔPLT = day-14 count minus baseline count (x10^9/L); NaN when either is missing.

    Examples
    --------
    >>> derive_delta_plt([40.0, 50.0], [120.0, float("nan")]).tolist()
    [80.0, nan]
    """
    return _as_float(plt_day14, "plt_day14") - _as_float(plt_day0, "plt_day0")


def derive_time_to_recovery(
    plt_day0, plt_day3, plt_day7, plt_day14, recovery_day
) -> tuple[np.ndarray, np.ndarray]:
    """The time-to-event pair of platelet recovery (first day with PLT >= 100).

    Parameters
    ----------
    plt_day0, plt_day3, plt_day7, plt_day14 : array_like of float
        Platelet counts; NaN = missing.
    recovery_day : array_like of float
        First day (1-14) with PLT >= 100; NaN when not reached (as far as recorded).

    Returns
    -------
    time_to_recovery : numpy.ndarray of int
        ``recovery_day`` when recovery was observed; otherwise the censoring day: 14 when the
        day-14 count is recorded, else the last day (7, 3, then 0) with a recorded count.
    recovered : numpy.ndarray of int
        1 = recovery observed, 0 = censored.

    Notes
    -----
    Censoring at the last recorded count (rather than at day 14) is the conservative reading of
    an empty ``recovery_day`` when the day-14 count is missing: recovery is known not to have
    happened by the last recorded count only.

    Examples
    --------
    >>> nan = float("nan")
    >>> time, event = derive_time_to_recovery([40, 40], [45, 60], [110, nan], [130, nan], [7, nan])
    >>> time.tolist(), event.tolist()
    ([7, 3], [1, 0])
    """
    counts = _default_days(plt_day0, plt_day3, plt_day7, plt_day14)
    return derive_time_to_recovery_by_day(counts, recovery_day)


def derive_recovery_after(time, recovered, recovery_after=None) -> tuple[np.ndarray, np.ndarray]:
    """The last day each patient is known not to have recovered, and the follow-up it implies.

    Parameters
    ----------
    time, recovered : array_like of int
        From :func:`derive_time_to_recovery`.
    recovery_after : array_like of float, optional
        The input column ``recovery_after`` (NaN = not given): before a recovery, the last day
        with a count below 100 (the recovery happened in (recovery_after, recovery_day],
        interval-censored when the day before had no count); without a recovery, the last day
        followed, which then replaces the censoring day read from the planned counts.

    Returns
    -------
    time_to_recovery : numpy.ndarray of int
    recovery_after : numpy.ndarray of int
        Given, or ``time - 1`` after a recovery (an exact day) and ``time`` without one.

    Examples
    --------
    >>> nan = float("nan")
    >>> time, after = derive_recovery_after([7, 14, 5], [1, 0, 0], [3, 12, nan])
    >>> time.tolist(), after.tolist()
    ([7, 12, 5], [3, 12, 5])
    """
    time = np.asarray(time, dtype=int)
    recovered = np.asarray(recovered, dtype=int)
    default = time - recovered
    if recovery_after is None:
        return time, default
    given = _as_float(recovery_after, "recovery_after")
    after = np.where(np.isfinite(given), np.nan_to_num(given), default).astype(int)
    time = np.where(recovered == 1, time, after)
    return time, after
