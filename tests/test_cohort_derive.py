"""The derived outcomes: the paper's response rule, ΔPLT and the time-to-event pair.

Reference values are hand calculations from the rule in the paper's Methods ("Primary outcome
measures" 1): a count meets the criteria when it is >= 100, or >= baseline + 50, or >= 2 x
baseline. Each case below states which criterion decides it. Time to recovery follows the brief:
``recovery_day`` when recorded, else 14 when the day-14 count is known, else the last day with a
recorded count.
"""

from __future__ import annotations

import numpy as np
import pytest

from cit_bayes.cohort.derive import (
    derive_delta_plt,
    derive_response,
    derive_time_to_recovery,
    meets_response_criteria,
    response_determined,
)
from cit_bayes.exceptions import CohortError

NAN = np.nan


@pytest.mark.parametrize(
    ("baseline", "count", "met", "why"),
    [
        (60, 100, True, "criterion 1: exactly 100"),
        (60, 99, False, "99 < 100, rise 39 < 50, 99 < 120"),
        (40, 90, True, "criterion 2: rise exactly 50"),
        (40, 89, True, "criterion 3: 89 >= 80"),
        (45, 89, False, "rise 44, 89 < 90, < 100"),
        (45, 90, True, "criterion 3: exactly 2 x 45"),
        (20, 40, True, "criterion 3: exactly 2 x 20 (rise only 20)"),
        (70, 119, True, "criterion 1 only (rise 49, < 140)"),
        (70, NAN, False, "missing count meets nothing"),
        (NAN, 150, False, "missing baseline: nothing is met"),
    ],
)
def test_meets_response_criteria_hand_cases(baseline, count, met, why):
    assert meets_response_criteria([baseline], [count]).tolist() == [met], why


def test_rule_any_uses_every_post_baseline_count_and_the_recovery_day():
    day0 = [50, 50, 60, 60, 60]
    day3 = [110, 60, 65, NAN, NAN]
    day7 = [80, 60, 70, 80, NAN]
    day14 = [90, 105, 80, NAN, 80]
    recovery = [3, 14, NAN, 12, NAN]
    # 1: day 3 count 110 >= 100; 2: day 14 count 105; 3: max rise 20 and < 2x -> 0;
    # 4: counts 80 (no), but recovery_day 12 records a count >= 100 -> 1; 5: 80 -> 0
    assert derive_response(day0, day3, day7, day14, "any", recovery_day=recovery).tolist() == [
        1,
        1,
        0,
        1,
        0,
    ]
    # rule day14 looks at the day-14 count only: patient 1 (90, rise 40, < 100) is a non-response
    determined = response_determined(day0, day3, day7, day14, "day14", recovery_day=recovery)
    assert determined.tolist() == [True, True, True, False, True]
    keep = determined
    result = derive_response(
        np.array(day0)[keep],
        np.array(day3)[keep],
        np.array(day7)[keep],
        np.array(day14)[keep],
        "day14",
    )
    assert result.tolist() == [0, 1, 0, 0]


def test_without_recovery_day_the_rule_reads_counts_only():
    assert derive_response([60], [NAN], [80], [NAN], "any").tolist() == [0]
    assert derive_response([60], [NAN], [80], [NAN], "any", recovery_day=[10]).tolist() == [1]


def test_undeterminable_response_is_an_error_not_a_non_response():
    day0 = [50, 50, NAN]
    with pytest.raises(CohortError, match=r"2 patient\(s\) \(positions 1, 2\)"):
        derive_response(day0, [60, NAN, 90], [NAN, NAN, 90], [NAN, NAN, 90])
    assert response_determined(day0, [60, NAN, 90], [NAN, NAN, 90], [NAN, NAN, 90]).tolist() == [
        True,
        False,
        False,
    ]


def test_a_met_criterion_determines_the_response_even_with_missing_counts():
    # day 3 count 120 already decides rule "any", whatever day 7 and 14 would have shown
    assert response_determined([50], [120], [NAN], [NAN]).tolist() == [True]
    assert derive_response([50], [120], [NAN], [NAN]).tolist() == [1]


def test_unknown_rule_and_bad_shapes_are_named_errors():
    with pytest.raises(CohortError, match="unknown response rule"):
        derive_response([50], [60], [70], [80], rule="day7")
    with pytest.raises(CohortError, match="one length"):
        derive_response([50, 60], [60], [70], [80])
    with pytest.raises(CohortError, match="expected numbers"):
        derive_response(["a"], [60], [70], [80])


def test_delta_plt_is_day14_minus_day0():
    np.testing.assert_array_equal(derive_delta_plt([55, 40], [130, NAN]), [75.0, NAN])


def test_time_to_recovery_and_censoring():
    day0 = [55, 40, 30, 60, 60]
    day3 = [62, 45, 41, 101, 61]
    day7 = [95, 70, 82, 150, NAN]
    day14 = [130, 88, NAN, 180, NAN]
    recovery = [9, NAN, NAN, 3, NAN]
    time, recovered = derive_time_to_recovery(day0, day3, day7, day14, recovery)
    # recovered on day 9; censored at 14 (day 14 known); censored at 7 (last count);
    # recovered on day 3; censored at 3 (day 3 is the last recorded count)
    assert time.tolist() == [9, 14, 7, 3, 3]
    assert recovered.tolist() == [1, 0, 0, 1, 0]
    assert time.dtype.kind == "i" and recovered.dtype.kind == "i"
