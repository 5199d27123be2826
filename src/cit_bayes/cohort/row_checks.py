"""Cross-cell checks of a parsed cohort table, and the rows dropped for missing values.

:func:`check_rows` checks what one cell cannot show: unique identifiers and an arm on every row,
a baseline count of CIT, a recovery day that agrees with the counts, qualified counts that leave
the response open, one synthetic flag; and it decides, by the ``missing`` policy, which rows
with a missing covariate, ``plt_day0`` or an undeterminable response are an error and which are
dropped (position -> reason). Problems go to the table's
:class:`~cit_bayes.cohort.problems.ProblemLog`.
"""

from __future__ import annotations

import numpy as np

from cit_bayes.cohort.cells import ParsedColumn
from cit_bayes.cohort.derive import derive_response_by_day, response_determined_by_day
from cit_bayes.cohort.problems import NOT_SHOWN, ProblemLog
from cit_bayes.cohort.schema import (
    ARMS,
    COLUMN_SPECS,
    PLT_DAYS,
    RECOVERY_THRESHOLD,
    ColumnSpec,
    plt_columns,
)

__all__ = ["check_rows"]

_DROP_HINT = (
    "missing='drop' (--missing drop) drops such rows and counts them per arm; "
    "missing='impute' (--missing impute) imputes missing baseline covariates"
)
#: Under ``missing="impute"``: what is never imputed, and why (such rows are dropped and counted).
NOT_IMPUTED = {
    "plt_day0": "missing plt_day0 (not imputed: the response is defined relative to it)",
    "group": "missing grouping label (not imputed)",
}


def check_rows(
    parsed: dict[str, ParsedColumn],
    names: dict[str, str],
    log: ProblemLog,
    missing: str,
    response_rule: str,
    specs: tuple[ColumnSpec, ...] = COLUMN_SPECS,
    windowed: bool = False,
    days: tuple[int, ...] = PLT_DAYS,
    group: str | None = None,
) -> dict[int, str]:
    """Cross-cell checks; return the rows to drop (position -> reason) under ``missing="drop"``
    (and ``"impute"``, for what is never imputed: ``plt_day0`` and the grouping column
    ``group``, whatever its kind).

    Examples
    --------
    Three rows counted on days 0 and 7: the third repeats an identifier (a problem, whatever
    the policy), the second has no count after baseline nor a recovery day (dropped under
    ``missing="drop"``, a problem under ``"error"``):

    >>> import numpy as np
    >>> from cit_bayes.cohort.cells import ParsedColumn
    >>> from cit_bayes.cohort.problems import ProblemLog
    >>> from cit_bayes.cohort.row_checks import check_rows
    >>> def parsed_column(*values):
    ...     kind = object if isinstance(values[0], str) else float
    ...     array = np.array(values, dtype=kind)
    ...     return ParsedColumn(array, np.array([v is None or v != v for v in values]))
    >>> parsed = {
    ...     "patient_id": parsed_column("p1", "p2", "p2"),
    ...     "arm": parsed_column("rhTPO", "rhIL-11", "rhIL-11"),
    ...     "plt_day0": parsed_column(40, 60, 50),
    ...     "plt_day7": parsed_column(120, np.nan, 55),
    ...     "recovery_day": parsed_column(7, np.nan, np.nan),
    ... }
    >>> names = {name: name for name in parsed}  # the columns' names in the file
    >>> log = ProblemLog("cohort.csv")
    >>> check_rows(parsed, names, log, "drop", "any", days=(0, 7))
    {1: 'response not determinable'}
    >>> [(problem.row, problem.column) for problem in log.problems]
    [(3, 'patient_id')]
    >>> log = ProblemLog("cohort.csv")
    >>> check_rows(parsed, names, log, "error", "any", days=(0, 7))
    {}
    >>> [(problem.row, problem.column) for problem in log.problems]
    [(3, 'patient_id'), (2, 'plt_day7')]
    """
    n = len(parsed["patient_id"].values)
    invalid = {name: np.zeros(n, dtype=bool) for name in parsed}
    for name, result in parsed.items():
        for position, _, _ in result.errors:
            invalid[name][position] = True
    _check_identifiers(parsed, names, log, specs)
    _check_baseline(parsed, names, log)
    _check_recovery(parsed, names, invalid, log, windowed, days)
    _check_qualified(parsed, names, log, response_rule, days)
    if "synthetic" in parsed:
        _check_synthetic_flag(parsed, names, log)
    drop_reason = _missing_covariates(parsed, names, log, missing, specs, group)
    _undetermined_responses(parsed, names, log, missing, response_rule, days, invalid, drop_reason)
    return drop_reason


