"""The recovery outcome as the model reads it: whole days checked, person-period rows, the last
day each patient is known not to have recovered (exact or interval-censored recoveries).

The model: :mod:`cit_bayes.bayes.recovery`.
"""

from __future__ import annotations

import numpy as np

from cit_bayes.exceptions import ModelError

__all__ = ["check_recovery_times", "person_period", "recovery_after"]


def check_recovery_times(time, recovered, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Check (time, recovered) as :func:`person_period` reads them; return them as float arrays.

    Examples
    --------
    >>> from cit_bayes.bayes.recovery_times import check_recovery_times
    >>> check_recovery_times([2, 0], [1, 1], horizon=14)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: a recovery must happen on day 1 or later
    """
    time = np.asarray(time, dtype=float)
    recovered = np.asarray(recovered, dtype=float)
    if time.ndim != 1 or recovered.shape != time.shape:
        raise ModelError("time and recovered must be one-dimensional arrays of one length")
    if not np.all(np.isfinite(time)) or np.any(time % 1 != 0):
        raise ModelError("times to recovery must be whole days")
    if np.any(time < 0) or np.any(time > horizon):
        raise ModelError(f"times to recovery must lie in 0..{horizon}")
    if not np.all(np.isin(recovered, (0.0, 1.0))):
        raise ModelError("recovered must be 0 or 1")
    if np.any((recovered == 1) & (time < 1)):
        raise ModelError("a recovery must happen on day 1 or later")
    return time, recovered


def person_period(time, recovered, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand (time, recovered) into person-period rows.

    Returns
    -------
    patient, day, event : numpy.ndarray
        One row per patient and day at risk: the patient's position, the day index (0 for
        day 1) and 1 on the recovery day (0 otherwise).

    Examples
    --------
    >>> from cit_bayes.bayes.recovery_times import person_period
    >>> patient, day, event = person_period([2, 0, 1], [1, 0, 0], horizon=14)
    >>> patient.tolist(), day.tolist(), event.tolist()
    ([0, 0, 2], [0, 1, 0], [0.0, 1.0, 0.0])
    """
    time, recovered = check_recovery_times(time, recovered, horizon)
    counts = time.astype(int)
    patient = np.repeat(np.arange(len(time)), counts)
    day = np.concatenate([np.arange(c) for c in counts]) if counts.sum() else np.zeros(0, int)
    event = ((day + 1) == counts[patient]) & (recovered[patient] == 1)
    return patient.astype("int64"), day.astype("int64"), event.astype(float)


def recovery_after(time, recovered, after=None) -> np.ndarray:
    """The last day each patient is known not to have recovered (checked), as int64.

    A recovery observed on day T happened in (L, T]: L = T - 1 when the count was recorded
    daily (the default when ``after`` is None), earlier when the day before T had no count
    (interval-censored, as when recovery is derived from sparse laboratory draws:
    :mod:`cit_bayes.cohort.labs`). A patient not recovered was followed to T: L = T.

    Examples
    --------
    >>> recovery_after([3, 14, 7], [1, 0, 1]).tolist()
    [2, 14, 6]
    >>> recovery_after([3, 14, 7], [1, 0, 1], [2, 14, 3]).tolist()  # the third in (3, 7]
    [2, 14, 3]
    """
    time = np.asarray(time, dtype=float)
    recovered = np.asarray(recovered, dtype=float)
    if after is None:
        return (time - recovered).astype("int64")
    after = np.asarray(after, dtype=float)
    if after.shape != time.shape:
        raise ModelError(f"recovery_after must have shape {time.shape}, got {after.shape}")
    if not np.all(np.isfinite(after)) or np.any(after % 1 != 0):
        raise ModelError("recovery_after must be whole days")
    event = recovered == 1
    if np.any(event & ((after < 0) | (after >= time))):
        raise ModelError("a recovery on day T needs a last day without it in 0..T-1")
    if np.any(~event & (after != time)):
        raise ModelError("a patient not recovered is known not recovered up to the censoring day")
    return after.astype("int64")
