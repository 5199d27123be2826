"""Slow validation: the cohorts carry the prognostic effects the plan states, and no others.

Reference values: the plan's log odds ratios (``models/reconstruction.toml``: stage IV -0.5,
bone metastasis -0.5, hepatic metastasis -0.25, ECOG >= 2 -0.25, more than 5 cycles -0.25,
radiotherapy -0.25, age -0.1 per decade) and zero for the no-prognostic plan. Responders are
drawn by conditional Poisson sampling within each arm, so response given the characteristics
follows a logistic model with one intercept per arm and draw; a logistic regression with those
intercepts (scikit-learn, unpenalised) over 30 draws (5 610 patients) estimates the effects.
Standard errors are about 0.06 (stage IV) and 0.09 (bone metastasis); the tolerance is 0.35.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from cit_bayes._paths import models_dir
from cit_bayes.reconstruct.cohorts import reconstruct_cohorts

DRAWS = 30
TOLERANCE = 0.35


def _design(results) -> tuple[pd.DataFrame, np.ndarray]:
    frames = []
    for result in results:
        data = result.cohort.data
        frame = pd.DataFrame(
            {
                "stage_iv": (data["stage"] == "IV").astype(float),
                "bone_metastasis": data["bone_metastasis"].astype(float),
                "hepatic_metastasis": data["hepatic_metastasis"].astype(float),
                "ecog_2_or_more": (data["ecog"] >= 2).astype(float),
                "chemo_cycles_over5": data["chemo_cycles_over5"].astype(float),
                "radiotherapy": data["radiotherapy"].astype(float),
                "age_per_10_years": (data["age"].astype(float) - 60.0) / 10.0,
                "stratum": [f"{result.draw}:{arm}" for arm in data["arm"].astype(str)],
                "response": data["response"].astype(int),
            }
        )
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    strata = pd.get_dummies(frame.pop("stratum"), dtype=float)
    response = frame.pop("response").to_numpy()
    return pd.concat([frame, strata], axis=1), response


def _effects(results) -> pd.Series:
    design, response = _design(results)
    model = LogisticRegression(C=np.inf, fit_intercept=False, max_iter=5000).fit(design, response)
    return pd.Series(model.coef_[0], index=design.columns)


@pytest.mark.slow
def test_default_plan_effects_are_recovered():
    effects = _effects(reconstruct_cohorts(101, DRAWS))
    assert effects["stage_iv"] == pytest.approx(-0.5, abs=TOLERANCE)
    assert effects["bone_metastasis"] == pytest.approx(-0.5, abs=TOLERANCE)


@pytest.mark.slow
def test_no_prognostic_plan_has_no_effects():
    plan = models_dir() / "reconstruction-no-prognostic.toml"
    effects = _effects(reconstruct_cohorts(101, DRAWS, plan=plan))
    assert effects["stage_iv"] == pytest.approx(0.0, abs=TOLERANCE)
    assert effects["bone_metastasis"] == pytest.approx(0.0, abs=TOLERANCE)
