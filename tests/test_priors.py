"""Tests of cit_bayes.bayes.priors and the prior sets in models/priors/*.toml.

Reference values:
- the prior sets' stated calibrations, recomputed from their parameters with scipy's normal
  distribution: skeptical and enthusiastic spreads give P(OR > 3) = 5 % (response),
  P(difference > 25 x 10^9/L) = 5 % (PLT) and P(difference > 2 days) = 5 % (recovery), within 0.002;
- the literature numbers quoted in the paper's Discussion (eltrombopag 75 %, avatrombopag 70.3 %;
  recovery 8.1 and 10.2 days): the literature prior means are their averages (exact);
- effective sample sizes: a + b for a beta prior (exact); sigma^2 / sd^2 with sigma = 6.4 days for
  the literature recovery prior (to 0.1 patient).
Malformed files are written to a temporary folder; each must raise PlanError naming file and key.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from cit_bayes.bayes import priors
from cit_bayes.cohort.schema import ARMS
from cit_bayes.exceptions import PlanError

SETS = ["flat", "skeptical", "enthusiastic", "literature", "hierarchical"]
BLOCKS = {"plt": ["day0", "day3", "day7", "day14"], "safety": ["transfusion", "fatigue"]}


@pytest.fixture(scope="module")
def prior_sets():
    return priors.load_prior_sets(SETS)


def test_every_set_declares_every_endpoint_with_a_rationale(prior_sets):
    assert set(priors.available_prior_sets()) >= set(SETS)
    for name, prior_set in prior_sets.items():
        assert prior_set.name == name
        assert len(prior_set.rationale) > 50 and prior_set.title
        assert len(prior_set.sha256) == 64
        for endpoint in priors.ENDPOINTS:
            block = prior_set[endpoint]
            assert block.endpoint == endpoint
            assert len(block.rationale) > 30, (name, endpoint)
            blocks = BLOCKS.get(endpoint, [endpoint])
            params = block.distribution.parameters(ARMS, blocks)
            for value in params.values():
                assert np.all(np.isfinite(value))


def test_flat_response_is_uniform(prior_sets):
    block = prior_sets["flat"]["response"]
    assert block.family == "beta"
    params = block.distribution.parameters(ARMS, ["response"])
    np.testing.assert_array_equal(params["alpha"], np.ones((1, 4)))
    np.testing.assert_array_equal(params["beta"], np.ones((1, 4)))


def pairwise_sd(block) -> float:
    covariance = block.distribution.covariance(ARMS)
    return math.sqrt(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])


@pytest.mark.parametrize(
    ("endpoint", "threshold"),
    [("response", math.log(3.0)), ("plt", 25.0), ("recovery", 2.0), ("safety", math.log(3.0))],
)
def test_skeptical_spread_gives_five_percent_on_a_clinically_important_difference(
    prior_sets, endpoint, threshold
):
    block = prior_sets["skeptical"][endpoint]
    assert block.family == "normal"
    assert stats.norm.sf(threshold / pairwise_sd(block)) == pytest.approx(0.05, abs=0.002)


def test_enthusiastic_shift_gives_five_percent_to_no_benefit(prior_sets):
    response = prior_sets["enthusiastic"]["response"]
    mean = response.distribution.parameters(ARMS, ["response"])["mean"][0]
    shift = mean[ARMS.index("combination")] - mean[ARMS.index("rhTPO")]
    assert shift == pytest.approx(math.log(3.0), abs=1e-3)
    assert stats.norm.cdf(-shift / pairwise_sd(response)) == pytest.approx(0.05, abs=0.002)
    plt = prior_sets["enthusiastic"]["plt"].distribution.parameters(
        ARMS, ["day0", "day3", "day7", "day14"]
    )
    combination = plt["mean"][:, ARMS.index("combination")] - plt["mean"][:, ARMS.index("rhTPO")]
    np.testing.assert_allclose(combination, [0.0, 10.0, 25.0, 25.0])
    recovery = prior_sets["enthusiastic"]["recovery"]
    mean = recovery.distribution.parameters(ARMS, ["recovery"])["mean"][0]
    faster = mean[ARMS.index("rhTPO")] - mean[ARMS.index("combination")]
    assert stats.norm.cdf(-faster / pairwise_sd(recovery)) == pytest.approx(0.05, abs=0.003)


def test_same_as_fallbacks_are_recorded(prior_sets):
    enthusiastic = prior_sets["enthusiastic"]
    assert enthusiastic["safety"].inherited_from == "skeptical"
    assert enthusiastic["safety"].distribution == prior_sets["skeptical"]["safety"].distribution
    assert enthusiastic.depends_on["skeptical"] == prior_sets["skeptical"].sha256
    literature = prior_sets["literature"]
    assert (
        literature["plt"].inherited_from == "flat" and literature["safety"].inherited_from == "flat"
    )
    assert literature.depends_on["flat"] == prior_sets["flat"].sha256
    assert "no" in literature["safety"].rationale.lower()


def test_literature_prior_uses_the_cited_numbers(prior_sets):
    response = prior_sets["literature"]["response"]
    cited = [s.value for s in response.sources]
    assert sorted(cited) == [0.703, 0.75]
    params = response.distribution.parameters(ARMS, ["response"])
    alpha, beta = params["alpha"][0], params["beta"][0]
    for arm, ess in {"rhTPO": 20, "hetrombopag": 20, "rhIL-11": 10, "combination": 2}.items():
        j = ARMS.index(arm)
        assert alpha[j] + beta[j] == pytest.approx(ess)
        assert response.effective_sample_size[arm] == pytest.approx(ess)
        if arm != "combination":
            assert alpha[j] / (alpha[j] + beta[j]) == pytest.approx(np.mean(cited))
    recovery = prior_sets["literature"]["recovery"]
    days = [s.value for s in recovery.sources]
    params = recovery.distribution.parameters(ARMS, ["recovery"])
    j = ARMS.index("hetrombopag")
    assert params["mean"][0, j] == pytest.approx(np.mean(days))
    assert 6.4**2 / params["sd"][0, j] ** 2 == pytest.approx(
        recovery.effective_sample_size["hetrombopag"], abs=0.1
    )


def test_hierarchical_set_is_hierarchical_everywhere(prior_sets):
    for endpoint in priors.ENDPOINTS:
        block = prior_sets["hierarchical"][endpoint]
        assert block.family == "hierarchical"
        assert block.distribution.tau_scale > 0


GOOD = """
[prior_set]
name = "{name}"
title = "t"
rationale = "r"

