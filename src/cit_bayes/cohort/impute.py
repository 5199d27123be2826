"""Multiple imputation of missing baseline covariates by chained equations (MICE).

A cohort read with ``missing="impute"`` keeps the rows whose baseline covariates are missing
(:func:`cit_bayes.cohort.validate_cohort`); :func:`impute_cohort` turns it into M completed
cohorts, each of which the analysis weights and fits as if it were complete, and whose posterior
draws are then pooled by mixing (:mod:`cit_bayes.analyses.imputed`).

The chained equations follow van Buuren & Groothuis-Oudshoorn (2011, *J Stat Softw* 45(3),
R's ``mice``), with their defaults by kind of column:

- continuous columns (``age``, ``bmi``, further numeric covariates): predictive mean matching
  (``pmm``): a Bayesian ridge regression (scikit-learn ``BayesianRidge``) on a bootstrap sample
  of the observed rows predicts every row, and each missing cell takes the observed value of one
  of its 5 nearest donors, drawn at random, so imputed values stay inside the observed range;
- categorical, ordinal and 0/1 columns (``sex``, ``tumor_type``, ``stage``, ``ecog``, the
  binary covariates): a multinomial logistic regression (scikit-learn ``LogisticRegression``,
  L2 penalty C = 1 against separation in small arms) on a bootstrap sample, each missing cell
  drawn from its predicted class probabilities (``logreg.boot`` / ``polyreg``).

The bootstrap makes the imputations *proper* (they carry the uncertainty of the imputation
model's parameters, not only the residual noise). Each column's model uses every other
covariate (its current values), the arm (indicators), the log baseline count and every outcome
the analysis models: the response, the log count of each planned day, the recovery indicator
with the Nelson-Aalen cumulative hazard (White & Royston 2009, *Stat Med* 28:1982) and the
safety events (an outcome some patients lack at its mean, with a missing indicator). Leaving an
outcome out of the imputation model would bias the covariate's association with it toward zero
(Moons et al. 2006, *J Clin Epidemiol* 59:1092). Starting from random draws of each column's observed values, the columns are visited
``iterations`` times.

Why not scikit-learn's ``IterativeImputer`` alone: it imputes every column by a regression on
numbers, so a 0/1 or a nominal column (tumour type) would receive values that are no category,
and rounding them biases the imputed shares (Horton, Lipsitz & Parzen 2003, *Am Stat* 57:229).
The per-column models here are scikit-learn's; only the loop is ours.

Assumption: the covariates are missing at random (MAR) given the variables of the imputation
model. Outcomes, the baseline count and grouping labels are never imputed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cit_bayes.cohort.dataset import Cohort
from cit_bayes.cohort.schema import BINARY_COVARIATES, SAFETY_OUTCOMES
from cit_bayes.exceptions import CohortError

__all__ = [
    "CONTINUOUS",
    "DONORS",
    "MAX_IMPUTATIONS",
    "Imputation",
    "imputed_columns",
    "impute_cohort",
]

#: The schema's continuous covariates (imputed by predictive mean matching, as are the further
#: numeric covariates a plan names); every other baseline covariate is categorical.
CONTINUOUS: tuple[str, ...] = ("age", "bmi")
#: Donors per missing cell in predictive mean matching (``mice``'s default).
DONORS = 5
#: Most imputations a plan may ask for.
MAX_IMPUTATIONS = 100
_INTEGER = ("ecog", *BINARY_COVARIATES)


@dataclass(frozen=True)
class Imputation:
    """M completed copies of a cohort and how they were made.

    Attributes
    ----------
    cohorts : tuple of Cohort
        The completed cohorts (every covariate the analysis reads filled); each keeps the input
        cohort's fingerprint, source and dropped rows.
    imputed : dict of str to int
        Cells imputed per column (only columns with a missing cell).
    iterations : int
        Passes of the chained equations.
    seed : int
        The seed of the imputations (imputation k uses a seed derived from it and k).
    predictors : tuple of str
        What every column's imputation model uses beside the other covariates.

    Examples
    --------
    >>> from cit_bayes.cohort import validate_cohort
    >>> from cit_bayes.simulate import simulate_cohort
    >>> frame = simulate_cohort(80, seed=3).data
    >>> frame.loc[:9, "bmi"] = None
    >>> imputation = impute_cohort(validate_cohort(frame, missing="impute"), m=3, seed=1)
    >>> imputation.m, imputation.imputed, imputation.cohorts[0].data["bmi"].isna().sum()
    (3, {'bmi': 10}, np.int64(0))
    """

    cohorts: tuple[Cohort, ...]
    imputed: dict[str, int]
    iterations: int
    seed: int
    predictors: tuple[str, ...] = ()

    @property
    def m(self) -> int:
        """Number of imputations."""
        return len(self.cohorts)

    def as_dict(self) -> dict:
        """Plain data for ``results.json`` (``meta.data.imputation``): counts only."""
        return {
            "m": self.m,
            "method": "chained equations: predictive mean matching (continuous), bootstrap "
            "logistic / multinomial regression (categorical)",
            "iterations": self.iterations,
            "seed": self.seed,
            "imputed_by_column": dict(self.imputed),
            "predictors": list(self.predictors),
            "assumption": "missing at random (MAR) given the imputation model's variables",
        }


def imputed_columns(cohort: Cohort) -> dict[str, int]:
    """Missing cells per covariate the cohort's analysis reads (only columns with one).

    Examples
    --------
    >>> from cit_bayes._paths import data_dir
    >>> from cit_bayes.cohort import read_cohort
    >>> imputed_columns(read_cohort(data_dir() / "reconstructed" / "cohort.csv"))
    {}
    """
    counts = cohort.data[list(cohort.covariate_columns)].isna().sum()
    return {name: int(count) for name, count in counts.items() if count}


def impute_cohort(cohort: Cohort, *, m: int = 5, iterations: int = 10, seed: int) -> Imputation:
    """Impute a cohort's missing baseline covariates M times by chained equations.

    Parameters
    ----------
    cohort : Cohort
        Read with ``missing="impute"`` (rows with missing covariates kept).
    m : int
        Number of imputations (1 to :data:`MAX_IMPUTATIONS`).
    iterations : int
        Passes of the chained equations (1 to 100).
    seed : int
        The same seed gives the same imputations.

    Returns
    -------
    Imputation

    Raises
    ------
    CohortError
        When a column has no observed value, or the arguments are out of range.

    Examples
    --------
    >>> from cit_bayes.cohort import validate_cohort
    >>> from cit_bayes.simulate import simulate_cohort
    >>> frame = simulate_cohort(80, seed=3).data
    >>> frame.loc[:19, "stage"] = None
    >>> cohort = validate_cohort(frame, missing="impute")
    >>> first = impute_cohort(cohort, m=2, seed=5).cohorts[0].data["stage"]
    >>> set(first) <= {"I", "II", "III", "IV"}, first.equals(
    ...     impute_cohort(cohort, m=2, seed=5).cohorts[0].data["stage"])
    (True, True)
    """
    from cit_bayes.bayes.seeds import derive_seed

    if not 1 <= int(m) <= MAX_IMPUTATIONS:
        raise CohortError(f"imputations: m must be 1 to {MAX_IMPUTATIONS}, got {m}")
    if not 1 <= int(iterations) <= 100:
        raise CohortError(f"imputations: iterations must be 1 to 100, got {iterations}")
    imputed = imputed_columns(cohort)
    columns = list(cohort.covariate_columns)
    empty = [name for name in imputed if imputed[name] == cohort.n]
    if empty:
        raise CohortError(f"cannot impute {', '.join(empty)}: no observed value")
    fixed, predictors = _fixed_predictors(cohort)
    cohorts = []
    for k in range(int(m)):
        rng = np.random.default_rng(derive_seed(seed, f"imputation {k + 1}"))
        filled = _chained(cohort.data[columns], imputed, fixed, int(iterations), rng, cohort)
        data = cohort.data.copy()
        for name in imputed:
            values = filled[name]
            data[name] = values.astype(np.int64) if name in _INTEGER else values
        cohorts.append(dataclasses.replace(cohort, data=data))
    return Imputation(tuple(cohorts), imputed, int(iterations), int(seed), predictors)


def _fixed_predictors(cohort: Cohort) -> tuple[np.ndarray, tuple[str, ...]]:
    """What every imputation model uses beside the other covariates: the arm (indicators), the
    log baseline count and every outcome the analysis models, so that the imputations carry the
    covariates' associations with each (Moons et al. 2006): the response, the log count of each
    planned day after the baseline, the recovery as its indicator and the Nelson-Aalen
    cumulative hazard at the patient's time (White & Royston 2009, *Stat Med* 28:1982), and
    the safety events. An outcome some patients lack enters at its mean with an indicator of
    being missing (outcomes are not imputed)."""
    from lifelines import NelsonAalenFitter

    data = cohort.data
    parts = [pd.get_dummies(data["arm"], drop_first=True, dtype=float).to_numpy()]
    names = ["arm"]

    def add(name: str, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=float)
        known = np.isfinite(values)
        if not known.any() or np.ptp(values[known]) == 0:
            return  # nothing to learn from
        parts.append(np.where(known, values, values[known].mean())[:, None])
        if not known.all():
            parts.append((~known).astype(float)[:, None])
        names.append(name)

    days = cohort.days
    add("log_plt_day0", np.log(data["plt_day0"].to_numpy(dtype=float)))
    add("response", data["response"].to_numpy(dtype=float))
    for day in days[1:]:
        add(f"log_plt_day{day}", np.log(data[f"plt_day{day}"].to_numpy(dtype=float)))
    time = data["time_to_recovery"].to_numpy(dtype=float)
    event = data["recovered"].to_numpy(dtype=float)
    add("recovered", event)
    if np.isfinite(time).all() and np.isfinite(event).all() and event.any():
        fitter = NelsonAalenFitter().fit(time, event_observed=event)
        add("cumulative_hazard", fitter.cumulative_hazard_at_times(time).to_numpy())
    for name in SAFETY_OUTCOMES:
        if name in data:
            add(name, data[name].to_numpy(dtype=float, na_value=np.nan))
    return _standardise(np.hstack(parts)), tuple(names)


def _standardise(matrix: np.ndarray) -> np.ndarray:
    sd = matrix.std(axis=0)
    return (matrix - matrix.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def _encode(frame: pd.DataFrame, skip: str, continuous: set[str]) -> np.ndarray:
    """The other covariates as a numeric matrix: continuous standardised, categorical as
    indicators (first present level left out)."""
    parts = []
    for name in frame.columns:
        if name == skip:
            continue
        if name in continuous:
            parts.append(_standardise(frame[[name]].to_numpy(dtype=float)))
        else:
            levels = pd.Categorical(frame[name].astype(str))
            parts.append(pd.get_dummies(levels, drop_first=True, dtype=float).to_numpy())
    return np.hstack(parts) if parts else np.empty((len(frame), 0))


def _chained(
    frame: pd.DataFrame,
    imputed: dict[str, int],
    fixed: np.ndarray,
    iterations: int,
    rng: np.random.Generator,
    cohort: Cohort,
) -> pd.DataFrame:
    """One imputation: start from random observed values, then visit each incomplete column
    ``iterations`` times (fewest missing first)."""
    continuous = {*CONTINUOUS, *cohort.extra_covariates}
    current = frame.copy()
    for name in current.columns:
        if name not in continuous:
            current[name] = current[name].astype(object)
    missing = {name: current[name].isna().to_numpy() for name in imputed}
    for name, where in missing.items():
        observed = frame[name][~where].to_numpy()
        current.loc[where, name] = rng.choice(observed, size=int(where.sum()))
    order = sorted(imputed, key=lambda name: (imputed[name], name))
    for _ in range(iterations):
        for name in order:
            where = missing[name]
            x = np.hstack([fixed, _encode(current, name, continuous)])
            observed = frame[name][~where].to_numpy()
            rows = rng.choice(np.flatnonzero(~where), size=int((~where).sum()), replace=True)
            if name in continuous:
                values = _pmm(x, observed.astype(float), where, rows, rng)
            else:
                values = _draw_class(x, frame[name].to_numpy(dtype=object), where, rows, rng)
            current.loc[where, name] = values
    return current


def _pmm(x, observed, where, rows, rng) -> np.ndarray:
    """Predictive mean matching with a bootstrap-fitted Bayesian ridge regression."""
    from sklearn.linear_model import BayesianRidge

    y = np.full(len(where), np.nan)
    y[~where] = observed
    model = BayesianRidge().fit(x[rows], y[rows])
    predicted = model.predict(x)
    donors_predicted, donors = predicted[~where], observed
    out = np.empty(int(where.sum()))
    for i, target in enumerate(predicted[where]):
        nearest = np.argsort(np.abs(donors_predicted - target), kind="stable")[:DONORS]
        out[i] = donors[rng.choice(nearest)]
    return out


def _draw_class(x, labels, where, rows, rng) -> np.ndarray:
    """A class per missing cell, drawn from a bootstrap-fitted (multinomial) logistic model."""
    from sklearn.linear_model import LogisticRegression

    keys = np.array([str(v) for v in labels], dtype=object)
    values = {str(v): v for v in labels[~where]}
    classes = np.unique(keys[rows])
    if len(classes) == 1:  # the bootstrap sample holds one class: it is the only one drawn
        return np.array([values[classes[0]]] * int(where.sum()), dtype=object)
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x[rows], keys[rows])
    probabilities = model.predict_proba(x[where])
    cumulative = probabilities.cumsum(axis=1)
    u = rng.random(len(cumulative))[:, None]
    picks = np.minimum((u > cumulative).sum(axis=1), len(model.classes_) - 1)
    return np.array([values[model.classes_[j]] for j in picks], dtype=object)
