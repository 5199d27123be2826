"""Weights of one adjusted analysis, as plain data: what the outcome models and the report need.

:func:`weight_analysis` fits the plan's weighting method (entropy balancing or a propensity
model) for one estimand and returns a :class:`WeightedAnalysis`: the weights, the target
population's tilting ``h`` (g-computation averages over patients with these weights), the
covariate design of the outcome models, and the balance diagnostics as tidy tables. The fitted
weighting object stays inside this module (plain data crosses module borders); the frequentist
weighted outcomes that need it are computed here too (:func:`weighted_outcomes`).

Target-population tilting
-------------------------
With generalised propensities :math:`e_k(x)` (the weighting object's ``propensity_``):

* ATE (all patients): :math:`h_i = 1`;
* ATO (overlap population; Li & Li 2019): :math:`h_i = 1 / \\sum_k e_k(x_i)^{-1}`;
* ATT (patients of arm t): :math:`h_i = e_t(x_i)`.

Patients trimmed by a propensity model (``included_`` false) get :math:`h_i = 0`.

References
----------
Li F, Li F. Propensity score weighting for causal inference with multiple treatments. *Ann Appl
Stat* 2019;13:2389-2415.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cit_bayes.exceptions import PlanError
from cit_bayes.plan import AnalysisPlan
from cit_bayes.weighting import BalancingWeights, PropensityWeighting, weighted_outcome
from cit_bayes.weighting.balancing_report import BALANCED_SD
from cit_bayes.weighting.design import encode_covariates

__all__ = ["WeightedAnalysis", "OutcomeDesign", "outcome_design", "weight_analysis", "tilt"]


@dataclass(frozen=True)
class OutcomeDesign:
    """The covariate design of the outcome models (standardised numerics, level indicators).

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.weighting.cohort_weights import OutcomeDesign
    >>> design = OutcomeDesign(np.zeros((2, 1)), columns=("age",), reference_levels={})
    >>> design.matrix.shape, design.columns
    ((2, 1), ('age',))
    """

    matrix: np.ndarray
    columns: tuple[str, ...]
    reference_levels: dict


def outcome_design(covariates: pd.DataFrame, plan: AnalysisPlan) -> OutcomeDesign:
    """Encode the plan's outcome covariates as the models' design (same rules as the weights).

    The covariates are the plan's :attr:`~cit_bayes.plan.AnalysisPlan.outcome_covariates`:
    all but a grouping column, which the models carry by a random intercept.

    Categorical covariates become indicators against their reference (most frequent) level, rare levels
    (fewer than ``weighting.rare_level_min`` patients) pooled; numeric ones are standardised.

    Examples
    --------
    >>> import dataclasses
    >>> import pandas as pd
    >>> from cit_bayes.plan import load_plan
    >>> plan = dataclasses.replace(load_plan(), covariates=("age", "sex"))
    >>> X = pd.DataFrame({"age": range(50, 60), "sex": ["f", "m"] * 5})
    >>> outcome_design(X, plan).columns
    ('age', 'sex=m')
    """
    design = encode_covariates(
        covariates.loc[:, list(plan.outcome_covariates)],
        rare_level_min=plan.weighting.rare_level_min,
    )
    return OutcomeDesign(
        matrix=np.asarray(design.model_matrix, dtype=float),
        columns=tuple(str(c) for c in design.model_columns["design_column"]),
        reference_levels=dict(design.reference_levels),
    )


@dataclass(frozen=True)
class WeightedAnalysis:
    """The weights of one adjusted analysis and their diagnostics (plain data).

    Attributes
    ----------
    analysis, estimand, method : str
    weights : numpy.ndarray, shape (n,)
        Patient weights (row-level: never printed or written by reports).
    tilt : numpy.ndarray, shape (n,)
        Target-population tilting h (module docstring).
    balance : pandas.DataFrame
        Per covariate (level): largest pairwise absolute SMD before and after weighting.
    balance_pairs : pandas.DataFrame
        Per covariate (level) and pair of arms: SMDs and variance ratios before and after.
    ess : pandas.DataFrame
        Per arm: n and Kish effective sample size.
    table_one : pandas.DataFrame
        Weighted Table 1.
    overlap : pandas.DataFrame
        Distribution of each arm's propensity by actual arm.
    weight_summary : pandas.DataFrame
    max_smd_unweighted, max_smd_weighted : float
    left_to_outcome_model : tuple of str
        Covariates some arm could not be balanced on (``"covariate (arm, ...)"``): a 0/1
        covariate held by fewer than ``weighting.arm_level_min`` of the arm's patients, or one
        the arm does not vary in. The outcome models adjust for them.
    max_smd_balanceable : float
        Largest pairwise |SMD| after weighting over the other covariates.
    warnings : tuple of str
        Warnings the weighting raised (infeasible balance, positivity), in words.

    Examples
    --------
    >>> import dataclasses
    >>> from cit_bayes.weighting.cohort_weights import WeightedAnalysis
    >>> [field.name for field in dataclasses.fields(WeightedAnalysis)][:4]
    ['analysis', 'estimand', 'method', 'weights']
    """

    analysis: str
    estimand: str
    method: str
    weights: np.ndarray
    tilt: np.ndarray
    balance: pd.DataFrame
    balance_pairs: pd.DataFrame
    ess: pd.DataFrame
    table_one: pd.DataFrame
    overlap: pd.DataFrame
    weight_summary: pd.DataFrame
    max_smd_unweighted: float
    max_smd_weighted: float
    warnings: tuple[str, ...]
    left_to_outcome_model: tuple[str, ...] = ()
    max_smd_balanceable: float = float("nan")
    _estimator: object = None

    def summary(self, threshold: float) -> dict:
        """The ``weighting.<analysis>`` fragment of ``results.json`` (no row-level value)."""
        ess = self.ess.set_index("arm")
        return {
            "estimand": self.estimand,
            "method": self.method,
            "target_population": TARGETS[self.estimand],
            "n": {arm: int(v) for arm, v in ess["n"].items()},
            "ess": {arm: float(v) for arm, v in ess["ess"].items()},
            "max_abs_smd_unweighted": float(self.max_smd_unweighted),
            "max_abs_smd_weighted": float(self.max_smd_weighted),
            "balance_threshold": float(threshold),
            "balanced": bool(self.max_smd_weighted < threshold),
            "max_abs_smd_balanceable": float(self.max_smd_balanceable),
            "balanceable_balanced": bool(self.max_smd_balanceable < threshold),
            "left_to_outcome_model": list(self.left_to_outcome_model),
            "warnings": list(self.warnings),
        }


TARGETS = {
    "ate": "all patients of the cohort",
    "ato": "the overlap population (patients who could plausibly have received any arm)",
    "att": "patients like those treated in the ATT arm",
}


def tilt(estimand: str, propensity: pd.DataFrame, arm: str | None = None) -> np.ndarray:
    """Target-population tilting h of an estimand from the generalised propensities.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.weighting.cohort_weights import tilt
    >>> propensity = pd.DataFrame({"a": [0.8, 0.5], "b": [0.2, 0.5]})
    >>> tilt("ato", propensity).round(3).tolist(), tilt("att", propensity, "b").tolist()
    ([0.16, 0.25], [0.2, 0.5])
    """
    values = propensity.to_numpy(dtype=float)
    if estimand == "ate":
        return np.ones(len(values))
    if estimand == "ato":
        return 1.0 / np.sum(1.0 / np.clip(values, 1e-12, None), axis=1)
    if estimand == "att":
        return values[:, list(propensity.columns).index(arm)]
    raise PlanError(f"unknown estimand {estimand!r}")


def _estimator(estimand: str, plan: AnalysisPlan, arms: Sequence[str]):
    settings = plan.weighting
    reference = plan.att_arm if estimand == "att" else None
    if settings.method == "entropy":
        return BalancingWeights(
            estimand=estimand,
            moments=settings.moments,
            reference=reference,
            arms=list(arms),
            tolerance=settings.tolerance,
            penalty=settings.penalty,
            rare_level_min=settings.rare_level_min,
            arm_level_min=settings.arm_level_min,
            pool_absent_levels=settings.arm_level_min > 0,
            balance_threshold=settings.balance_threshold,
        )
    return PropensityWeighting(
        estimand=estimand,
        penalty=settings.penalty,
        reference=reference,
        arms=list(arms),
        trim=settings.trim or None,
        rare_level_min=settings.rare_level_min,
        balance_threshold=settings.balance_threshold,
    )


def weight_analysis(
    covariates: pd.DataFrame,
    arm: pd.Series,
    *,
    analysis: str,
    estimand: str,
    plan: AnalysisPlan,
    arms: Sequence[str],
) -> WeightedAnalysis:
    """Fit the plan's weights for one estimand; collect balance, ESS and warnings.

    Warnings of the weighting layer (infeasible exact balance, positivity) are caught, kept in
    words in ``warnings`` and shown by every report; they are not errors.

    Examples
    --------
    >>> import dataclasses
    >>> import pandas as pd
    >>> from cit_bayes.plan import load_plan
    >>> plan = dataclasses.replace(load_plan(), covariates=("age",))
    >>> X, arm = pd.DataFrame({"age": [50, 60]}), pd.Series(["a", "a"])
    >>> weight_analysis(X, arm, analysis="adjusted", estimand="ate", plan=plan, arms=["a"])
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.WeightingError: weighting needs at least 2 arms; got ['a']
    """
    estimator = _estimator(estimand, plan, arms)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(covariates.loc[:, list(plan.covariates)], arm)
    messages = tuple(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    included = np.asarray(getattr(estimator, "included_", np.ones(len(arm), bool)), dtype=bool)
    h = tilt(estimand, estimator.propensity_, plan.att_arm) * included
    balance = estimator.balance_summary()
    left = _left_to_outcome_model(estimator)
    balanceable = balance[~balance["covariate"].isin(list(left))]["max_smd_weighted"]
    return WeightedAnalysis(
        analysis=analysis,
        estimand=estimand,
        method=plan.weighting.method,
        weights=np.asarray(estimator.weights_, dtype=float),
        tilt=h,
        balance=balance,
        balance_pairs=estimator.balance(),
        ess=estimator.effective_sample_size(),
        table_one=estimator.table_one(),
        overlap=estimator.overlap(),
        weight_summary=estimator.weight_summary(),
        max_smd_unweighted=float(balance["max_smd_unweighted"].max()),
        max_smd_weighted=float(balance["max_smd_weighted"].max()),
        warnings=messages,
        left_to_outcome_model=tuple(f"{name} ({', '.join(arms)})" for name, arms in left.items()),
        max_smd_balanceable=float(balanceable.max()) if len(balanceable) else 0.0,
        _estimator=estimator,
    )


def _left_to_outcome_model(estimator) -> dict[str, list[str]]:
    """{covariate: arms} of the covariates some arm's weights leave (partly) unbalanced."""
    table = getattr(estimator, "constraints_", None)
    if table is None:
        return {}
    off = table[table["structural_sd"].abs() > BALANCED_SD]
    return {
        str(name): [str(arm) for arm in dict.fromkeys(group["arm"])]
        for name, group in off.groupby("covariate", sort=False)
    }


def weighted_outcomes(
    weighted: WeightedAnalysis, y, *, plan: AnalysisPlan, seed: int
) -> pd.DataFrame:
    """Frequentist weighted mean outcome per arm and pairwise differences (bootstrap CIs).

    A thin call of :func:`cit_bayes.weighting.weighted_outcome` with the plan's bootstrap size
    and an explicit seed; warnings of refits inside the bootstrap are recorded, not raised.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return weighted_outcome(
            weighted._estimator,
            y,
            confidence=plan.spec.ci_level,
            n_bootstrap=plan.weighting.n_bootstrap,
            random_state=seed,
        )
