"""The columns an analysis plan adds to the cohort schema or leaves out, and its arm labels.

Numeric covariates beyond the schema (:func:`extra_covariate_specs`), a grouping column of labels
beyond it (:func:`group_column_specs`), the schema's baseline covariates a plan does not use
(:func:`unused_covariates`), and the arm labels a cohort may hold (:func:`check_arm_labels`):
checked here, so that a plan is refused when it is read, before any file is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cit_bayes.cohort.cells import arm_key
from cit_bayes.cohort.schema import (
    BASELINE_COVARIATES,
    CATEGORICAL_COVARIATES,
    COHORT_COLUMNS,
    DERIVED_COVARIATES,
    INPUT_COLUMNS,
    PLANNED_DAY_COLUMN,
    ColumnSpec,
)
from cit_bayes.exceptions import CohortError

__all__ = [
    "check_arm_labels",
    "extra_covariate_specs",
    "group_column_specs",
    "unused_covariates",
]


def extra_covariate_specs(covariates: Sequence[str]) -> tuple[ColumnSpec, ...]:
    """The column specs of numeric covariates beyond the schema (see :func:`validate_cohort`).

    Examples
    --------
    >>> [spec.kind for spec in extra_covariate_specs(["creatinine"])]
    ['number']
    >>> extra_covariate_specs(["plt_day14"])
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.CohortError: covariate 'plt_day14' is a column of the cohort schema ...
    """
    if isinstance(covariates, str):
        covariates = (covariates,)
    names = [str(name) for name in covariates]
    specs = []
    for name in dict.fromkeys(names):
        _check_further_name(name, "covariate")
        if name.lower() in _SCHEMA_NAMES or PLANNED_DAY_COLUMN.match(name.lower()):
            raise CohortError(
                f"covariate {name!r} is a column of the cohort schema (or derived from it), "
                "not a further covariate: a plan names schema covariates directly, and "
                "outcomes and post-baseline counts are never covariates"
            )
        specs.append(
            ColumnSpec(
                name,
                "number",
                True,
                "covariate",
                low=-np.inf,
                high=np.inf,
                description="a numeric covariate the analysis plan names (beyond the schema)",
            )
        )
    return tuple(specs)


def unused_covariates(used: Sequence[str] | None) -> tuple[str, ...]:
    """The schema's baseline covariates outside ``used`` (none when ``used`` is None).

    Examples
    --------
    >>> unused_covariates(["age", "stage", "log_plt_day0"])[:3]
    ('sex', 'bmi', 'ecog')
    >>> unused_covariates(None)
    ()
    """
    if used is None:
        return ()
    used = {str(name) for name in used}
    return tuple(name for name in BASELINE_COVARIATES if name not in used)


def check_arm_labels(arms: Sequence[str]) -> tuple[str, ...]:
    """Arm labels as a checked tuple: two or more, each a non-empty name of at most 64
    characters, distinct even with case and spaces ignored (how cells are matched).

    Examples
    --------
    >>> check_arm_labels(["eltrombopag", "romiplostim"])
    ('eltrombopag', 'romiplostim')
    >>> check_arm_labels(["Arm A", "arma"])
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.CohortError: arm labels must differ with case and spaces ignored: ...
    """
    if isinstance(arms, str):
        arms = (arms,)
    labels = tuple(str(arm).strip() for arm in arms)
    if len(labels) < 2:
        raise CohortError(f"need two or more arm labels, got {list(labels)[:5]}")
    if any(not label or len(label) > 64 for label in labels):
        raise CohortError("each arm label must be 1 to 64 characters")
    reserved = [text for text in _ARM_SEPARATORS if any(text in label for label in labels)]
    if reserved:
        raise CohortError(
            f"arm labels may not contain {reserved}: results name comparisons with them "
            "(A>B, A/B, A vs B @ margin)"
        )
    keys = [arm_key(label) for label in labels]
    if len(set(keys)) != len(keys):
        raise CohortError(
            f"arm labels must differ with case and spaces ignored: {list(labels)[:10]}"
        )
    return labels


#: Text that names comparisons between arms in results keys (``A>B``, ``A/B``, ``A vs B @ m``).
_ARM_SEPARATORS = (">", "<", "/", " vs ", " @ ")


def group_column_specs(group: str | None) -> tuple[ColumnSpec, ...]:
    """The column spec of a grouping column beyond the schema (see :func:`validate_cohort`).

    A categorical schema column needs none (it is read anyway); a numeric or outcome column
    cannot group patients.

    Examples
    --------
    >>> [spec.kind for spec in group_column_specs("centre")], group_column_specs("tumor_type")
    (['text'], ())
    >>> group_column_specs("age")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.CohortError: grouping column 'age' is a schema column that is not ...
    """
    if not group or group in CATEGORICAL_COVARIATES:
        return ()
    _check_further_name(group, "grouping column")
    if group.lower() in _SCHEMA_NAMES or PLANNED_DAY_COLUMN.match(group.lower()):
        raise CohortError(
            f"grouping column {group!r} is a schema column that is not categorical: a group "
            f"is one of {sorted(CATEGORICAL_COVARIATES)} or a column of labels beyond the "
            "schema (a centre)"
        )
    description = "labels of the groups (a centre) the analysis plan names (beyond the schema)"
    return (ColumnSpec(group, "text", True, "covariate", description=description),)


def _check_further_name(name: str, what: str) -> None:
    if not name.isidentifier() or len(name) > 64:
        raise CohortError(
            f"{what} {name[:64]!r}: a column name of letters, digits and underscores "
            f"(at most 64 characters) is needed for a {what} beyond the schema"
        )


_SCHEMA_NAMES = frozenset(
    name.lower() for name in (*INPUT_COLUMNS, *COHORT_COLUMNS, *DERIVED_COVARIATES)
)
