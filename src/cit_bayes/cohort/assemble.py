"""The :class:`~cit_bayes.cohort.dataset.Cohort` assembled from a checked table's parsed cells.

:func:`assemble_cohort` keeps the rows not dropped (their count per arm and reason in
``Cohort.dropped``), derives the outcomes (response, delta_plt, time to recovery, recovered,
recovery_after) and writes the notes on them; :func:`with_extra_columns` adds the covariates and
the grouping column beyond the schema.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pandas as pd

from cit_bayes.cohort.cells import ParsedColumn
from cit_bayes.cohort.dataset import DROPPED_COLUMNS, Cohort, fingerprint_frame
from cit_bayes.cohort.derive import (
    derive_delta_plt,
    derive_recovery_after,
    derive_response_by_day,
    derive_time_to_recovery_by_day,
)
from cit_bayes.cohort.problems import Problem
from cit_bayes.cohort.schema import (
    ARMS,
    BINARY_COVARIATES,
    PLT_DAYS,
    SAFETY_OUTCOMES,
    cohort_columns,
    plt_columns,
)
from cit_bayes.exceptions import CohortError

__all__ = ["assemble_cohort", "with_extra_columns"]


def assemble_cohort(
    parsed: dict[str, ParsedColumn],
    drop_reason: dict[int, str],
    source: str,
    missing: str,
    response_rule: str,
    notes: list[str],
    arm_labels: tuple[str, ...] = ARMS,
    days: tuple[int, ...] = PLT_DAYS,
) -> Cohort:
    """The cohort of the rows not dropped, with the derived outcomes and their notes.

    Examples
    --------
    Three parsed rows counted on days 0 and 7, the third dropped (``missing="drop"``):

    >>> import numpy as np
    >>> from cit_bayes.cohort.assemble import assemble_cohort
    >>> from cit_bayes.cohort.cells import ParsedColumn
    >>> def parsed_column(*values):
    ...     kind = object if isinstance(values[0], str) else float
    ...     return ParsedColumn(np.array(values, dtype=kind), np.zeros(len(values), dtype=bool))
    >>> parsed = {
    ...     "patient_id": parsed_column("p1", "p2", "p3"),
    ...     "arm": parsed_column("rhTPO", "rhIL-11", "rhIL-11"),
    ...     "plt_day0": parsed_column(40, 60, 50),
    ...     "plt_day7": parsed_column(120, 70, 55),
    ...     "recovery_day": parsed_column(7, np.nan, np.nan),
    ... }
    >>> notes = []
    >>> cohort = assemble_cohort(parsed, {2: "missing baseline covariate"}, "cohort.csv",
    ...                          "drop", "any", notes, days=(0, 7))
    >>> cohort.arms, cohort.data["response"].tolist(), cohort.data["delta_plt"].tolist()
    (('rhTPO', 'rhIL-11'), [1, 0], [80.0, 10.0])
    >>> cohort.dropped["n_dropped"].tolist(), notes[0].split(" (")[0]
    ([1], 'dropped 1 of 3 rows for missing values')
    """
    n_rows = len(parsed["patient_id"].values)
    keep = np.ones(n_rows, dtype=bool)
    keep[list(drop_reason)] = False
    arms_all = parsed["arm"].values
    dropped = _dropped_table(drop_reason, arms_all, arm_labels)
    if drop_reason:
        notes.append(
            f"dropped {len(drop_reason)} of {n_rows} rows for missing values "
            f"(missing={missing!r}); "
            "see Cohort.dropped for the count per arm and reason"
        )
    present = [arm for arm in arm_labels if arm in set(arms_all[keep])]
    if len(present) < 2:
        problem = Problem(
            source,
            None,
            "arm",
            None,
            f"at least two treatment arms with patients (found {len(present)}: "
            f"{', '.join(present) or 'none'}"
            + (f", after dropping {len(drop_reason)} rows" if drop_reason else "")
            + ")",
        )
        raise CohortError(f"{source} cannot be compared: fewer than two arms", problems=[problem])

    n_kept = int(keep.sum())

    def column(name: str) -> np.ndarray:
        return parsed[name].values[keep]

    def text(name: str) -> pd.Series:  # a covariate not read is missing (None)
        values = column(name) if name in parsed else np.full(n_kept, None, dtype=object)
        return pd.Series(values, dtype=object)

    def number(name: str, dtype) -> np.ndarray:  # a covariate not read is missing (NaN)
        if name not in parsed:
            return np.full(n_kept, np.nan)
        values = column(name).astype(float)
        # under missing="impute" an integer covariate may hold NaN until it is imputed
        return values if np.isnan(values).any() else values.astype(dtype)

    data = pd.DataFrame(
        {
            "patient_id": pd.Series(column("patient_id"), dtype=object),
            "arm": pd.Categorical(column("arm"), categories=present),
            "sex": text("sex"),
            "age": number("age", float),
            "bmi": number("bmi", float),
            "ecog": number("ecog", np.int64),
            "tumor_type": text("tumor_type"),
            "stage": text("stage"),
        }
    )
    for name in BINARY_COVARIATES:
        data[name] = number(name, np.int64)
    columns = plt_columns(days)
    for name in columns:
        data[name] = column(name).astype(float)
    data["recovery_day"] = pd.Series(column("recovery_day"), dtype=float).astype("Int64")
    for name in SAFETY_OUTCOMES:
        values = column(name) if name in parsed else np.full(int(keep.sum()), np.nan)
        data[name] = pd.Series(values, dtype=float).astype("Int64")
    synthetic = bool("synthetic" in parsed and np.nanmax(parsed["synthetic"].values) == 1)
    data["synthetic"] = np.full(len(data), int(synthetic), dtype=np.int64)

    given = column("recovery_after") if "recovery_after" in parsed else None
    data = _with_outcomes(data, response_rule, days, given)

    notes.extend(_outcome_notes(data, parsed, keep, response_rule, days))
    return Cohort(
        data=data,
        source=source,
        synthetic=synthetic,
        response_rule=response_rule,
        fingerprint=fingerprint_frame(data),
        dropped=dropped,
        notes=tuple(notes),
        missing=missing,
        days=days,
    )


def _dropped_table(drop_reason: dict[int, str], arms, arm_labels) -> pd.DataFrame:
    """Rows dropped per arm and reason (``Cohort.dropped``), arms in their stated order."""
    counts = Counter((arms[p], reason) for p, reason in drop_reason.items())
    return pd.DataFrame(
        [
            {"arm": arm, "reason": reason, "n_dropped": count}
            for (arm, reason), count in sorted(
                counts.items(), key=lambda item: (arm_labels.index(item[0][0]), item[0][1])
            )
        ],
        columns=list(DROPPED_COLUMNS),
    ).astype({"n_dropped": int})


def _with_outcomes(data: pd.DataFrame, response_rule: str, days, given_after) -> pd.DataFrame:
    """``data`` with the derived outcomes (response, delta_plt, time_to_recovery, recovered,
    recovery_after), its columns in the schema's order."""
    counts = {
        day: data[name].to_numpy(dtype=float)
        for day, name in zip(days, plt_columns(days), strict=True)
    }
    recovery = data["recovery_day"].to_numpy(dtype=float, na_value=np.nan)
    data["response"] = derive_response_by_day(counts, response_rule, recovery_day=recovery)
    data["delta_plt"] = derive_delta_plt(counts[0], counts[days[-1]])
    time, recovered = derive_time_to_recovery_by_day(counts, recovery)
    time, after = derive_recovery_after(time, recovered, given_after)
    data["time_to_recovery"] = time.astype(np.int64)
    data["recovered"] = recovered.astype(np.int64)
    data["recovery_after"] = after.astype(np.int64)
    return data.loc[:, list(cohort_columns(days))]


