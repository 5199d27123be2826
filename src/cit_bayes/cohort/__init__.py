"""Patient-level cohort data: schema, readers, validation and derived outcomes.

``read_cohort(path)`` reads a CSV, Excel, SPSS, Stata or Parquet file and validates it;
``validate_cohort(frame)`` validates an in-memory table. Both return a :class:`Cohort` or raise a
:class:`~cit_bayes.exceptions.CohortError` listing every problem (file, row, column, value,
expectation). The schema is documented in ``docs/cohort-schema.md``.
"""

from __future__ import annotations

from cit_bayes.cohort.dataset import Cohort
from cit_bayes.cohort.io import read_cohort
from cit_bayes.cohort.problems import Problem
from cit_bayes.cohort.schema import ARMS, BASELINE_COVARIATES
from cit_bayes.cohort.validate import validate_cohort

__all__ = ["ARMS", "BASELINE_COVARIATES", "Cohort", "Problem", "read_cohort", "validate_cohort"]