def _check_identifiers(parsed, names, log: ProblemLog, specs) -> None:
    """Every row has a patient identifier, unique, and an arm."""
    for name in ("patient_id", "arm"):
        what = (
            "a patient identifier"
            if name == "patient_id"
            else "a treatment arm: " + ", ".join(_arm_spec(specs).allowed or ARMS)
        )
        for position in np.flatnonzero(parsed[name].missing):
            log.add_at(position, names[name], None, f"{what} (this column may not be empty)")
    # compared with case and surrounding spaces ignored ("P01" and "p01 " are one patient);
    # the identifier itself is never shown, only the rows
    seen: dict[str, tuple[int, str]] = {}
    for position, identifier in enumerate(parsed["patient_id"].values):
        if identifier is None:
            continue
        key = str(identifier).strip().casefold()
        if key not in seen:
            seen[key] = (position, identifier)
            continue
        first, spelled = seen[key]
        how = (
            "the identifier" if identifier == spelled else "the identifier, up to case and spaces,"
        )
        log.add_at(
            position,
            names["patient_id"],
            NOT_SHOWN,
            f"a unique patient identifier (this row holds {how} of row {log.row_of(first)}; "
            "identifiers are compared with case and surrounding spaces ignored)",
        )


def _arm_spec(specs) -> ColumnSpec:
    return next(spec for spec in specs if spec.name == "arm")


def _check_baseline(parsed, names, log: ProblemLog) -> None:
    """The baseline count is above 0 and below 100 x10^9/L (the definition of CIT)."""
    day0 = parsed["plt_day0"].values
    with np.errstate(invalid="ignore"):
        for position in np.flatnonzero(day0 >= RECOVERY_THRESHOLD):
            log.add_at(
                position,
                names["plt_day0"],
                day0[position],
                "a baseline count below 100 x10^9/L: chemotherapy-induced thrombocytopenia is "
                "defined by a baseline platelet count < 100, so this patient does not belong here",
            )
        for position in np.flatnonzero(day0 <= 0):
            log.add_at(position, names["plt_day0"], day0[position], "a baseline count above 0")


def _check_synthetic_flag(parsed, names, log: ProblemLog) -> None:
    """The synthetic flag is 0 or 1, the same on every row."""
    flags = parsed["synthetic"].values
    for position in np.flatnonzero(parsed["synthetic"].missing):
        log.add_at(position, names["synthetic"], None, "0 or 1 on every row")
    known = flags[np.isfinite(flags)]
    if known.size and known.min() != known.max():
        log.add_general(
            names["synthetic"],
            f"the same flag on every row (found {int((known == 1).sum())} rows with 1 and "
            f"{int((known == 0).sum())} with 0)",
        )


def _missing_covariates(
    parsed, names, log: ProblemLog, missing: str, specs, group: str | None = None
) -> dict[int, str]:
    """Missing baseline covariates and plt_day0: an error, or the rows to drop (position ->
    reason); under ``missing="impute"`` the imputable cells are kept for the imputation (never
    plt_day0's, nor the grouping column's, a schema category such as tumor_type included)."""
    drop_reason: dict[int, str] = {}
    for spec in specs:
        if spec.when_missing != "covariate" or spec.name not in parsed:
            continue
        reason = "missing plt_day0" if spec.name == "plt_day0" else "missing baseline covariate"
        never = spec.name in ("plt_day0", group) or spec.kind == "text"
        imputed = missing == "impute" and not never
        if missing == "impute" and not imputed:
            reason = NOT_IMPUTED["plt_day0" if spec.name == "plt_day0" else "group"]
        for position in np.flatnonzero(parsed[spec.name].missing):
            if imputed:
                continue  # kept: cit_bayes.cohort.impute fills it, once per imputation
            if missing in ("drop", "impute"):
                drop_reason.setdefault(int(position), reason)
            else:
                log.add_at(position, names[spec.name], None, f"a value ({_DROP_HINT})")
    return drop_reason


