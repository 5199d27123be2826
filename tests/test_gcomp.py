"""g-computation on the stored draws (cit_bayes.bayes.gcomp, issue 17) against direct formulas."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.special import expit

from cit_bayes.bayes import gcomp
from cit_bayes.bayes.recovery_targets import recovery_targets
from cit_bayes.bayes.response import response_targets
from cit_bayes.bayes.trajectory_targets import trajectory_targets

RNG = np.random.default_rng(17)
CHAINS, DRAWS, N, P, ARMS, GROUPS = 2, 7, 60, 3, 3, 4


def _posterior(**variables) -> xr.Dataset:
    data = {}
    for name, (dims, shape) in variables.items():
        data[name] = (("chain", "draw", *dims), RNG.normal(0.0, 0.4, size=(CHAINS, DRAWS, *shape)))
    return xr.Dataset(data, coords={"chain": np.arange(CHAINS), "draw": np.arange(DRAWS)})


def _patients():
    # few distinct covariate rows, so that the distinct-patient shortcut is exercised
    design = np.round(RNG.normal(size=(N, P)), 0)
    groups = RNG.integers(0, GROUPS, N)
    tilt = RNG.uniform(0.0, 2.0, N)
    tilt[:5] = 0.0  # patients outside the target population
    return design, groups, tilt


def _linear(posterior, design, groups, s):
    chain, draw = divmod(s, DRAWS)
    beta = posterior["coefficient"].values[chain, draw]
    effect = posterior["group_effect"].values[chain, draw]
    return design @ beta + effect[groups]


def test_response_rate_is_the_tilted_mean_of_patient_probabilities():
    design, groups, tilt = _patients()
    posterior = _posterior(
        coefficient=(("covariate",), (P,)), group_effect=(("group",), (GROUPS,)),
        arm_logit=(("arm",), (ARMS,)),
    )  # fmt: skip
    values = {"design": design, "target_tilt": tilt, "group_index": groups}
    rate = response_targets(values, ["a", "b", "c"])(posterior)["rate"]
    assert rate.dims == ("chain", "draw", "arm")
    for s in range(CHAINS * DRAWS):
        linear = _linear(posterior, design, groups, s)
        alpha = posterior["arm_logit"].values[divmod(s, DRAWS)]
        expected = (tilt[:, None] * expit(linear[:, None] + alpha[None, :])).sum(0) / tilt.sum()
        np.testing.assert_allclose(rate.values[divmod(s, DRAWS)], expected, rtol=1e-12)


def test_recovery_curve_and_rmtr_are_the_tilted_mean_of_patient_survival():
    design, groups, tilt = _patients()
    days = 5
    posterior = _posterior(
        coefficient=(("covariate",), (P,)), group_effect=(("group",), (GROUPS,)),
        arm_log_hazard=(("day", "arm"), (days, ARMS)),
    )  # fmt: skip
    values = {"design": design, "target_tilt": tilt, "group_index": groups}
    labels = [f"day{t}" for t in range(1, days + 1)]
    targets = recovery_targets(values, labels, ["a", "b", "c"])(posterior)
    for s in range(CHAINS * DRAWS):
        index = divmod(s, DRAWS)
        risk = np.exp(_linear(posterior, design, groups, s))
        cumulative = np.cumsum(np.exp(posterior["arm_log_hazard"].values[index]), axis=0)
        survival = (
            np.einsum("i,ita->ta", tilt, np.exp(-risk[:, None, None] * cumulative[None]))
            / tilt.sum()
        )
        np.testing.assert_allclose(
            targets["cumulative_recovery"].values[index], 1 - survival, rtol=1e-12, atol=1e-15
        )
        np.testing.assert_allclose(
            targets["rmtr"].values[index], 1 + survival[:-1].sum(0), rtol=1e-12
        )


def test_trajectory_means_are_the_tilted_mean_of_patient_log_normal_means():
    design, groups, tilt = _patients()
    days = 3
    baseline = RNG.normal(0.0, 0.5, N)
    posterior = _posterior(
        coefficient=(("covariate",), (P,)), group_effect=(("group",), (GROUPS,)),
        arm_day_effect=(("arm", "day"), (ARMS, days)), residual_sd=(("arm", "day"), (ARMS, days)),
        baseline_slope=(("day",), (days,)),
    )  # fmt: skip
    day0 = RNG.uniform(20.0, 80.0, N)
    reference = np.ones((N, ARMS))
    values = {
        "design": design, "target_tilt": tilt, "group_index": groups,
        "log_baseline_centred": baseline, "plt_day0": day0, "baseline_reference": reference,
    }  # fmt: skip
    targets = trajectory_targets(values, ["day3", "day7", "day14"], ["a", "b", "c"])(posterior)
    for s in range(CHAINS * DRAWS):
        index = divmod(s, DRAWS)
        linear = _linear(posterior, design, groups, s)
        theta = posterior["arm_day_effect"].values[index]  # (arm, day)
        sd = posterior["residual_sd"].values[index]
        slope = posterior["baseline_slope"].values[index]
        log_mean = (
            theta[None] + linear[:, None, None] + baseline[:, None, None] * slope[None, None]
            + 0.5 * sd[None] ** 2
        )  # fmt: skip
        mean = np.einsum("i,iad->ad", tilt, np.exp(log_mean)) / tilt.sum()
        np.testing.assert_allclose(targets["mean"].values[index], mean.T, rtol=1e-12)
        expected_delta = mean[:, -1] - (tilt * day0).sum() / tilt.sum()
        np.testing.assert_allclose(targets["delta_plt"].values[index], expected_delta, rtol=1e-10)


def test_blocks_and_threads_give_the_one_block_answer(monkeypatch):
    values = RNG.normal(size=(50, 40, 6))
    tilt = RNG.uniform(0.1, 1.0, 40)
    whole = gcomp.average_over_patients(lambda s: values[s], 50, 40, 6, tilt)
    monkeypatch.setattr(gcomp, "BLOCK_ELEMENTS", 40 * 6 * 3)  # blocks of 3 draws
    blocked = gcomp.average_over_patients(lambda s: values[s], 50, 40, 6, tilt)
    expected = np.einsum("snk,n->sk", values, tilt) / tilt.sum()
    np.testing.assert_allclose(blocked, expected, rtol=1e-12)
    np.testing.assert_allclose(whole, expected, rtol=1e-12)


def test_distinct_patients_sum_the_tilts_of_identical_rows():
    design = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    rows, tilt, groups = gcomp.distinct_patients(
        design, np.array([1.0, 0.5, 0.0, 2.0]), np.array([0, 1, 0, 0])
    )
    assert sorted(zip(map(tuple, rows), groups.tolist(), tilt.tolist(), strict=True)) == [
        ((0.0, 2.0), 0, 2.0),
        ((1.0, 0.0), 0, 1.0),
        ((1.0, 0.0), 1, 0.5),
    ]
    with pytest.raises(KeyError):
        gcomp.draws_matrix(xr.Dataset(), "coefficient")
