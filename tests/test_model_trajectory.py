"""The platelet-trajectory model: log density, LKJ construction and g-computation, by hand.

Reference values: the model's log density at arbitrary parameter values is compared with the
same model written out with scipy (``multivariate_normal`` on each patient's recorded days,
the covariance built from the partial correlations with the textbook recursion, not the
package's Cholesky code), including a patient with a non-leading set of days and one with no
follow-up count. The C-vine construction is checked against the LKJ marginal distribution of a
correlation, 2 Beta(eta - 1 + d/2, eta - 1 + d/2) - 1 (Lewandowski, Kurowicka & Joe 2009), by
simulation. The natural-scale means are checked against a numpy g-computation. The log density
is checked in both forms of the likelihood (one block per set of recorded days, and the masked
blocks batched over the sets; tests/test_model_trajectory_batched.py compares the two further).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cit_bayes.bayes.correlation import correlation_cholesky, cpc_shapes
from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.patient_blocks import zero_sum_basis
from cit_bayes.bayes.trajectory import build_trajectory_model, fit_trajectory_model
from cit_bayes.bayes.trajectory_data import trajectory_values
from cit_bayes.bayes.trajectory_prior import TrajectoryPrior
from cit_bayes.bayes.trajectory_targets import trajectory_targets
from cit_bayes.exceptions import ModelError

ARMS = ("rhTPO", "combination", "rhIL-11")
DAYS = ("day3", "day7", "day14")


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(3)
    n = 24
    codes = np.repeat([0, 1, 2], 8)
    data = PatientData(
        arms=ARMS,
        arm_codes=codes,
        design=rng.normal(size=(n, 2)),
        covariates=("age", "ecog_1"),
        weights=rng.uniform(0.5, 2.5, n),
        tilt=rng.uniform(0.3, 1.0, n),
    )
    day0 = rng.uniform(20, 70, n)
    counts = np.exp(rng.normal(4.4, 0.5, size=(n, 3)))
    counts[0, 0] = np.nan  # days 7 and 14 only: a block that is not leading
    counts[1, 2] = np.nan  # days 3 and 7: a leading block
    counts[9, :2] = np.nan  # day 14 only
    counts[17, :] = np.nan  # no follow-up count: contributes nothing
    return data, day0, counts


def correlation_from_partials(r01: float, r02: float, r12_0: float) -> np.ndarray:
    """3 x 3 correlation matrix from the C-vine partial correlations (textbook recursion)."""
    r12 = r12_0 * np.sqrt((1 - r01**2) * (1 - r02**2)) + r01 * r02
    return np.array([[1.0, r01, r02], [r01, 1.0, r12], [r02, r12, 1.0]])


COMMON = {
    # arm-by-day within-patient SDs (arms differ: the combination's counts vary less)
    "residual_sd": np.array([[0.4, 0.6, 0.7], [0.5, 0.55, 0.8], [0.3, 0.45, 0.6]]),
    "residual_cpc_unit": np.array([0.9, 0.7, 0.35]),  # (1,0), (2,0), (2,1 | 0)
    "baseline_slope": np.array([0.5, 0.3, 0.1]),
    "coefficient": np.array([0.2, -0.1]),
}
#: independent arm-by-day levels (the default)
POINT = COMMON | {"arm_day_effect": np.array([[3.9, 4.5, 4.8], [4.1, 4.2, 5.0], [3.6, 4.9, 4.4]])}
#: the partially pooled sensitivity model
POOLED_POINT = COMMON | {
    "day_mean": np.array([3.9, 4.5, 4.8]),
    "arm_sd": 0.8,
    "arm_z": np.array([[0.3, -1.0, 0.5], [1.2, 0.4, -0.7]]),
}
#: arm-specific slopes: the deviations' standard normals (arm_contrast, covariate / day)
SLOPES = {
    "coefficient_deviation_z": np.array([[0.7, -1.3], [0.2, 1.1]]),
    "baseline_slope_deviation_z": np.array([[-0.4, 0.9, 1.6], [0.5, -0.8, 0.3]]),
}


@pytest.mark.parametrize(
    ("pool_arms", "adjust_baseline", "form", "arm_slopes"),
    [
        (False, True, None, False),
        (False, False, None, False),
        (True, True, None, False),
        (True, False, None, False),
        (False, True, "batched", False),  # the likelihood batched over the sets of recorded days
        (True, False, "batched", False),
        (False, True, None, True),  # each arm its own covariate and baseline slopes
        (False, True, "batched", True),
    ],
)
def test_log_density_is_the_written_model(
    case, evaluate_model, kish_by_hand, adjust_baseline, pool_arms, form, arm_slopes
):
    data, day0, counts = case
    prior = TrajectoryPrior(
        day_mean_center=4.4, day_mean_sd=0.9, arm_sd=0.6, baseline_slope_sd=0.8,
        coefficient_sd=0.4, residual_sd=0.7, correlation_eta=1.5, pool_arms=pool_arms,
        slope_deviation_sd=0.3, arm_slopes=arm_slopes,
    )  # fmt: skip
    values = trajectory_values(
        day0, counts, data, prior, adjust_baseline=adjust_baseline, form=form
    )
    model = build_trajectory_model(
        data, DAYS, values["observed"], pool_arms, form=form, arm_slopes=arm_slopes
    )
    p = POOLED_POINT if pool_arms else POINT
    if arm_slopes:
        p = p | SLOPES
    outputs = ("residual_correlation", "mean", "delta_plt")
    logp, out = evaluate_model(
        model,
        values,
        p,
        outputs=outputs + (("arm_day_effect",) if pool_arms else ()),
        targets=trajectory_targets(values, DAYS, data.arms),
    )

    s = p["residual_sd"]  # (arm, day)
    cpc = 2 * p["residual_cpc_unit"] - 1
    corr = correlation_from_partials(*cpc)
    if pool_arms:
        scale = s.mean(axis=0)[None, :]  # the arms' average SD of each day
        theta = p["day_mean"][None, :] + p["arm_sd"] * scale * (zero_sum_basis(3) @ p["arm_z"])
        arm_prior = (
            stats.norm(4.4, 0.9).logpdf(p["day_mean"]).sum()
            + stats.halfnorm(scale=0.6).logpdf(p["arm_sd"])
            + stats.norm.logpdf(p["arm_z"]).sum()
        )
    else:
        theta = p["arm_day_effect"]
        arm_prior = stats.norm(4.4, 0.9).logpdf(theta).sum()
    log_day0 = np.log(day0)
    b = log_day0 - log_day0.mean() if adjust_baseline else np.zeros(data.n)
    # per arm (rows) and patient: the covariates' and the baseline's slopes
    coefficient = np.tile(p["coefficient"], (3, 1))
    slope = np.tile(p["baseline_slope"], (3, 1))
    if arm_slopes:  # average slope + 0.3 x (zero-sum basis @ z), written out
        helmert = np.array([[1, 1], [-1, 1], [0, -2]]) / np.array([np.sqrt(2), np.sqrt(6)])
        coefficient = coefficient + 0.3 * helmert @ p["coefficient_deviation_z"]
        slope = slope + 0.3 * helmert @ p["baseline_slope_deviation_z"]
        arm_prior += stats.norm.logpdf(p["coefficient_deviation_z"]).sum()
        arm_prior += stats.norm.logpdf(p["baseline_slope_deviation_z"]).sum()
    codes = data.arm_codes
    linear = np.einsum("np,np->n", data.design, coefficient[codes])
    mu = theta[codes] + b[:, None] * slope[codes] + linear[:, None]

    observed = np.isfinite(counts)
    has_count = observed.any(axis=1)
    w = kish_by_hand(data, has_count)  # over the patients with a follow-up count
    likelihood = 0.0
    for i in np.flatnonzero(has_count):
        d = np.flatnonzero(observed[i])
        cov = np.outer(s[data.arm_codes[i]], s[data.arm_codes[i]]) * corr
        likelihood += w[i] * stats.multivariate_normal(mu[i, d], cov[np.ix_(d, d)]).logpdf(
            np.log(counts[i, d])
        )
    shape = 1.5 + np.array([0.5, 0.5, 0.0])  # eta + (d - 1 - k)/2 at tree levels 1, 1, 2
    expected = (
        arm_prior
        + stats.halfnorm(scale=0.7).logpdf(s).sum()
        + sum(
            stats.beta(a, a).logpdf(u) for a, u in zip(shape, p["residual_cpc_unit"], strict=True)
        )
        + stats.norm(0, 0.8).logpdf(p["baseline_slope"]).sum()
        + stats.norm(0, 0.4).logpdf(p["coefficient"]).sum()
        + likelihood
    )
    assert logp == pytest.approx(expected, rel=1e-10)
    if pool_arms:
        np.testing.assert_allclose(out["arm_day_effect"], theta, rtol=1e-12)
    np.testing.assert_allclose(out["residual_correlation"], [corr[1, 0], corr[2, 0], corr[2, 1]])

    # g-computation on the natural scale: log-normal mean of each patient's count, per arm
    # every patient under arm a, with arm a's slopes
    h = data.tilt
    mean = np.array(
        [
            [
                np.sum(
                    h
                    * np.exp(
                        theta[a, d] + b * slope[a, d] + data.design @ coefficient[a]
                        + s[a, d] ** 2 / 2
                    )
                )
                / h.sum()
                for a in range(3)
            ]
            for d in range(3)
        ]
    )  # fmt: skip
    np.testing.assert_allclose(out["mean"], mean, rtol=1e-12)
    if adjust_baseline:  # one target-population baseline for every arm
        baseline = np.full(3, np.sum(h * day0) / h.sum())
    else:  # each arm's own observed baseline
        baseline = [
            np.sum((h * day0)[data.arm_codes == a]) / h[data.arm_codes == a].sum() for a in range(3)
        ]
    np.testing.assert_allclose(out["delta_plt"], mean[-1] - baseline, rtol=1e-12)


def test_log_density_and_gradient_are_finite_at_the_initial_point(case, at_initial_point):
    data, day0, counts = case
    values = trajectory_values(day0, counts, data, TrajectoryPrior())
    logp, grad = at_initial_point(build_trajectory_model(data, DAYS, values["observed"]), values)
    # arm-by-day levels 3 x 3, arm-by-day SDs 3 x 3, partial correlations 3, slopes 3,
    # coefficients 2
    assert np.isfinite(logp) and grad.size == 26 and np.all(np.isfinite(grad))


def test_the_cpc_construction_gives_the_lkj_marginals():
    rng = np.random.default_rng(11)
    eta, d, draws = 2.0, 4, 20_000
    shapes = eta + cpc_shapes(d)
    cpc = 2 * rng.beta(shapes, shapes, size=(draws, len(shapes))) - 1
    correlations = []
    for row in cpc:
        factor = np.array(correlation_cholesky(list(row)))
        corr = factor @ factor.T
        np.testing.assert_allclose(np.diag(corr), 1.0, atol=1e-12)
        correlations.append(corr[np.tril_indices(d, -1)])
    correlations = np.array(correlations)
    marginal = stats.beta(eta - 1 + d / 2, eta - 1 + d / 2)
    for k in range(correlations.shape[1]):  # each of the 6 correlations, the same marginal
        assert stats.kstest((correlations[:, k] + 1) / 2, marginal.cdf).pvalue > 1e-3


def test_bad_counts_are_refused(case):
    data, day0, counts = case
    with pytest.raises(ModelError, match="positive"):
        fit_trajectory_model(day0, np.where(np.isnan(counts), np.nan, -counts), data, seed=1)
    with pytest.raises(ModelError, match="baseline"):
        fit_trajectory_model(np.r_[np.nan, day0[1:]], counts, data, seed=1)
    with pytest.raises(ModelError, match="day label"):
        fit_trajectory_model(day0, counts, data, days=("day3", "day7"), seed=1)
    empty_arm = counts.copy()
    empty_arm[data.arm_codes == 2] = np.nan
    with pytest.raises(ModelError, match="rhIL-11"):
        fit_trajectory_model(day0, empty_arm, data, seed=1)
