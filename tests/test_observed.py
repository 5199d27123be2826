"""The unadjusted frequentist cross-check of the response (analyses.observed.plain_outcomes):
score intervals checked against Newcombe's published table, and never a point at 0 % or 100 %."""

import numpy as np
import pytest

from cit_bayes.analyses.observed import plain_outcomes


def _cohort(first: tuple[int, int], second: tuple[int, int]):
    """Responses and arm codes of two arms with (responders, patients) each."""
    (k1, n1), (k2, n2) = first, second
    y = np.r_[np.ones(k1), np.zeros(n1 - k1), np.ones(k2), np.zeros(n2 - k2)]
    return y, np.r_[np.zeros(n1), np.ones(n2)].astype(int)


@pytest.mark.parametrize(
    ("first", "second", "low", "high"),
    [  # Newcombe (1998), Stat Med 17:873, Table II, method 10, examples (a), (b), (h)
        ((56, 70), (48, 80), 0.0524, 0.3339),
        ((9, 10), (3, 10), 0.1705, 0.8090),
        ((5, 56), (0, 29), -0.0381, 0.1926),
    ],
)
def test_difference_interval_is_newcombes_hybrid_score_interval(first, second, low, high):
    frame = plain_outcomes(*_cohort(first, second), ("A", "B"), 0.95)
    row = frame[frame["quantity"] == "difference"].iloc[0]  # B - A: the table's A - B negated
    assert row["estimate"] == pytest.approx(second[0] / second[1] - first[0] / first[1])
    assert -row["ci_high_sandwich"] == pytest.approx(low, abs=5e-5)
    assert -row["ci_low_sandwich"] == pytest.approx(high, abs=5e-5)


def test_arm_interval_is_wilsons_and_not_a_point_at_the_bounds():
    frame = plain_outcomes(*_cohort((35, 35), (0, 20)), ("A", "B"), 0.95)
    arms = frame[frame["quantity"] == "arm_mean"].set_index("arm")
    z2 = 1.959963984540054**2
    # Wilson at k = n: lower limit n / (n + z^2); at k = 0: upper limit z^2 / (n + z^2)
    assert arms.loc["A", "ci_low_sandwich"] == pytest.approx(35 / (35 + z2), rel=1e-9)
    assert arms.loc["A", "ci_high_sandwich"] == pytest.approx(1.0)
    assert arms.loc["B", "ci_low_sandwich"] == pytest.approx(0.0, abs=1e-12)
    assert arms.loc["B", "ci_high_sandwich"] == pytest.approx(z2 / (20 + z2), rel=1e-9)
    difference = frame[frame["quantity"] == "difference"].iloc[0]
    # B - A = -1: Newcombe's limits are -1 and -1 + hypot(B's upper limit, 1 - A's lower)
    assert difference["ci_low_sandwich"] == pytest.approx(-1.0)
    expected = -1 + np.hypot(z2 / (20 + z2), 1 - 35 / (35 + z2))
    assert difference["ci_high_sandwich"] == pytest.approx(expected, rel=1e-9)
    assert "Wilson" in difference["method"] and "Newcombe" in difference["method"]


def test_an_arm_without_responses_is_not_estimable_not_an_error():
    y, codes = np.array([1.0, 0.0, 1.0]), np.array([0, 0, 0])
    frame = plain_outcomes(y, codes, ("A", "B"), 0.95).set_index(["quantity", "arm"])
    assert frame.loc[("arm_mean", "A"), "estimate"] == pytest.approx(2 / 3)
    assert np.isnan(frame.loc[("arm_mean", "B"), ["estimate", "ci_low_sandwich"]]).all()
    assert np.isnan(frame.loc[("difference", "B"), ["estimate", "ci_high_sandwich"]]).all()


def test_weighted_cross_check_that_cannot_run_says_why():
    """With a patient whose response cannot be determined, the weighted bootstrap (which refits
    the weights on every patient) is not run, and the results say so instead of leaving the
    cross-check out without a word."""
    from types import SimpleNamespace

    import xarray as xr

    from cit_bayes.analyses.endpoints import endpoint_runner
    from cit_bayes.cohort import validate_cohort
    from cit_bayes.plan import load_plan
    from cit_bayes.simulate import simulate_cohort

    plan = load_plan()
    cohort = validate_cohort(simulate_cohort(40, seed=5, scenario="paper-like").data)
    runner = endpoint_runner(cohort, plan, plan.seed, None)
    y = runner.outcomes()
    y["response"][[3, 7]] = np.nan
    rng = np.random.default_rng(0)
    rate = xr.DataArray(
        rng.uniform(size=(2, 50, len(plan.arms))),
        dims=("chain", "draw", "arm"),
        coords={"arm": list(plan.arms)},
    )
    fit = SimpleNamespace(draws={"rate": rate}, name="response/adjusted", passed=True)
    adjusted = next(a for a in plan.analyses() if a.adjusted)
    fragment, tables = runner._response(adjusted, {"response": fit}, object(), y)
    method = fragment["frequentist"]["method"]
    assert method.startswith("not computed: 2 patient(s) without a determinable response")
    assert "rate" not in fragment["frequentist"] and "frequentist" not in tables
    assert sum(fragment["n_analysed"].values()) == 38
