"""The analysis plan (``models/default.toml``): what it declares, and the errors on bad plans.

Reference values are the plan file's own content (read independently with ``tomllib``) and the
decisions recorded in it; each malformed plan must raise PlanError naming the file and the key.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib

import pytest

from cit_bayes._paths import models_dir
from cit_bayes.bayes.recovery import RecoveryPrior
from cit_bayes.bayes.response import ResponsePrior
from cit_bayes.bayes.safety import SafetyPrior
from cit_bayes.bayes.trajectory_prior import TrajectoryPrior
from cit_bayes.cohort.schema import PLAN_COVARIATES, SAFETY_OUTCOMES
from cit_bayes.exceptions import PlanError
from cit_bayes.plan import load_plan

DEFAULT = models_dir() / "default.toml"


@pytest.fixture(scope="module")
def raw():
    return DEFAULT.read_text(encoding="utf-8")


def test_default_plan_matches_its_file(raw):
    plan = load_plan()
    document = tomllib.loads(raw)
    # the plan hash is the one hash rule of the package: SHA-256 of the content as canonical JSON
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert plan.sha256 == hashlib.sha256(canonical.encode()).hexdigest()
    assert plan.covariates == tuple(document["covariates"]["names"]) == PLAN_COVARIATES
    assert plan.primary_estimand == "ate"
    assert [a.name for a in plan.analyses()] == ["unadjusted", "adjusted", "adjusted (ATO)"]
    assert [a.estimand for a in plan.analyses()] == [None, "ate", "ato"]
    assert plan.margin == pytest.approx(0.10)
    assert 0.10 in plan.spec.noninferiority_margins
    assert plan.days == ("day3", "day7", "day14")
    assert plan.horizon == 14
    assert plan.safety_events == SAFETY_OUTCOMES
    assert plan.weighting.method == "entropy"
    assert plan.sampler.chains == 4 and plan.sampler.draws == 2000


def test_priors_are_the_model_dataclasses_with_the_file_values(raw):
    plan = load_plan()
    document = tomllib.loads(raw)["priors"]
    assert isinstance(plan.priors["response"], ResponsePrior)
    assert isinstance(plan.priors["plt"], TrajectoryPrior)
    assert isinstance(plan.priors["recovery"], RecoveryPrior)
    assert isinstance(plan.priors["safety"], SafetyPrior)
    for model, values in document.items():
        for key, value in values.items():
            assert getattr(plan.priors[model], key) == pytest.approx(value)


def test_per_model_sampler_settings(raw):
    plan = load_plan()
    by_model = tomllib.loads(raw)["sampler"]["target_accept_by_model"]
    for model, accept in by_model.items():
        assert plan.sampler_for(model).target_accept == pytest.approx(accept)
        assert plan.sampler_for(model).draws == plan.sampler.draws


def test_target_accept_override_applies_to_every_model():
    plan = load_plan().with_target_accept(0.99)
    for model in ("response", "plt", "recovery", "safety"):
        assert plan.sampler_for(model).target_accept == pytest.approx(0.99)
    assert plan.target_accept_by_model == {}
    with pytest.raises(PlanError, match="target_accept"):
        load_plan().with_target_accept(1.0)


def test_target_accept_and_draws_from_the_command_line():
    import argparse

    from cit_bayes.cli.fit import add_common_arguments, load_plan_from_args

    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    args = parser.parse_args(["--target-accept", "0.97", "--draws", "3000"])
    plan = load_plan_from_args(args)
    assert plan.sampler_for("plt").target_accept == pytest.approx(0.97)
    assert plan.sampler.draws == 3000
    plain = load_plan_from_args(parser.parse_args([]))
    assert plain.sampler_for("plt").target_accept == pytest.approx(0.95)  # the plan's value


def test_arms_are_independent_by_default_and_pooling_is_a_plan_switch(tmp_path, raw):
    plan = load_plan()
    assert not any(plan.priors[m].pool_arms for m in ("response", "plt", "recovery"))
    pooled_text = raw.replace("pool_arms = false", "pool_arms = true")
    # pooling the recovery model's arm levels needs its shared (proportional-hazards) shape
    with pytest.raises(PlanError, match="priors.recovery.*proportional_hazards = true"):
        load_plan(_write(tmp_path, pooled_text))
    shared = pooled_text.replace("proportional_hazards = false", "proportional_hazards = true")
    pooled = load_plan(_write(tmp_path, shared))
    assert all(pooled.priors[m].pool_arms for m in ("response", "plt", "recovery"))
    assert pooled.priors["recovery"].proportional_hazards
    assert not plan.priors["recovery"].proportional_hazards
    bad = raw.replace("group_sd = 1.0\npool_arms = false", 'group_sd = 1.0\npool_arms = "no"')
    assert bad != raw
    with pytest.raises(PlanError, match="pool_arms"):
        load_plan(_write(tmp_path, bad))


def test_primary_estimand_override_reorders_analyses():
    plan = load_plan().with_primary("ato")
    assert [(a.name, a.estimand) for a in plan.analyses()] == [
        ("unadjusted", None),
        ("adjusted", "ato"),
    ]
    with pytest.raises(PlanError, match="estimand"):
        load_plan().with_primary("matching")


def _write(tmp_path, text):
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('primary = "ate"', 'primary = "atx"', "estimands.primary"),
        ('method = "entropy"', 'method = "magic"', "weighting.method"),
        ("tolerance = 0.01", "tolerance = -1", "weighting.tolerance"),
        (
            '"sex", "age",',
            '"sex", "plt_day14",',
            "[covariates]: covariate 'plt_day14' is a column of the cohort schema",
        ),
        ('days = ["day3", "day7", "day14"]', 'days = ["day3", "day9"]', "plt.days"),
        ("horizon = 14", "horizon = 30", "recovery.horizon"),
        ("margin = 0.10", "margin = 1.5", "response.margin"),
        ("coefficient_sd = 1.0", "coefficient_sd = -1.0", "priors.response"),
        ("rank = 6", "rank = 6\nknots = 3", "priors.recovery"),
        ("plt = 0.95", "plt = 1.5", "sampler"),
        ('focus_arm = "combination"', 'focus_arm = "placebo"', "contrasts.focus_arm"),
    ],
)
def test_malformed_plans_name_file_and_key(tmp_path, raw, old, new, key):
    assert old in raw
    path = _write(tmp_path, raw.replace(old, new, 1))
    with pytest.raises(PlanError, match=re.escape(key)) as error:
        load_plan(path)
    assert str(path) in str(error.value)


def test_missing_section_and_bad_toml(tmp_path, raw):
    path = _write(tmp_path, raw.replace("[safety]", "[safety_renamed]"))
    with pytest.raises(PlanError, match=r"table \[safety\]: missing"):
        load_plan(path)
    with pytest.raises(PlanError, match="not valid TOML"):
        load_plan(_write(tmp_path, "[plan\nname = 1"))
    with pytest.raises(PlanError, match="not found"):
        load_plan(tmp_path / "absent.toml")


def test_the_target_trial_is_read_from_the_plans_sidecar_and_leaves_its_hash_alone(tmp_path):
    """The default plan's sidecar states every component; a copy of the plan without it states
    none and has the same hash; a sidecar with an unknown component or a non-string value is
    a PlanError naming the file and the key."""
    from cit_bayes.target_trial import COMPONENTS, target_trial_path

    default = load_plan()
    assert default.target_trial.stated() == tuple(COMPONENTS)
    assert "18-80" in default.target_trial.eligibility  # the paper's inclusion criteria
    plan = tmp_path / "plan.toml"
    plan.write_bytes((models_dir() / "default.toml").read_bytes())
    bare = load_plan(plan)
    assert bare.target_trial.stated() == () and bare.sha256 == default.sha256
    sidecar = target_trial_path(plan)
    sidecar.write_text('[target_trial]\ntime_zero = "the first dose"\n', encoding="utf-8")
    stated = load_plan(plan)
    assert stated.target_trial.stated() == ("time_zero",) and stated.sha256 == default.sha256
    sidecar.write_text('[target_trial]\ntime_zeroo = "x"\n', encoding="utf-8")
    with pytest.raises(PlanError, match=r"plan\.target-trial\.toml.*time_zeroo"):
        load_plan(plan)
    sidecar.write_text("[target_trial]\nfollow_up = 14\n", encoding="utf-8")
    with pytest.raises(PlanError, match="follow_up"):
        load_plan(plan)


def test_the_shipped_calibrations_were_run_on_the_default_plan_as_it_reads():
    # The report shows the shipped calibration as the default plan's only while the plan's
    # content hash is the one it was run on: a change of the plan's content needs the
    # calibration run again (or the report says it was run on another plan). A sensitivity
    # structure added later (arm_slopes) is optional, so the plan's content did not change.
    from cit_bayes._paths import data_dir

    plan = load_plan()
    for name in ("default", "plt-recovery", "design-uncertainty"):
        summary = json.loads((data_dir() / "calibration" / name / "summary.json").read_text())
        assert summary["setup"]["plan"] == {"name": "default", "sha256": plan.sha256}, name
    assert (
        "arm_slopes"
        not in tomllib.loads((models_dir() / "default.toml").read_text())["priors"]["plt"]
    )
    assert plan.priors["plt"].arm_slopes is False
    assert plan.priors["plt"].slope_deviation_sd == pytest.approx(0.25)
