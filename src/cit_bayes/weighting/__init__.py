"""Propensity-score weighting for any number (>= 2) of arms, with balance diagnostics.

Generic: any covariate table and any treatment column with two or more levels. The estimator
:class:`PropensityWeighting` fits a propensity model (multinomial logistic or cross-fitted
boosting), computes the weights of an estimand (ATE, ATO, ATT, matching) with optional trimming,
truncation and stabilisation, and reports balance, effective sample sizes and weight summaries;
:func:`weighted_outcome` gives the weighted mean outcome per arm and pairwise differences with
sandwich and bootstrap intervals. :class:`BalancingWeights` is the entropy-balancing alternative
with the same diagnostics: weights that balance the covariate means of every arm to the target
population by construction. The plain functions work on any weights.
"""

from __future__ import annotations

from cit_bayes.weighting.balance import (
    balance_summary,
    balance_table,
    effective_sample_size,
    propensity_overlap,
    weight_summary,
)
from cit_bayes.weighting.balancing import BalancingWeights
from cit_bayes.weighting.design import CovariateDesign, encode_covariates
from cit_bayes.weighting.estimator import PropensityWeighting
from cit_bayes.weighting.outcome import weighted_outcome
from cit_bayes.weighting.weights import ESTIMANDS, estimand_weights

__all__ = [
    "ESTIMANDS",
    "BalancingWeights",
    "CovariateDesign",
    "PropensityWeighting",
    "balance_summary",
    "balance_table",
    "effective_sample_size",
    "encode_covariates",
    "estimand_weights",
    "propensity_overlap",
    "weight_summary",
    "weighted_outcome",
]