def _undetermined_responses(
    parsed, names, log: ProblemLog, missing: str, response_rule: str, days, invalid, drop_reason
) -> None:
    """Rows whose response the rule cannot determine: an error, or dropped (``drop_reason``)."""
    columns = plt_columns(days)
    counts = {day: parsed[name].values for day, name in zip(days, columns, strict=True)}
    determined = response_determined_by_day(
        counts, response_rule, recovery_day=parsed["recovery_day"].values
    )
    looked_at = {"day14": ("plt_day14",), "last": columns[-1:]}.get(response_rule, columns[1:])
    needed = "/".join(looked_at)
    for position in np.flatnonzero(~determined & ~parsed["plt_day0"].missing):
        if any(invalid[name][position] for name in (*columns, "recovery_day")):
            continue  # already reported as an invalid value
        if missing in ("drop", "impute"):
            drop_reason.setdefault(int(position), "response not determinable")
        else:
            post = ", ".join(str(day) for day in days[1:])
            need = {
                "day14": "a day-14 count (rule 'day14')",
                "last": f"a day-{days[-1]} count (rule 'last')",
            }.get(
                response_rule,
                f"at least one post-baseline count (day {post}) or a recovery_day",
            )
            log.add_at(
                position,
                needed,
                None,
                f"{need}: the response cannot be determined otherwise and is never assumed to "
                f"be a non-response ({_DROP_HINT})",
            )


def _check_qualified(
    parsed, names, log: ProblemLog, response_rule: str, days: tuple[int, ...] = PLT_DAYS
) -> None:
    """A count given as ``<x`` is read at x, which settles PLT >= 100 but not the response's
    other rules (a rise of 50, a doubling of the baseline): a patient whose response differs
    between the lowest and the highest values the qualified counts allow is an error."""
    columns = plt_columns(days)
    below = {name: parsed[name].below for name in columns[1:]}  # a baseline is never qualified
    if not any(mask is not None and mask.any() for mask in below.values()):
        return
    counts = {name: parsed[name].values for name in columns}
    low = dict(counts)  # post-baseline counts at their lowest
    high = dict(counts)  # post-baseline counts at their limit
    for name in columns[1:]:
        low[name] = np.where(below[name], 0.0, counts[name])
    recovery = parsed["recovery_day"].values
    lowest, highest = (
        derive_response_by_day(
            {day: c[n] for day, n in zip(days, columns, strict=True)},
            response_rule,
            recovery_day=recovery,
        )
        for c in (low, high)
    )
    for position in np.flatnonzero(lowest != highest):
        column = next(n for n in columns[1:] if below[n][position])
        log.add_at(
            position,
            names[column],
            f"<{counts[column][position]:g}",
            "a count, not a qualified value: the response (a rise of 50 or a doubling of the "
            "baseline) depends on where below its limit this count lies",
        )


def _check_recovery(
    parsed,
    names,
    invalid,
    log: ProblemLog,
    windowed: bool = False,
    days: tuple[int, ...] = PLT_DAYS,
) -> None:
    """``recovery_day`` must be the first day with PLT >= 100 as far as the counts show, and
    ``recovery_after`` (when given) earlier than it.

    ``windowed``: the planned days' counts were taken within a window around each day
    (:mod:`cit_bayes.cohort.labs`), so they are not compared with the recovery day, which was
    derived from the measurements themselves.
    """
    recovery = parsed["recovery_day"].values
    column = names["recovery_day"]
    if "recovery_after" in parsed:
        after = parsed["recovery_after"].values
        with np.errstate(invalid="ignore"):
            late = after >= recovery
        for position in np.flatnonzero(late & ~invalid["recovery_after"]):
            log.add_at(
                position,
                names["recovery_after"],
                after[position],
                "a day before recovery_day: the last day known without recovery",
            )
    if windowed:
        return
    if "recovery_after" in parsed:  # a count below 100 on a planned day before the recovery
        after = parsed["recovery_after"].values  # (or without one) bounds the interval's start
        for day, name in zip(days[1:], plt_columns(days)[1:], strict=True):
            count = parsed[name].values
            with np.errstate(invalid="ignore"):
                early = (count < RECOVERY_THRESHOLD) & ~(recovery <= day) & (after < day)
            for position in np.flatnonzero(early & ~invalid["recovery_after"]):
                log.add_at(
                    position,
                    names["recovery_after"],
                    after[position],
                    f"a day >= {day}: {name} is below 100 and shows no recovery by day "
                    f"{day} (recovery_after is the last day known without it)",
                )
    for day, name in zip(days[1:], plt_columns(days)[1:], strict=True):
        count = parsed[name].values
        with np.errstate(invalid="ignore"):
            high = count >= RECOVERY_THRESHOLD
            late = high & (np.isnan(recovery) | (recovery > day))
            low_on_day = (recovery == day) & (count < RECOVERY_THRESHOLD)
        for position in np.flatnonzero(late & ~invalid["recovery_day"]):
            log.add_at(
                position,
                column,
                recovery[position],
                f"a day <= {day}: {name} is already >= 100 "
                "(recovery_day is the first day with PLT >= 100)",
            )
        for position in np.flatnonzero(low_on_day):
            log.add_at(
                position,
                column,
                recovery[position],
                f"a day with PLT >= 100, but {name} is below 100 on day {day}",
            )
