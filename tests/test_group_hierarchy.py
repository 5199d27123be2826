"""A grouping column (tumour type, centre) as a further hierarchical level (issue 15, item 1)."""

import warnings

import numpy as np
import pytest
from scipy.special import expit

from cit_bayes.analyses.endpoints import EndpointRunner
from cit_bayes.analyses.patient import weight_cohort
from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.response import fit_response_model
from cit_bayes.bayes.sampling import SamplerSettings
from cit_bayes.cohort import validate_cohort
from cit_bayes.exceptions import CohortError, ModelError, PlanError
from cit_bayes.plan import Analysis, load_plan
from cit_bayes.simulate import simulate_cohort

CENTRES = ("north", "south", "east")


@pytest.fixture(scope="module")
def frame():
    data = simulate_cohort(150, seed=4, scenario="paper-like").data
    data["centre"] = np.random.default_rng(4).choice(CENTRES, size=len(data))
    return data


def _plan_file(tmp_path, group: str) -> str:
    from cit_bayes._paths import models_dir

    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    assert text.count('\ngroup = ""\n') == 1
    path = tmp_path / f"group_{group}.toml"
    path.write_text(text.replace('\ngroup = ""\n', f'\ngroup = "{group}"\n'))
    return str(path)


def test_patient_data_checks_the_grouping():
    base = dict(arms=("a", "b"), arm_codes=[0, 1, 1], design=np.zeros((3, 0)), covariates=())
    base |= dict(weights=np.ones(3), tilt=np.ones(3))
    data = PatientData(**base, groups=("x", "y"), group_codes=[0, 1, 1])
    assert data.group_codes.dtype == np.int64 and data.unadjusted().groups == ()
    for groups, codes, message in [
        (("x",), [0, 0, 0], "at least two distinct labels"),
        (("x", "y"), [0, 1], "3 whole numbers"),
        (("x", "y"), [0, 1, 2], r"lie in 0\.\.1"),
        ((), [0, 1, 1], "without groups"),
    ]:
        with pytest.raises(ModelError, match=message):
            PatientData(**base, groups=groups, group_codes=codes)


def test_the_plan_names_a_grouping_column(tmp_path):
    plan = load_plan(_plan_file(tmp_path, "tumor_type"))
    assert plan.group == "tumor_type" and "tumor_type" in plan.covariates
    assert "tumor_type" not in plan.outcome_covariates
    assert plan.cohort_columns() == {
        "covariates": (),
        "group": "tumor_type",
        "arms": plan.arms,
        "used_covariates": plan.covariates,
        "lab_window": 1,
        "days": (0, 3, 7, 14),
    }
    assert load_plan().group == "" and load_plan().outcome_covariates == load_plan().covariates
    for bad, message in [("age", "not categorical"), ("plt_day14", "not categorical")]:
        with pytest.raises(PlanError, match=message):
            load_plan(_plan_file(tmp_path, bad))


def test_a_centre_column_is_read_and_fingerprinted(tmp_path, frame):
    plan = load_plan(_plan_file(tmp_path, "centre"))
    cohort = validate_cohort(frame, **plan.cohort_columns())
    plain = validate_cohort(frame)
    assert cohort.group_column == "centre" and "centre" not in plain.data.columns
    assert cohort.fingerprint != plain.fingerprint
    labels, codes = plan.cohort_groups(cohort)
    assert sorted(labels) == sorted(CENTRES)
    np.testing.assert_array_equal(np.array(labels)[codes], frame["centre"].to_numpy())
    with pytest.raises(PlanError, match="does not hold"):
        plan.cohort_groups(plain)
    broken = frame.copy()
    broken.loc[3, "centre"] = ""
    with pytest.raises(CohortError) as error:
        validate_cohort(broken, **plan.cohort_columns())
    assert [(p.row, p.column) for p in error.value.problems] == [(4, "centre")]
    dropped = validate_cohort(broken, missing="drop", **plan.cohort_columns())
    assert dropped.n == len(frame) - 1


