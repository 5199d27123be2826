"""Prior sensitivity on the user's own cohort (issue 16, item 6): the patient-level prior sets of
``models/priors/patient`` refit the primary analysis, and the key answers under each are rows of
the robustness table.

Reference values: the values a set names reach the compiled model as its prior data (read back
from the saved fit), every other value stays the plan's, and a set that would change a model's
structure or names no prior of the model is refused with the file and key named.
"""

from __future__ import annotations

import dataclasses

import pytest

from cit_bayes.analyses import prior_sets as module
from cit_bayes.analyses.prior_sets import (
    apply_prior_set,
    load_patient_prior_set,
    patient_prior_sets,
)
from cit_bayes.exceptions import PlanError
from cit_bayes.plan import load_plan


def test_the_bundled_sets_change_prior_values_only():
    plan = load_plan()
    assert patient_prior_sets() == ["narrow", "wide"]
    for name in patient_prior_sets():
        prior_set = load_patient_prior_set(name)
        assert prior_set.rationale and len(prior_set.sha256) == 64
        priors = apply_prior_set(plan.priors, prior_set)
        for model, prior in priors.items():
            changes = prior_set.changes.get(model, {})
            for field in dataclasses.fields(prior):
                expected = changes.get(field.name, getattr(plan.priors[model], field.name))
                assert getattr(prior, field.name) == expected, (name, model, field.name)
    wide, narrow = load_patient_prior_set("wide"), load_patient_prior_set("narrow")
    for model, changes in narrow.changes.items():  # narrow halves what wide doubles
        for key, value in changes.items():
            if key in wide.changes.get(model, {}):
                assert wide.changes[model][key] == pytest.approx(4 * value), (model, key)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[priors.recovery]\nproportional_hazards = true\n", "structure"),
        ("[priors.response]\nslope_sd = 1.0\n", "not a prior of the response model"),
        ("[priors.response]\ncoefficient_sd = -1.0\n", "priors.response"),
        ("[priors.safety]\na = 2.0\n", "tables for response, plt, recovery"),
    ],
)
def test_a_set_that_is_not_a_change_of_values_is_refused(tmp_path, monkeypatch, text, message):
    head = '[prior_set]\nname = "odd"\ntitle = "Odd"\nrationale = "A test."\n\n'
    (tmp_path / "odd.toml").write_text(head + text, encoding="utf-8")
    monkeypatch.setattr(module, "patient_prior_sets_dir", lambda: tmp_path)
    with pytest.raises(PlanError, match=message) as error:
        load_patient_prior_set("odd")
    assert "odd.toml" in str(error.value)


def test_a_plan_naming_an_unknown_set_is_refused(tmp_path):
    from cit_bayes._paths import models_dir

    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    assert text.count('prior_sets = ["wide", "narrow"]') == 1
    path = tmp_path / "plan.toml"
    path.write_text(text.replace('prior_sets = ["wide", "narrow"]', 'prior_sets = ["vague"]'))
    with pytest.raises(PlanError, match="unknown patient-level prior set 'vague'"):
        load_plan(path)


def test_each_set_refits_the_primary_analysis_with_its_values(small_analysis):
    results, fits = small_analysis.results, small_analysis.fits
    adjusted = fits["response/adjusted"].idata["constant_data"]
    for name in ("wide", "narrow"):
        prior_set = load_patient_prior_set(name)
        for model, changes in prior_set.changes.items():
            data = fits[f"{model}/robustness: prior: {name}"].idata["constant_data"]
            for key, value in changes.items():
                assert float(data[f"prior_{key}"]) == value, (name, model, key)
        response = fits[f"response/robustness: prior: {name}"].idata["constant_data"]
        for key in ("weight", "design", "target_tilt"):  # the primary analysis's data
            assert (response[key].values == adjusted[key].values).all()
        recorded = results["robustness"]["prior_sets"][name]
        assert recorded["sha256"] == prior_set.sha256 and recorded["changes"] == prior_set.changes
        assert "prob_response_superior" in results["robustness"]["rows"][f"prior: {name}"]
