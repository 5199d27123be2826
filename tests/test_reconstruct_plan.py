"""Tests of the reconstruction plans (``models/reconstruction*.toml``) and their loader.

Reference values: the plan files themselves (their stated values, e.g. the recovered counts
39/25/30/29 and the default log-weights), and small hand-written TOML documents for the error
cases. The expected recovered counts are also recomputed here from Tables 4 and 6 by the rule the
plan states (P(baseline + ΔPLT >= 100) with a normal baseline and a piecewise-linear ΔPLT through
the quartiles), by Monte Carlo with 400 000 draws, tolerance 0.6 patients before rounding.
"""

from __future__ import annotations

import dataclasses
import tomllib

import numpy as np
import pytest

from cit_bayes._paths import models_dir
from cit_bayes.cohort.schema import ARMS
from cit_bayes.exceptions import PlanError, ReconstructionError
from cit_bayes.reconstruct.cohorts import reconstruct_cohort
from cit_bayes.reconstruct.plan import (
    load_reconstruction_plan,
    plan_from_dict,
)
from cit_bayes.reconstruct.targets import published_targets

DEFAULT = models_dir() / "reconstruction.toml"
NO_PROGNOSTIC = models_dir() / "reconstruction-no-prognostic.toml"


def _raw(path=DEFAULT) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_default_plan_loads_with_its_stated_values():
    plan = load_reconstruction_plan()
    assert plan.name == "default" and plan.source == "reconstruction.toml"
    assert plan.recovered == {"rhTPO": 39, "hetrombopag": 25, "combination": 30, "rhIL-11": 29}
    # exact: values read from the TOML, not computed
    assert plan.prognosis["stage_iv"] == -0.5 and plan.prognosis["bone_metastasis"] == -0.5  # exact
    assert plan.has_prognostic_effects
    assert plan.trajectory.max_baseline == 99  # CIT: baseline < 100
    assert len(plan.plan_hash) == 64 and int(plan.plan_hash, 16) >= 0


def test_recovered_counts_are_those_the_tables_imply():
    """The plan's recovered counts: P(baseline + ΔPLT >= 100) x n, rounded (Tables 4, 6)."""
    plan = load_reconstruction_plan()
    targets = published_targets()
    rng = np.random.default_rng(0)
    for arm in ARMS:
        platelets = targets.arms[arm].platelets
        q1, median, q3 = platelets.delta_quartiles
        u = rng.uniform(size=400_000)
        delta = np.where(
            u < 0.5,
            median + (u - 0.5) / 0.25 * (median - q1),
            median + (u - 0.5) / 0.25 * (q3 - median),
        )
        baseline = np.clip(rng.normal(platelets.mean[0], platelets.sd[0], u.size), 10, 99)
        expected = ((baseline + delta) >= 100).mean() * platelets.n
        assert abs(plan.recovered[arm] - expected) <= 0.6, (arm, expected)
        assert plan.recovered[arm] <= targets.arms[arm].responders


def test_no_prognostic_plan_differs_only_in_the_prognostic_weights():
    default, none = load_reconstruction_plan(DEFAULT), load_reconstruction_plan(NO_PROGNOSTIC)
    assert not none.has_prognostic_effects
    assert none.hepatic_metastasis_weight == 0.0  # exact: read from the TOML
    differing = {
        field.name
        for field in dataclasses.fields(default)
        if getattr(default, field.name) != getattr(none, field.name)
    }
    assert differing == {
        "name",
        "description",
        "source",
        "plan_hash",
        "prognosis",
        "hepatic_metastasis_weight",
    }


def test_plan_hash_ignores_comments_and_order_but_not_values(tmp_path):
    text = DEFAULT.read_text(encoding="utf-8")
    commented = tmp_path / "commented.toml"
    commented.write_text("# an extra comment\n" + text, encoding="utf-8")
    original = load_reconstruction_plan(DEFAULT).plan_hash
    assert load_reconstruction_plan(commented).plan_hash == original
    raw = _raw()
    reordered = dict(reversed(list(raw.items())))
    assert plan_from_dict(reordered).plan_hash == original
    raw["outcomes"]["order_noise"] = 2.0
    assert plan_from_dict(raw).plan_hash != original


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda raw: raw.update(extra={"x": 1}), "unknown section"),
        (lambda raw: raw["trajectory"].update(max_dayly_rise=1.2), "max_dayly_rise"),
        (lambda raw: raw["trajectory"].update(max_daily_rise="fast"), "max_daily_rise"),
        (lambda raw: raw["trajectory"].update(max_baseline=120), "trajectory.max_baseline"),
        (lambda raw: raw["outcomes"]["recovered"].pop("rhTPO"), "recovered"),
        (lambda raw: raw["outcomes"]["recovered"].update(rhTPO=-1), "recovered.rhTPO"),
        (lambda raw: raw["baseline"]["loadings"].update(stage=1.5), "stage"),
        (lambda raw: raw["baseline"].update(female_only_tumor_types=["prostate"]), "prostate"),
        (lambda raw: raw["transfusion"].update(among="everyone"), "non_responders"),
        (lambda raw: raw["adverse_events"].update(overlap_order=["ae_rash"]), "overlap_order"),
        (lambda raw: raw.pop("trajectory"), r"table \[trajectory\]: missing"),
        (lambda raw: raw["tolerances"].update(aim_fraction=0.0), "aim_fraction"),
    ],
)
def test_bad_plans_raise_plan_error_naming_the_key(edit, message):
    raw = _raw()
    edit(raw)
    with pytest.raises(PlanError, match=message):
        plan_from_dict(raw, source="bad.toml")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(PlanError, match="not found"):
        load_reconstruction_plan(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[plan\nname = ", encoding="utf-8")
    with pytest.raises(PlanError, match="not valid TOML"):
        load_reconstruction_plan(broken)


def test_more_recovered_than_responders_is_a_plan_error():
    raw = _raw()
    raw["outcomes"]["recovered"]["hetrombopag"] = 30  # Table 2: 26 responders
    with pytest.raises(PlanError, match="recovered.hetrombopag = 30 exceeds the 26 responders"):
        reconstruct_cohort(1, plan=plan_from_dict(raw))


def test_unreachable_targets_are_a_reconstruction_error():
    raw = _raw()
    raw["tolerances"]["plt_mean_relative"] = 1e-9  # no integer cohort has such a mean
    raw["search"].update(max_attempts=1, max_moves=200)
    with pytest.raises(ReconstructionError, match="no attempt of 1 met the platelet targets"):
        reconstruct_cohort(1, plan=plan_from_dict(raw))
