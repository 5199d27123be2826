"""What an analysis plan asks of a cohort: how to read it, its arms, covariates and groups.

:class:`CohortChecks` holds the methods of :class:`~cit_bayes.plan.AnalysisPlan` that meet a
cohort: the columns a cohort must be read with for the plan (:meth:`~CohortChecks.cohort_columns`),
the check of its arms (:meth:`~CohortChecks.check_arms`), its covariate table
(:meth:`~CohortChecks.cohort_covariates`) and the groups of the plan's grouping column
(:meth:`~CohortChecks.cohort_groups`). They read the plan's ``arms``, ``covariates``,
``group``, ``lab_window`` and ``planned_days``.
"""

from __future__ import annotations

import numpy as np

from cit_bayes.cohort.schema import PLAN_COVARIATES, PLT_DAYS
from cit_bayes.exceptions import PlanError

__all__ = ["CohortChecks", "MIN_GROUP_SIZE"]

#: Fewest patients a group of the plan's grouping column may have
#: (:meth:`~cit_bayes.plan.AnalysisPlan.cohort_groups`).
MIN_GROUP_SIZE = 5


class CohortChecks:
    """The methods of :class:`~cit_bayes.plan.AnalysisPlan` that meet a cohort (a base class
    of the plan; it reads the plan's ``arms``, ``covariates``, ``group``, ``lab_window`` and
    ``planned_days``).

    Examples
    --------
    >>> from cit_bayes.plan import load_plan
    >>> isinstance(load_plan(), CohortChecks)
    True
    >>> class Plan(CohortChecks):  # the five fields of a plan that these methods read
    ...     arms = ("A", "B")
    ...     covariates = ("age", "weight_kg")
    ...     group = "centre"
    ...     lab_window = 1
    ...     planned_days = (0, 3, 7, 14)
    >>> Plan().extra_covariates  # age is a schema column; weight_kg is read by its name
    ('weight_kg',)
    >>> Plan().cohort_columns()["used_covariates"]  # the covariates, then the grouping column
    ('age', 'weight_kg', 'centre')
    """

    def cohort_columns(self) -> dict:
        """What a cohort must be read with for this plan (``read_cohort(path, **...)``): the
        numeric covariates and the grouping column beyond the schema.

        Examples
        --------
        >>> from cit_bayes.plan import load_plan
        >>> sorted(load_plan().cohort_columns())
        ['arms', 'covariates', 'days', 'group', 'lab_window', 'used_covariates']
        """
        return {
            "days": self.planned_days,
            "lab_window": self.lab_window,
            "covariates": self.extra_covariates,
            "group": self.group or None,
            "arms": self.arms,
            "used_covariates": tuple(
                dict.fromkeys((*self.covariates, *((self.group,) if self.group else ())))
            ),
        }

    def cohort_groups(self, cohort) -> tuple[tuple[str, ...], np.ndarray] | None:
        """The grouping's labels (most patients first, then by label) and each patient's
        position among them, in the cohort's row order; None without a grouping.

        Raises
        ------
        PlanError
            The cohort lacks the column (or was read without it), all its patients are in one
            group, or a group has fewer than :data:`MIN_GROUP_SIZE` patients (an identifier
            column would give one group per patient, and the labels are saved with the
            posteriors).

        Examples
        --------
        >>> from dataclasses import replace
        >>> from cit_bayes.cohort import validate_cohort
        >>> from cit_bayes.plan import load_plan
        >>> from cit_bayes.simulate import simulate_cohort
        >>> cohort = validate_cohort(simulate_cohort(80, seed=2).data)
        >>> labels, codes = replace(load_plan(), group="stage").cohort_groups(cohort)
        >>> labels, codes.shape
        (('IV', 'III', 'I', 'II'), (80,))
        >>> small = validate_cohort(simulate_cohort(80, seed=1).data)  # stage I: 3 patients
        >>> replace(load_plan(), group="stage").cohort_groups(small)
        Traceback (most recent call last):
        ...
        cit_bayes.exceptions.PlanError: 1 of the 4 groups of 'stage' have fewer than 5 patients: ...
        """
        if not self.group:
            return None
        if self.group not in cohort.data.columns:
            raise PlanError(
                f"the plan groups patients by {self.group!r}, a column the cohort does not "
                "hold: read the cohort with **plan.cohort_columns() (the command line does)"
            )
        if self.group in getattr(cohort, "unused_covariates", ()):
            raise PlanError(
                f"the cohort was read without {self.group!r}: read it with "
                "**plan.cohort_columns() (the command line does)"
            )
        values = cohort.data[self.group].astype(str).reset_index(drop=True)
        counts = values.value_counts()
        labels = tuple(sorted(counts.index, key=lambda label: (-counts[label], label)))
        if len(labels) < 2:
            raise PlanError(
                f"every patient is in one group of {self.group!r}: a grouping needs two or more"
            )
        small = int((counts < MIN_GROUP_SIZE).sum())
        if small:  # an identifier column, or groups whose effects would show single patients
            raise PlanError(
                f"{small} of the {len(labels)} groups of {self.group!r} have fewer than "
                f"{MIN_GROUP_SIZE} patients: a grouping column groups patients (a centre, a "
                "tumour type), and its labels are saved with the posteriors; merge small groups"
            )
        codes = values.map({label: j for j, label in enumerate(labels)}).to_numpy("int64")
        return labels, codes

    @property
    def extra_covariates(self) -> tuple[str, ...]:
        """The covariates that are numeric cohort columns beyond the schema (read by name).

        Examples
        --------
        >>> from cit_bayes.plan import load_plan
        >>> load_plan().extra_covariates
        ()
        """
        return tuple(name for name in self.covariates if name not in PLAN_COVARIATES)

    def cohort_covariates(self, cohort):
        """The cohort's covariate table (``Cohort.covariates()``, index reset), checked to hold
        every covariate the plan names and exactly the plan's arms (:meth:`check_arms`).

        Raises
        ------
        PlanError
            A covariate beyond the schema that the cohort was not read with (read it with
            ``read_cohort(..., **plan.cohort_columns())``), arms that differ, or counts on
            other days than the plan's ``planned_days``.

        Examples
        --------
        >>> from cit_bayes.cohort import validate_cohort
        >>> from cit_bayes.plan import load_plan
        >>> from cit_bayes.simulate import simulate_cohort
        >>> cohort = validate_cohort(simulate_cohort(40, seed=1).data)
        >>> load_plan().cohort_covariates(cohort).shape
        (40, 12)
        """
        self.check_arms(cohort)
        days = tuple(getattr(cohort, "days", PLT_DAYS))
        if days != self.planned_days:
            raise PlanError(
                f"the cohort's counts are on days {days}, the plan's on {self.planned_days}: read "
                "the cohort with days=plan.planned_days (read_cohort(..., "
                "**plan.cohort_columns()), as the command line does)"
            )
        table = cohort.covariates().reset_index(drop=True)
        absent = [name for name in self.covariates if name not in table.columns]
        if absent:
            raise PlanError(
                f"the plan names covariate(s) {absent} that the cohort does not hold: read the "
                "cohort with covariates=plan.extra_covariates (the command line does)"
            )
        return table

    def check_arms(self, cohort) -> None:
        """Raise :class:`PlanError` unless the cohort's arms are the plan's, in its order.

        An arm of the plan without patients (absent from the file, or emptied by
        ``missing="drop"``) is named with the rows dropped from it: the plan's questions about
        it cannot be answered, and the run stops before any fit.

        Examples
        --------
        >>> from cit_bayes.cohort import validate_cohort
        >>> from cit_bayes.plan import load_plan
        >>> from cit_bayes.simulate import simulate_cohort
        >>> data = simulate_cohort(60, seed=1).data
        >>> load_plan().check_arms(validate_cohort(data[data["arm"] != "rhIL-11"]))
        Traceback (most recent call last):
        ...
        cit_bayes.exceptions.PlanError: the plan's arm(s) ['rhIL-11'] have no patient in the ...
        """
        arms = tuple(cohort.arms)
        if arms == self.arms:
            return
        absent = [arm for arm in self.arms if arm not in arms]
        unknown = [arm for arm in arms if arm not in self.arms]
        problems = []
        if unknown:
            problems.append(
                f"the cohort holds arm(s) {unknown} that the plan does not name (read the "
                "cohort with arms=plan.arms, as the command line does, or add them to [arms])"
            )
        if absent:
            dropped = cohort.n_dropped_by_arm()
            counts = ", ".join(f"{arm}: {int(dropped.get(arm, 0))}" for arm in absent)
            problems.append(
                f"the plan's arm(s) {absent} have no patient in the cohort (rows dropped for "
                f"missing values: {counts}); name the cohort's arms in the plan's [arms] labels "
                "and the comparisons that involve them"
            )
        if problems:
            raise PlanError("; ".join(problems))
        raise PlanError(f"the cohort's arms {list(arms)} are not in the plan's order {self.arms}")
