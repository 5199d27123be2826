"""Unit tests of the reconstruction's components.

Reference values: hand calculations written out in each test (trajectory rules on small rows,
the SPSS quantile of 1..4), numpy's ``quantile(method="weibull")`` (Hyndman & Fan definition 6,
SPSS's HAVERAGE), the exact subset probabilities of conditional Poisson sampling enumerated
with ``itertools.combinations`` (P(S) proportional to the product of exp(log odds) over S), the
paper's response rule stated independently (PLT >= 100, rise >= 50, or >= 2 x baseline), and the
printed cells of Tables 4 and 9 (as bundled in ``data/published``). Tolerances are explicit.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from cit_bayes.exceptions import ReconstructionError
from cit_bayes.reconstruct.baseline import match_group_moments
from cit_bayes.reconstruct.cohorts import draw_seed
from cit_bayes.reconstruct.outcomes import (
    assign_adverse_events,
    assign_outcome_classes,
    assign_transfusions,
    conditional_poisson,
    draw_recovery_days,
    prognostic_score,
)
from cit_bayes.reconstruct.plan import load_reconstruction_plan
from cit_bayes.reconstruct.repair import spss_quantile
from cit_bayes.reconstruct.rules import (
    NON_RESPONDER,
    RECOVERED,
    RESPONDER_NOT_RECOVERED,
    TrajectoryChecker,
    TrajectoryRules,
    response_table,
)
from cit_bayes.reconstruct.targets import published_targets

RULES = TrajectoryRules()
CHECKER = TrajectoryChecker(RULES)
PLAN = load_reconstruction_plan()
TARGETS = published_targets()


# ---- trajectory rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "outcome", "recovery_day", "expected"),
    [
        ([60, 62, 70, 80], NON_RESPONDER, 0, True),
        ([60, 62, 70, 110], NON_RESPONDER, 0, False),  # 110 >= 100 is a response
        ([40, 45, 60, 79], NON_RESPONDER, 0, True),  # 79 < 2 x 40, rise 39 < 50
        ([40, 45, 60, 80], NON_RESPONDER, 0, False),  # 80 >= 2 x 40 is a response
        ([60, 62, 70, 109], NON_RESPONDER, 0, False),  # 109 - 60 >= 50
        ([40, 45, 60, 85], RESPONDER_NOT_RECOVERED, 0, True),  # 85 >= 80, all < 100
        ([60, 62, 70, 80], RESPONDER_NOT_RECOVERED, 0, False),  # no criterion met
        ([45, 50, 99, 100], RESPONDER_NOT_RECOVERED, 0, False),  # reaches 100
        # crossing by log-linear interpolation: 7 + 7 ln(100/80) / ln(150/80) = 9.49 -> day 10
        ([50, 60, 80, 150], RECOVERED, 10, True),
        ([50, 60, 80, 150], RECOVERED, 12, True),  # within the 2-day slack
        ([50, 60, 80, 150], RECOVERED, 13, False),  # 3 days from the crossing
        ([50, 60, 80, 150], RECOVERED, 6, False),  # day 7 < 100 after recovery on day 6
        ([50, 60, 110, 150], RECOVERED, 10, False),  # 110 on day 7 before recovery on day 10
        ([50, 60, 110, 90], RECOVERED, 6, False),  # sustained recovery: day 14 falls below 100
        ([50, 120, 150, 150], NON_RESPONDER, 0, False),  # 120/50 = 2.4 > 1.3^3
        ([80, 40, 50, 60], NON_RESPONDER, 0, False),  # 40/80 = 0.5 < 0.85^3
        ([100, 100, 100, 100], NON_RESPONDER, 0, False),  # baseline >= 100 is not CIT
        ([8, 8, 8, 8], NON_RESPONDER, 0, False),  # baseline below the plan's minimum of 10
        ([60, 62, 70, 80], RECOVERED, 1, False),  # before the earliest recovery day (2)
    ],
)
def test_trajectory_checker_on_hand_made_rows(counts, outcome, recovery_day, expected):
    assert CHECKER.feasible(counts, outcome, recovery_day) is expected


def test_crossing_day_is_the_log_linear_interpolation():
    day = CHECKER.crossing_day([50, 60, 80, 150], 10)
    assert day == pytest.approx(7 + 7 * math.log(100 / 80) / math.log(150 / 80), abs=1e-12)


def test_response_table_is_the_papers_rule():
    table = np.array(response_table(RULES))
    baseline, count = np.meshgrid(np.arange(100), np.arange(501), indexing="ij")
    stated = (count >= 100) | (count - baseline >= 50) | (count >= 2 * baseline)
    stated[0, :] = True  # baseline 0: every count is >= 2 x 0
    assert np.array_equal(table[1:], stated[1:])


# ---- quantiles --------------------------------------------------------------------------------


def test_spss_quantile_by_hand():
    values = [1.0, 2.0, 3.0, 4.0]  # positions (n + 1) p = 1.25, 2.5, 3.75
    assert spss_quantile(values, 0.25) == pytest.approx(1.25)
    assert spss_quantile(values, 0.5) == pytest.approx(2.5)
    assert spss_quantile(values, 0.75) == pytest.approx(3.75)
    assert spss_quantile([5.0, 6.0, 7.0], 0.1) == 5.0  # position 0.4 clamps to the minimum
    assert spss_quantile([5.0, 6.0, 7.0], 0.9) == 7.0  # exact: position 3.6 clamps to the maximum


@pytest.mark.parametrize("n", [36, 37, 50, 64])
def test_spss_quantile_matches_numpy_weibull(n):
    values = np.sort(np.random.default_rng(n).integers(-50, 300, size=n)).astype(float)
    for prob in (0.25, 0.5, 0.75):
        assert spss_quantile(values, prob) == pytest.approx(
            np.quantile(values, prob, method="weibull"), abs=1e-12
        )


# ---- selection --------------------------------------------------------------------------------


def test_conditional_poisson_subset_probabilities():
    """Frequencies of each 2-subset of 5 against the exact P(S) ∝ prod exp(eta_i)."""
    eta = np.array([0.0, 0.5, 1.0, -1.0, 2.0])
    subsets = list(itertools.combinations(range(5), 2))
    weight = np.array([math.exp(eta[list(s)].sum()) for s in subsets])
    exact = weight / weight.sum()
    rng = np.random.default_rng(1)
    draws = 4000
    tally = dict.fromkeys(subsets, 0)
    for _ in range(draws):
        tally[tuple(int(i) for i in conditional_poisson(eta, 2, rng))] += 1
    observed = np.array([tally[s] / draws for s in subsets])
    standard_error = np.sqrt(exact * (1 - exact) / draws)
    assert np.all(np.abs(observed - exact) <= 4 * standard_error)


def test_conditional_poisson_edges():
    rng = np.random.default_rng(0)
    assert len(conditional_poisson(np.zeros(4), 0, rng)) == 0
    assert list(conditional_poisson(np.zeros(4), 4, rng)) == [0, 1, 2, 3]
    with pytest.raises(ReconstructionError):
        conditional_poisson(np.zeros(4), 5, rng)


def test_outcome_classes_have_exact_counts_and_recovered_are_responders():
    rng = np.random.default_rng(3)
    outcome = assign_outcome_classes(rng.normal(size=64), 45, 39, rng)
    assert (outcome == RECOVERED).sum() == 39
    assert (outcome != NON_RESPONDER).sum() == 45
    with pytest.raises(ReconstructionError, match="responder"):
        assign_outcome_classes(np.zeros(10), 3, 4, rng)


def test_prognostic_score_by_hand():
    frame = pd.DataFrame(
        {
            "stage": ["IV", "II"],
            "bone_metastasis": [1, 0],
            "hepatic_metastasis": [1, 0],
            "ecog": [2, 0],
            "chemo_cycles_over5": [1, 0],
            "radiotherapy": [0, 1],
            "targeted_therapy": [0, 0],
            "sex": ["F", "M"],
            "age": [70, 50],
        }
    )
    score = prognostic_score(frame, PLAN)
    # default plan: -0.5 (IV) - 0.5 (bone) - 0.25 (hepatic) - 0.25 (ECOG 2) - 0.25 (cycles)
    # - 0.1 x (70 - 60)/10 ; second: -0.25 (radiotherapy) - 0.1 x (50 - 60)/10
    assert score == pytest.approx([-1.75 - 0.1, -0.25 + 0.1])


# ---- recovery days, moments ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "mean", "sd"), [(39, 9.12, 2.66), (30, 6.69, 2.21), (25, 9.33, 3.24)]
)
def test_recovery_days_meet_their_moments(k, mean, sd):
    days = draw_recovery_days(
        k, mean, sd, earliest=2, rng=np.random.default_rng(k), aim_mean=0.03, aim_sd=0.06
    )
    assert len(days) == k and days.min() >= 2 and days.max() <= 14
    assert abs(days.mean() - mean) <= 0.03
    assert abs(days.std(ddof=1) - sd) <= 0.06


def test_recovery_days_impossible_moments_raise():
    with pytest.raises(ReconstructionError):
        draw_recovery_days(
            5, 20.0, 1.0, earliest=2, rng=np.random.default_rng(0), aim_mean=0.03, aim_sd=0.06
        )


def test_group_moments_match_to_the_printed_digits():
    rng = np.random.default_rng(5)
    groups = np.array(["a"] * 64 + ["b"] * 36)
    start = np.concatenate([rng.normal(59, 9, 64), rng.normal(55, 12, 36)]).round()
    targets = {"a": (59.72, 9.85), "b": (54.69, 11.72)}
    values, converged = match_group_moments(
        start, groups, targets, step=1.0, low=18, high=80, aim_mean=0.005, aim_sd=0.005, rng=rng
    )
    assert converged
    for group, (mean, sd) in targets.items():
        part = values[groups == group]
        assert abs(part.mean() - mean) <= 0.005 and abs(part.std(ddof=1) - sd) <= 0.005
    assert values.min() >= 18 and values.max() <= 80
    assert np.array_equal(values, values.round())


# ---- events -----------------------------------------------------------------------------------


@pytest.mark.parametrize("arm", ["rhTPO", "hetrombopag", "combination", "rhIL-11"])
def test_adverse_events_exact_and_overlaps_are_hepatic_pairs(arm):
    target = TARGETS.arms[arm]
    rng = np.random.default_rng(2)
    baseline = pd.DataFrame({"hepatic_metastasis": rng.integers(0, 2, size=target.n)})
    events = assign_adverse_events(baseline, target, PLAN, rng)
    for column, count in target.adverse_events.items():  # Table 9 counts
        assert int(events[column].sum()) == count
    per_patient = events.sum(axis=1)
    assert int((per_patient > 0).sum()) == target.any_adverse_event
    doubles = events[per_patient > 1]
    # surplus of events over patients: hetrombopag 7 - 5 = 2, rhIL-11 13 - 12 = 1, others 0
    assert len(doubles) == sum(target.adverse_events.values()) - target.any_adverse_event
    assert (doubles["ae_transaminase"] == 1).all() and (doubles["ae_bilirubin"] == 1).all()


def test_transfusions_go_to_non_responders_only():
    rng = np.random.default_rng(4)
    outcome = np.array([NON_RESPONDER] * 5 + [RECOVERED] * 10)
    counts = rng.integers(20, 90, size=(15, 4))
    transfused = assign_transfusions(counts, outcome, 2, PLAN, rng)
    assert transfused.sum() == 2 and transfused[5:].sum() == 0
    with pytest.raises(ReconstructionError, match="non-responders"):
        assign_transfusions(counts, outcome, 6, PLAN, rng)


# ---- targets ----------------------------------------------------------------------------------


def test_targets_read_the_published_cells():
    rh = TARGETS.arms["rhTPO"]
    assert rh.n == 64 and rh.responders == 45 and rh.transfusions == 2
    assert rh.platelets.mean == (57.80, 64.09, 91.12, 129.28)  # Table 4
    assert rh.platelets.sd[3] == pytest.approx(8.27 * 8)  # ± read as SE: 8.27 x sqrt(64)
    assert rh.platelets.delta_quartiles == (29.5, 50.5, 104.5)  # Table 6
    assert rh.categorical["chemo_cycles_over5"] == {1: 36}
    assert TARGETS.arms["rhIL-11"].any_adverse_event == 12  # Table 9
    assert TARGETS.overall_age_quartiles == (52.0, 60.0, 66.0)  # Results text


# ---- seeds ------------------------------------------------------------------------------------


def test_draw_k_is_the_kth_spawned_child_whatever_the_number_of_draws():
    for m in (3, 7):
        children = np.random.SeedSequence(20250101).spawn(m)
        for k in range(1, 4):
            expected = children[k - 1].generate_state(4)
            assert np.array_equal(draw_seed(20250101, k).generate_state(4), expected)
    with pytest.raises(ReconstructionError):
        draw_seed(1, 0)
