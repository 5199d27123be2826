"""Prior sensitivity on the user's own cohort (issue 16, item 6): the patient-level prior sets of
``models/priors/patient`` refit the primary analysis, and the key answers under each are rows of
the robustness table.

Reference values: the values a set names reach the compiled model as its prior data (read back
from the saved fit), every other value stays the plan's, and a set that would change a model's
structure or names no prior of the model is refused with the file and key named.
"""

from __future__ import annotations

import dataclasses
import warnings

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
    assert patient_prior_sets() == ["narrow", "sceptical", "wide"]
    for name in patient_prior_sets():
        prior_set = load_patient_prior_set(name)
        assert prior_set.rationale and len(prior_set.sha256) == 64
        priors = apply_prior_set(plan.priors, prior_set)
        for model, prior in priors.items():
            changes = prior_set.changes.get(model, {})
            for field in dataclasses.fields(prior):
                expected = changes.get(field.name, getattr(plan.priors[model], field.name))
                if name == "sceptical" and field.name in ("pool_arms", "arm_sd_fixed"):
                    assert expected is (model in ("response", "plt")), (model, field.name)
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
        ("[priors.recovery]\npool_arms = true\n", "structure"),
        ("[priors.plt]\narm_slopes = true\n", "structure"),  # the robustness variant's
        ("[priors.response]\npool_arms = true\n", "go together, both true"),
        ("[priors.plt]\npool_arms = true\narm_sd_fixed = false\n", "go together, both true"),
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
    sets = 'prior_sets = ["wide", "narrow", "sceptical"]'
    assert text.count(sets) == 1
    path = tmp_path / "plan.toml"
    path.write_text(text.replace(sets, 'prior_sets = ["vague"]'))
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


def test_the_sceptical_set_fixes_the_spread_of_the_differences_between_arms():
    """Closed form: with the arms pooled and the between-arm SD fixed at s, each pairwise
    difference of the arms' levels is N(0, 2 s^2) a priori, whatever the shared level: 0.668 on
    the response's logit (P(OR > 3) = 5 %) and 0.304 within-patient SDs on each day's log count.
    Checked on 4,000 prior draws of the compiled models (SE of an SD about 1 %)."""
    import numpy as np
    import pymc as pm

    from cit_bayes.bayes.patient_base import PatientData
    from cit_bayes.bayes.response import build_response_model, response_values
    from cit_bayes.bayes.trajectory import build_trajectory_model
    from cit_bayes.bayes.trajectory_data import trajectory_values

    plan = load_plan()
    priors = apply_prior_set(plan.priors, load_patient_prior_set("sceptical"))
    arms = ("a", "b", "c", "d")
    codes = np.repeat(np.arange(4), 3)
    data = PatientData(arms, codes, np.zeros((12, 0)), (), np.ones(12), np.ones(12))
    model = build_response_model(data, True, priors["response"].intercept_family, fixed=True)
    assert "arm_sd" not in model.named_vars  # fixed, not sampled
    pm.set_data(response_values(np.zeros(12), data, priors["response"]), model=model)
    draws = pm.draw(model["arm_logit"], draws=4000, random_seed=1)
    for i, j in ((0, 1), (1, 3), (2, 0)):
        assert np.std(draws[:, i] - draws[:, j]) == pytest.approx(0.472 * np.sqrt(2), rel=0.05)
    counts = np.full((12, 2), 100.0)
    model = build_trajectory_model(
        data, ("day7", "day14"), np.ones((12, 2), dtype=bool), True, fixed=True
    )
    pm.set_data(
        trajectory_values(np.full(12, 50.0), counts, data, priors["plt"], adjust_baseline=True),
        model=model,
    )
    levels, spread = pm.draw(
        [model["arm_day_effect"], model["residual_sd"].mean(axis=0)], draws=4000, random_seed=2
    )
    standardised = (levels[:, 0, :] - levels[:, 2, :]) / spread
    assert np.std(standardised, axis=0) == pytest.approx([0.215 * np.sqrt(2)] * 2, rel=0.05)


def test_the_sceptical_set_refits_with_pooled_arms_and_pulls_them_together(
    small_cohort_csv, short_plan, small_analysis
):
    """The sceptical set on the small cohort (short chains): the response and trajectory models
    of the primary analysis refitted with pooled arms of fixed spread (recovery is not: the set
    leaves it as planned), the arms' reference logits closer together than with the plan's
    independent arms."""
    import numpy as np

    from cit_bayes.analyses.endpoints import endpoint_runner
    from cit_bayes.analyses.patient import weight_cohort
    from cit_bayes.analyses.robustness import fit_robustness
    from cit_bayes.cohort import read_cohort
    from cit_bayes.exceptions import ConvergenceWarning

    plan = dataclasses.replace(
        short_plan,
        robustness=(),
        prior_sets=("sceptical",),
        prior_set_values={"sceptical": load_patient_prior_set("sceptical")},
    )
    cohort = read_cohort(small_cohort_csv, **plan.cohort_columns())
    runner = endpoint_runner(cohort, plan, 5, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains
        fit_robustness(runner, plan, weight_cohort(cohort, plan))
    assert sorted(runner.fits) == [
        "plt/robustness: prior: sceptical", "response/robustness: prior: sceptical"
    ]  # fmt: skip
    sceptical = runner.fits["response/robustness: prior: sceptical"].idata["posterior"]
    assert {"intercept", "arm_z"} <= set(sceptical.data_vars) and "arm_sd" not in sceptical
    independent = small_analysis.fits["response/adjusted"].idata["posterior"]

    def spread(posterior):
        return float(np.std(posterior["arm_logit"].mean(("chain", "draw")).values))

    assert spread(sceptical) < spread(independent)


def test_a_plan_may_not_fix_the_between_arm_sd_itself(tmp_path):
    """A fixed between-arm SD is the sceptical set's sensitivity analysis; the plan's own pooled
    arms (a robustness variant) estimate it, and the supplement's pooled-model text says so."""
    from cit_bayes._paths import models_dir

    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    head, _, tail = text.partition("[priors.response]\n")
    assert tail.count("pool_arms = false\n") >= 1
    tail = tail.replace("pool_arms = false\n", "pool_arms = true\narm_sd_fixed = true\n", 1)
    path = tmp_path / "plan.toml"
    path.write_text(head + "[priors.response]\n" + tail)
    with pytest.raises(PlanError, match=r"priors\.response\.arm_sd_fixed\]: a fixed between-arm"):
        load_plan(path)
