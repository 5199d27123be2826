"""Named exceptions and warnings of cit_bayes, in one place.

Every error a user can meet on bad input is one of these, so that the CLI can turn it into a
plain message and exit code 2 without a traceback, and a notebook user can catch it by name.
"""

from __future__ import annotations

__all__ = [
    "CitBayesError",
    "CohortError",
    "PlanError",
    "PublishedDataError",
    "ReconstructionError",
    "WeightingError",
    "ModelError",
    "NotEstimableError",
    "ResultsSchemaError",
    "NotFittedError",
    "CitBayesWarning",
    "ConvergenceWarning",
    "PositivityWarning",
    "BalanceWarning",
    "WeightingWarning",
    "SyntheticDataWarning",
    "DocumentWarning",
]


class CitBayesError(Exception):
    """Base class of every error raised on purpose by cit_bayes."""


class CohortError(CitBayesError, ValueError):
    """A patient-level file or table does not meet the cohort schema.

    Carries the problems found (each naming file, row, column, value and expectation) in
    ``problems`` (the first 200) and ``all_problems`` (every one, up to 100,000), so that all
    of them can be reported together, grouped by column, and written to a file.
    """

    def __init__(
        self, message: str, problems: list | None = None, all_problems: list | None = None
    ):
        super().__init__(message)
        self.problems = list(problems or [])
        self.all_problems = self.problems if all_problems is None else list(all_problems)


class PlanError(CitBayesError, ValueError):
    """An analysis plan or prior set (TOML) is missing, malformed or inconsistent."""


class PublishedDataError(CitBayesError, ValueError):
    """The bundled tables of the paper are missing or malformed."""


class ReconstructionError(CitBayesError, RuntimeError):
    """A pseudo-cohort could not be made to match the published targets."""


class WeightingError(CitBayesError, ValueError):
    """Propensity-score weighting cannot proceed on the given input."""


class ModelError(CitBayesError, ValueError):
    """A Bayesian model cannot be built or fitted on the given input."""


class NotEstimableError(ModelError):
    """A model was given valid input, but its estimate does not exist on these data (complete
    separation, no convergence): a finding to report, unlike a bad input, which is an error."""


class ResultsSchemaError(CitBayesError, ValueError):
    """A results document does not follow the layout; ``problems`` lists every finding."""

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems)


class NotFittedError(CitBayesError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``."""


class CitBayesWarning(UserWarning):
    """Base class of every warning issued by cit_bayes."""


class ConvergenceWarning(CitBayesWarning):
    """A posterior fit missed a diagnostics gate (R-hat, ESS or divergences)."""


class PositivityWarning(CitBayesWarning):
    """Estimated propensities come close to 0 or 1 (limited overlap between arms)."""


class BalanceWarning(CitBayesWarning):
    """A covariate stays imbalanced after weighting (|SMD| above the goal)."""


class WeightingWarning(CitBayesWarning):
    """Weighting ran, but something about its input or result needs the user's attention."""


class SyntheticDataWarning(CitBayesWarning):
    """Results are built on a synthetic (reconstructed or simulated) cohort."""


class DocumentWarning(CitBayesWarning):
    """A document of the report was not written as asked (no TeX for the PDF supplement), or
    its layout needs attention (a box past the margin)."""
