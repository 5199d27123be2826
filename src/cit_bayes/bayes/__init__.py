"""Bayesian models (PyMC) and the one sampling entry point that applies the diagnostics gates.

PyMC model objects never leave this package: public functions return plain data (xarray draws,
ArviZ InferenceData, frozen dataclasses). ``bayes`` reads no data files; its prior sets are read
from the TOML declarations in ``models/priors`` (:mod:`cit_bayes.bayes.priors`).
"""

from __future__ import annotations

import cit_bayes.bayes._pytensor_setup  # noqa: F401  (before PyTensor is imported)
from cit_bayes.bayes.aggregate import (
    AggregateFit,
    CountData,
    MeanData,
    fit_aggregates,
    fit_plt,
    fit_recovery,
    fit_response,
    fit_safety,
)
from cit_bayes.bayes.priors import (
    EndpointPrior,
    PriorSet,
    available_prior_sets,
    load_prior_set,
    load_prior_sets,
)
from cit_bayes.bayes.sampling import (
    DEFAULT_SAMPLER,
    SAMPLERS,
    Diagnostics,
    Fit,
    SamplerSettings,
    compute_diagnostics,
    derive_seed,
    fingerprint,
    sample,
)

__all__ = [
    "AggregateFit",
    "CountData",
    "DEFAULT_SAMPLER",
    "Diagnostics",
    "EndpointPrior",
    "Fit",
    "PriorSet",
    "SAMPLERS",
    "SamplerSettings",
    "available_prior_sets",
    "compute_diagnostics",
    "derive_seed",
    "fingerprint",
    "fit_aggregates",
    "fit_plt",
    "fit_recovery",
    "fit_response",
    "fit_safety",
    "load_prior_set",
    "load_prior_sets",
    "MeanData",
    "sample",
]