[response]
family = "beta"
a = 1.0
b = 1.0
rationale = "r"

[plt]
family = "normal"
scale = "natural"
center = 100.0
common_sd = 0.0
between_arm_sd = 1000.0
rationale = "r"

[recovery]
same_as = "{other}"
rationale = "r"

[safety]
family = "hierarchical"
scale = "logit"
center = -3.0
common_sd = 1.5
tau_scale = 1.0
rationale = "r"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_minimal_valid_set_loads(tmp_path):
    write(tmp_path, "base", GOOD.format(name="base", other="other"))
    write(
        tmp_path,
        "other",
        GOOD.format(name="other", other="base").replace(
            'same_as = "base"',
            'family = "normal"\nscale = "natural"\ncenter = 10.0\ncommon_sd = 0.0\nbetween_arm_sd = 100.0',
        ),
    )
    loaded = priors.load_prior_set("base", tmp_path)
    assert loaded["recovery"].inherited_from == "other"
    assert loaded.depends_on["other"]


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda t: t.replace('rationale = "r"\n\n[plt]', "\n[plt]"), "response.rationale"),
        (
            lambda t: t.replace("a = 1.0\nb = 1.0", "a = 1.0\nb = 1.0\nc = 2.0"),
            "table [response]: unknown key(s) ['c']",
        ),
        (lambda t: t.replace('[plt]\nfamily = "normal"', '[plt]\nfamily = "beta"'), "plt.family"),
        (lambda t: t.replace('scale = "logit"', 'scale = "natural"'), "safety.scale"),
        (
            lambda t: t.replace("between_arm_sd = 1000.0", "between_arm_sd = -1.0"),
            "plt.between_arm_sd",
        ),
        (lambda t: t.replace("tau_scale = 1.0", 'tau_scale = "one"'), "safety.tau_scale"),
        (lambda t: t.replace('name = "base"', 'name = "other"'), "prior_set.name"),
        (lambda t: t.replace("[safety]", "[harms]"), "unknown table(s) ['harms']"),
        (lambda t: t.replace("a = 1.0\nb = 1.0", "mean = 1.5\ness = 2.0"), "response.mean"),
        (
            lambda t: t.replace(
                "a = 1.0\nb = 1.0", "a = 1.0\nb = 1.0\neffective_sample_size = 5.0"
            ),
            "effective_sample_size",
        ),
        (
            lambda t: t.replace(
                'a = 1.0\nb = 1.0\nrationale = "r"',
                'a = 1.0\nb = 1.0\nrationale = "r"\n[[response.sources]]\nagent = "x"\nquantity = "q"\nvalue = 0.7\nunit = "p"\nreference = "ref"',
            ),
            "effective_sample_size: required",
        ),
        (lambda t: t.replace('title = "t"', 'title = "t'), "not valid TOML"),
    ],
)
def test_malformed_sets_raise_plan_error_naming_file_and_key(tmp_path, edit, key):
    write(
        tmp_path,
        "other",
        GOOD.format(name="other", other="other").replace(
            'same_as = "other"',
            'family = "normal"\nscale = "natural"\ncenter = 10.0\ncommon_sd = 0.0\nbetween_arm_sd = 100.0',
        ),
    )
    path = write(tmp_path, "base", edit(GOOD.format(name="base", other="other")))
    with pytest.raises(PlanError) as error:
        priors.load_prior_set("base", tmp_path)
    assert str(path) in str(error.value)
    assert key in str(error.value)


def test_same_as_cycle_and_missing_set(tmp_path):
    write(tmp_path, "base", GOOD.format(name="base", other="loop"))
    write(tmp_path, "loop", GOOD.format(name="loop", other="base"))
    with pytest.raises(PlanError, match="cycle"):
        priors.load_prior_set("base", tmp_path)
    with pytest.raises(PlanError, match="not found"):
        priors.load_prior_set("nothing", tmp_path)


def test_unknown_arm_or_block_in_overrides_is_reported_with_the_key(prior_sets):
    literature = prior_sets["literature"]["response"].distribution
    with pytest.raises(PlanError, match=r"response\.arms: unknown arm"):
        literature.parameters(["A", "B"], ["response"])
    enthusiastic = prior_sets["enthusiastic"]["plt"].distribution
    with pytest.raises(PlanError, match=r"plt\.shift\.combination: unknown block"):
        enthusiastic.parameters(ARMS, ["day0", "day7"])


def test_prior_set_getitem_on_unknown_endpoint(prior_sets):
    with pytest.raises(PlanError, match="no block"):
        prior_sets["flat"]["weighting"]