def _outcome_notes(data, parsed, keep, response_rule: str, days=PLT_DAYS) -> list[str]:
    notes = []
    counts = [data[name].to_numpy(dtype=float) for name in plt_columns(days)]
    if response_rule == "any":
        incomplete = np.isnan(np.column_stack(counts[1:])).any(axis=1)
        partial = int(((data["response"] == 0).to_numpy() & incomplete).sum())
        if partial:
            post = ", ".join(str(day) for day in days[1:])
            notes.append(
                f"{partial} non-response(s) rest on incomplete counts (a count of day {post} "
                "missing): rule 'any' evaluates the counts recorded"
            )
    last = days[-1]
    early = int(((data["recovered"] == 0) & (data["time_to_recovery"] < last)).sum())
    if early:
        notes.append(
            f"{early} patient(s) without recovery and without a day-{last} count: censored at "
            "the last day with a recorded count"
        )
    if "response" in parsed:
        given = parsed["response"].values[keep]
        known = ~np.isnan(given)
        disagree = int((given[known] != data["response"].to_numpy()[known]).sum())
        if disagree:
            notes.append(
                f"input column response disagrees with the derived response (rule "
                f"{response_rule!r}) for {disagree} of {int(known.sum())} patients; the derived "
                "response is used"
            )
        else:
            notes.append(
                f"input column response agrees with the derived response for all "
                f"{int(known.sum())} patients with a value"
            )
    return notes


def with_extra_columns(
    cohort: Cohort, parsed, drop_reason, names: tuple[str, ...], group: str
) -> Cohort:
    """The cohort with the further numeric covariates (float) and the grouping column beyond
    the schema (text) after the schema's columns.

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.cohort.assemble import assemble_cohort, with_extra_columns
    >>> from cit_bayes.cohort.cells import ParsedColumn
    >>> def parsed_column(*values):
    ...     kind = object if isinstance(values[0], str) else float
    ...     return ParsedColumn(np.array(values, dtype=kind), np.zeros(len(values), dtype=bool))
    >>> parsed = {
    ...     "patient_id": parsed_column("p1", "p2", "p3"),
    ...     "arm": parsed_column("rhTPO", "rhIL-11", "rhIL-11"),
    ...     "plt_day0": parsed_column(40, 60, 50),
    ...     "plt_day7": parsed_column(120, 70, 55),
    ...     "recovery_day": parsed_column(7, np.nan, np.nan),
    ...     "ldh": parsed_column(210, 250, 300),
    ...     "centre": parsed_column("Beijing", "Wuhan", "Wuhan"),
    ... }
    >>> dropped = {2: "missing baseline covariate"}
    >>> cohort = assemble_cohort(parsed, dropped, "cohort.csv", "drop", "any", [], days=(0, 7))
    >>> extended = with_extra_columns(cohort, parsed, dropped, ("ldh",), "centre")
    >>> extended.data[["ldh", "centre"]].values.tolist(), extended.extra_covariates
    ([[210.0, 'Beijing'], [250.0, 'Wuhan']], ('ldh',))
    >>> extended.fingerprint == cohort.fingerprint  # the extra columns enter the fingerprint
    False
    """
    keep = np.ones(len(parsed["patient_id"].values), dtype=bool)
    keep[list(drop_reason)] = False
    data = cohort.data.copy()
    for name in names:
        data[name] = parsed[name].values[keep].astype(float)
    if group:
        data[group] = pd.Series(parsed[group].values[keep], index=data.index, dtype=object)
    return dataclasses.replace(
        cohort,
        data=data,
        fingerprint=fingerprint_frame(data, extra=names, labels=(group,) if group else ()),
        extra_covariates=names,
        group_column=group,
    )