def test_the_response_model_recovers_known_group_effects():
    """400 simulated patients in 5 groups with known effects: the posterior of each effect
    (about their mean), of their SD and of the marginal rates is near the truth; the fit
    passes every gate at the default chain length."""
    rng = np.random.default_rng(3)
    n, effects = 400, np.array([-1.2, -0.4, 0.0, 0.5, 1.1])
    arm, group = rng.integers(0, 2, n), rng.integers(0, 5, n)
    x = rng.normal(size=(n, 1))
    alpha, beta = np.array([-0.3, 0.6]), 0.5
    y = rng.binomial(1, expit(alpha[arm] + effects[group] + beta * x[:, 0]))
    data = PatientData(("a", "b"), arm, x, ("x",), np.ones(n), np.ones(n),
                       groups=tuple("VWXYZ"), group_codes=group)  # fmt: skip
    fit = fit_response_model(y, data, seed=5, settings=SamplerSettings(draws=1000, tune=1000))
    assert fit.passed, fit.fit.diagnostics
    posterior = fit.fit.idata["posterior"]
    effect = posterior["group_effect"].stack(sample=("chain", "draw")).values  # (group, sample)
    assert np.abs(effect.sum(axis=0)).max() < 1e-8  # zero-sum
    z = (effect.mean(axis=1) - (effects - effects.mean())) / effect.std(axis=1)
    assert np.all(np.abs(z) < 3.5), z
    sd = posterior["group_sd"].values.ravel()
    truth_sd = effects.std(ddof=1)
    assert np.quantile(sd, 0.005) < truth_sd < np.quantile(sd, 0.995)
    rate = fit.draws["rate"].stack(sample=("chain", "draw")).values  # (arm, sample)
    truth = [expit(alpha[a] + effects[group] + beta * x[:, 0]).mean() for a in (0, 1)]
    assert np.all(np.abs(rate.mean(axis=1) - truth) < 3.5 * rate.std(axis=1))


def test_every_outcome_model_carries_the_grouping(tmp_path, frame):
    """The adjusted analysis's response, PLT and recovery models get the random intercept
    (the tumour types, not fixed indicators); the unadjusted analysis none."""
    plan = load_plan(_plan_file(tmp_path, "tumor_type")).with_sampler(draws=100, tune=100)
    cohort = validate_cohort(frame, **plan.cohort_columns())
    runner = EndpointRunner(cohort, plan, seed=3, progress=lambda message: None)
    assert not any(column.startswith("tumor_type") for column in runner.design.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 100 draws: the gates are not the point here
        weighted = weight_cohort(cohort, plan)["adjusted"]
        data = runner.patient_data(weighted)
        runner.fit(Analysis("grouped", "ate"), weighted, ("response", "plt", "recovery"))
    labels = list(runner.groups[0])
    assert data.groups == tuple(labels)
    np.testing.assert_array_equal(np.array(labels)[data.group_codes], frame["tumor_type"])
    expected = frame["tumor_type"].value_counts()
    assert labels[0] == expected.index[0] and sorted(labels) == sorted(expected.index)
    for endpoint in ("response", "plt", "recovery"):
        posterior = runner.fits[f"{endpoint}/grouped"].idata["posterior"]
        assert list(posterior["group_effect"].coords["group"].values) == labels
        assert posterior["group_sd"].shape == (plan.sampler.chains, 100)
    assert runner.patient_data(None).groups == ()


def test_the_predictive_check_replicates_with_the_group_intercepts():
    """Each arm's patients in one group, the arm intercepts 0 and the group effects +-3: the
    replicated rates are those of expit(+-3) (0.95, 0.05), the observed 10/10 and 0/10 are
    within them; without the group intercepts the replicates would centre on 0.5 and fail."""
    import xarray as xr

    from cit_bayes.analyses.predictive import predictive_check

    draws = np.zeros((2, 50, 2))
    effect = np.broadcast_to([3.0, -3.0], (2, 50, 2))
    posterior = xr.Dataset({"arm_logit": (("chain", "draw", "arm"), draws),
                            "coefficient": (("chain", "draw", "covariate"), np.zeros((2, 50, 0))),
                            "group_effect": (("chain", "draw", "group"), effect)})  # fmt: skip
    data = xr.Dataset({"arm_index": ("patient", [0] * 10 + [1] * 10),
                       "group_index": ("patient", [0] * 10 + [1] * 10),
                       "design": (("patient", "covariate"), np.zeros((20, 0))),
                       "response": ("patient", [1] * 10 + [0] * 10)})  # fmt: skip
    idata = xr.DataTree.from_dict({"posterior": posterior, "constant_data": data})
    idata["posterior"] = idata["posterior"].to_dataset().assign_coords(arm=["a", "b"])
    fragment, _ = predictive_check("response", idata, seed=1)
    rates = fragment["values"]["rate"]
    assert fragment["passed"], fragment["failures"]
    assert rates["a"]["median"] == pytest.approx(0.9, abs=0.1)  # 10 x expit(3) = 9.5
    assert rates["b"]["median"] == pytest.approx(0.1, abs=0.1)
