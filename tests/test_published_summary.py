"""The published reanalysis's summary.md: its labels follow the results (level, ratio centre)."""

import numpy as np
import pytest

from cit_bayes.analyses.fragments import ContrastSpec, response_analysis
from cit_bayes.report.published_summary import render_summary

ARMS = ("combination", "rhTPO")
# five draws of the combination's rate against rhTPO's 0.5: P(comb > rhTPO) = 0.2, while the
# odds ratios (0.111, 0.25, 0.818, 0.923, 9) have mean 2.22 > 1 and median 0.818 < 1
DRAWS = np.column_stack([[0.1, 0.2, 0.45, 0.48, 0.9], np.full(5, 0.5)])


def _fragment(level: float) -> dict:
    pair = (("combination", "rhTPO"),)
    spec = ContrastSpec(ARMS, pair, "combination", level, pair, (0.1,), (0.0,))
    return response_analysis(DRAWS, spec)[0]


def test_the_odds_ratio_keeps_its_median_which_agrees_with_p_superior():
    odds = _fragment(0.95)["odds_ratio"]["combination/rhTPO"]
    assert odds["mean"] == pytest.approx((1 / 9 + 0.25 + 0.45 / 0.55 + 0.48 / 0.52 + 9) / 5)
    assert odds["median"] == pytest.approx(0.45 / 0.55)
    assert odds["mean"] > 1 > odds["median"]  # P(OR > 1) = P(comb > rhTPO) = 0.2


def test_the_summary_prints_the_runs_level_and_the_odds_ratios_median():
    meta = {"source": "published", "synthetic": False, "seed": 1, "package_version": "0",
            "ci_level": 0.9}  # fmt: skip
    text = render_summary({"meta": meta, "response": {"flat": _fragment(0.9)}})
    assert "Intervals are equal-tailed 90 % credible intervals" in text
    assert "{_pct" not in text and "95 %" not in text
    assert "| response rate (90 % CrI) |" in text.replace("arm | ", "")
    assert "odds ratio (median, 90 % CrI)" in text
    assert "| combination vs rhTPO | " in text
    row = next(line for line in text.splitlines() if line.startswith("| combination vs rhTPO"))
    assert "0.82 (" in row and "2.22" not in row
