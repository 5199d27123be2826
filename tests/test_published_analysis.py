"""Tests of the published reanalysis (``reanalyse --published``) and the results.json layout.

Reference values:
- the paper's tables (data/published): responders 45/64, 26/37, 34/36, 33/50 (Table 2), Table 4's
  day-7 means, Table 6's recovery means and SDs, Tables 8-9's counts (zero cells included);
- closed forms under the flat prior set:
  * response and safety rates: Beta(1 + events, 1 + non-events) per arm. Posterior means must
    match (1 + y) / (2 + n) to 0.005 and the 95 % interval ends the Beta quantiles to 0.015.
    P(combination > rhTPO) and P(arm is best) are computed exactly by numerical integration of
    the Beta densities (scipy.integrate.quad): P(X > Y) = int f_X F_Y, P(k best) =
    int f_k prod_{j != k} F_j; the fit must agree within 4 Monte Carlo standard errors, the MCSE
    being the larger of the fit's ESS-based MCSE and sqrt(p (1 - p) / draws);
  * platelet and recovery means: N(100 or 10, 1000^2 or 100^2) prior with a normal likelihood of
    known SE gives the conjugate normal posterior; means within 4 x posterior SD / sqrt(bulk ESS),
    SDs within 10 %; the sensitivity runs use SE = ± / sqrt(arm size) and SD / sqrt(n), n the assumed recovery-analysis size.
The fast tests run the flat prior set only (one compiled model); the slow test runs all five
prior sets and checks that every fit passes the gates.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from scipy import integrate, stats

from cit_bayes.analyses.published import (
    load_reanalysis_plan,
    published_inputs,
    run_published_reanalysis,
)
from cit_bayes.analyses.results import (
    ResultsSchemaError,
    load_idata,
    validate_results,
    validation_problems,
    write_results,
)
from cit_bayes.cli import main
from cit_bayes.cohort.schema import ARMS
from cit_bayes.exceptions import PlanError

N = {"rhTPO": 64, "hetrombopag": 37, "combination": 36, "rhIL-11": 50}
RESPONDERS = {"rhTPO": 45, "hetrombopag": 26, "combination": 34, "rhIL-11": 33}


@pytest.fixture(scope="module")
def flat():
    return run_published_reanalysis(prior_sets=["flat"])


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("published")
    code = main(["reanalyse", "--published", "--prior-set", "flat", "--out", str(out)])
    return code, out


def beta(arm_events: int, arm_n: int):
    return stats.beta(1 + arm_events, 1 + arm_n - arm_events)


def mc_tolerance(p_exact: float, mcse: float, draws: int) -> float:
    return 4 * max(mcse, math.sqrt(p_exact * (1 - p_exact) / draws))


def test_published_inputs_come_from_the_tables():
    inputs = published_inputs()
    assert inputs.responders.to_dict() == RESPONDERS
    assert inputs.patients.to_dict() == N
    assert inputs.plt_means.loc["day7", "combination"] == 121.0  # exact: read from the table
    assert inputs.plt_plusminus.loc["day0", "rhTPO"] == 1.67  # exact: read from the table
    assert inputs.recovery_means.to_dict() == {
        "rhTPO": 9.12,
        "hetrombopag": 9.33,
        "combination": 6.69,
        "rhIL-11": 9.25,
    }
    assert inputs.safety_events.loc["fatigue", "hetrombopag"] == 0
    assert inputs.safety_events.loc["transfusion"].tolist() == [2, 2, 1, 1]
    assert list(inputs.safety_events.index) == [
        "transfusion",
        "transaminase",
        "bilirubin",
        "fatigue",
        "headache",
        "any_ae",
    ]


def test_flat_response_matches_the_beta_closed_form(flat):
    analysis = flat.results["response"]["flat"]
    for arm in ARMS:
        exact = beta(RESPONDERS[arm], N[arm])
        rate = analysis["rate"][arm]
        assert rate["mean"] == pytest.approx(exact.mean(), abs=0.005)
        assert rate["ci_low"] == pytest.approx(exact.ppf(0.025), abs=0.015)
        assert rate["ci_high"] == pytest.approx(exact.ppf(0.975), abs=0.015)
    probabilities = flat.tables["response/probabilities"].set_index(["quantity", "key"])
    draws = (
        flat.results["diagnostics"]["response/flat"]["chains"]
        * flat.results["diagnostics"]["response/flat"]["draws"]
    )
    combination, rhtpo = beta(34, 36), beta(45, 64)
    exact, _ = integrate.quad(lambda x: combination.pdf(x) * rhtpo.cdf(x), 0, 1)
    row = probabilities.loc[("prob_superior", "combination>rhTPO")]
    assert row["prob"] == pytest.approx(exact, abs=mc_tolerance(exact, row["mcse"], draws))
    for arm in ARMS:
        others = [beta(RESPONDERS[a], N[a]) for a in ARMS if a != arm]
        own = beta(RESPONDERS[arm], N[arm])
        exact, _ = integrate.quad(
            lambda x, own=own, others=others: own.pdf(x) * math.prod(o.cdf(x) for o in others),
            0,
            1,
            limit=200,
        )
        row = probabilities.loc[("prob_best", arm)]
        assert row["prob"] == pytest.approx(exact, abs=mc_tolerance(exact, row["mcse"], draws)), arm


def test_flat_safety_matches_the_beta_closed_form_with_zero_cells(flat):
    inputs = published_inputs()
    rates = flat.results["safety"]["flat"]["rate"]
    for event, counts in inputs.safety_events.iterrows():
        for arm in ARMS:
            exact = beta(int(counts[arm]), N[arm]).mean()
            assert rates[event][arm]["mean"] == pytest.approx(exact, abs=0.005), (event, arm)
    assert rates["fatigue"]["hetrombopag"]["mean"] == pytest.approx(1 / 39, abs=0.005)
    harm = flat.results["safety"]["flat"]["prob_difference_exceeds"]["transaminase"]
    assert set(harm) == {
        f"{arm}-rhTPO > {d}"
        for arm in ("hetrombopag", "combination", "rhIL-11")
        for d in ("0.00", "0.05")
    }


def normal_posterior(ybar, se, prior_mean, prior_sd):
    precision = 1 / se**2 + 1 / prior_sd**2
    return (ybar / se**2 + prior_mean / prior_sd**2) / precision, 1 / math.sqrt(precision)


def check_normal(item, mean, sd, ess):
    assert item["mean"] == pytest.approx(mean, abs=4 * sd / math.sqrt(ess))
    assert item["sd"] == pytest.approx(sd, rel=0.1)


def test_flat_plt_and_recovery_match_the_normal_conjugate_posterior(flat):
    inputs = published_inputs()
    results = flat.results
    for label, divide in (("flat", False), ("flat (± as SD)", True)):
        ess = results["diagnostics"][f"plt/{label}"]["min_ess_bulk"]
        for day in ("day0", "day7", "day14"):
            for arm in ARMS:
                se = inputs.plt_plusminus.loc[day, arm] / (math.sqrt(N[arm]) if divide else 1)
                mean, sd = normal_posterior(inputs.plt_means.loc[day, arm], se, 100.0, 1000.0)
                check_normal(results["plt"][label]["mean"][day][arm], mean, sd, ess)
    sensitivity = "flat (n = responders, an upper bound)"
    for label, counts in (
        # Primary: the sizes that reproduce Table 7's CIs (the audit's implied sizes).
        ("flat", {"rhTPO": 33, "hetrombopag": 9, "combination": 13, "rhIL-11": 16}),
        (sensitivity, RESPONDERS),
    ):
        analysis = results["recovery"][label]
        assert analysis["recovery_analysis_sizes"] == counts
        assert analysis["population"].startswith("recovered patients only")
        ess = results["diagnostics"][f"recovery/{label}"]["min_ess_bulk"]
        for arm in ARMS:
            se = inputs.recovery_sds[arm] / math.sqrt(counts[arm])
            mean, sd = normal_posterior(inputs.recovery_means[arm], se, 10.0, 100.0)
            check_normal(analysis["mean_days"][arm], mean, sd, ess)
    faster = results["recovery"]["flat"]["prob_difference_exceeds"]
    assert set(faster) == {
        f"{a}-combination > {d}"
        for a in ("rhTPO", "hetrombopag", "rhIL-11")
        for d in ("1.00", "2.00")
    }


def test_results_follow_the_layout_and_every_fit_passed(flat):
    results = flat.results
    validate_results(results)
    meta = results["meta"]
    assert meta["source"] == "published" and meta["synthetic"] is False
    assert meta["seed"] == load_reanalysis_plan().seed
    # one software list for both analyses (cit_bayes.analyses.results.SOFTWARE)
    assert set(meta["software"]) == {
        "python",
        "pymc",
        "pytensor",
        "arviz",
        "numpy",
        "nutpie",
        "lifelines",
        "scikit-learn",
    }
    assert meta["prior_sets"]["flat"]["file"] == "models/priors/flat.toml"
    assert any("implied by Table 7" in text for text in meta["assumptions"])
    response = results["response"]["flat"]
    assert set(response["prob_superior"]) >= {
        "combination>rhTPO",
        "combination>hetrombopag",
        "combination>rhIL-11",
    }
    assert set(response["prob_noninferior"]) == {
        f"hetrombopag vs {b} @ {m}" for b in ("rhTPO", "rhIL-11") for m in ("0.05", "0.10", "0.15")
    }
    assert {f"combination-rhTPO > {d}" for d in ("0.00", "0.05", "0.10", "0.15", "0.20")} <= set(
        response["prob_difference_exceeds"]
    )
    assert sum(response["prob_best"].values()) == pytest.approx(1.0)
    assert set(results["plt"]) == {"flat", "flat (± as SD)"}
    assert set(results["plt"]["flat"]["difference"]) == {"day7", "day14"}
    assert set(results["diagnostics"]) == {
        "response/flat",
        "plt/flat",
        "recovery/flat",
        "safety/flat",
        "plt/flat (± as SD)",
        "recovery/flat (n = responders, an upper bound)",
    }
    for name, entry in results["diagnostics"].items():
        assert entry["passed"], (name, entry["failures"])
        assert (
            entry["max_rhat"] <= 1.01
            and entry["min_ess_bulk"] >= 400
            and entry["min_ess_tail"] >= 400
        )
        assert entry["divergences"] == 0
    assert flat.passed


def test_validation_reports_every_problem(flat):
    broken = copy.deepcopy(flat.results)
    broken["response"]["flat"]["prob_superior"]["combination>rhTPO"] = 1.2
    broken["response"]["flat"]["rate"]["rhTPO "] = broken["response"]["flat"]["rate"].pop("rhTPO")
    broken["plt"]["flat"]["mean"]["day7"]["rhIL-11"]["mean"] = float("nan")
    del broken["meta"]["seed"]
    broken["diagnostics"]["response/flat"].pop("passed")
    problems = validation_problems(broken)
    text = "\n".join(problems)
    assert "combination>rhTPO" in text and "probability" in text
    assert "rhTPO " in text
    assert "non-finite" in text
    assert "meta: missing 'seed'" in text
    assert "diagnostics.response/flat: missing 'passed'" in text
    with pytest.raises(ResultsSchemaError):
        validate_results(broken)
    with pytest.raises(ResultsSchemaError, match="non-finite"):
        write_results(broken, "/nonexistent/never-written.json")


def test_same_seed_same_numbers_other_seed_other_numbers(flat):
    again = run_published_reanalysis(prior_sets=["flat"])
    assert again.results["response"] == flat.results["response"]
    other = run_published_reanalysis(prior_sets=["flat"], seed=1)
    assert other.results["response"]["flat"]["rate"] != flat.results["response"]["flat"]["rate"]
    assert other.results["meta"]["seed"] == 1


def test_cli_writes_results_summary_figures_and_fits(cli_run, flat):
    code, out = cli_run
    assert code == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    figures = [
        f"figures/{n}.{e}"
        for n in ("prior_sensitivity", "response_rates", "risk_differences")
        for e in ("png", "svg")
    ]
    idata = ["idata/published__flat.nc", "idata/published__flat_sensitivity.nc"]
    # run.json: when and how long (not a result); .cit-bayes-output: the manifest of the folder
    expected = ["results.json", "run.json", "summary.md", ".cit-bayes-output", *figures, *idata]
    assert written == sorted(expected)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    validate_results(results)
    assert results["response"] == flat.results["response"]  # same default seed, same numbers
    summary = (out / "summary.md").read_text(encoding="utf-8")
    for heading in (
        "## Response",
        "## Platelet count by day",
        "## Time to platelet recovery, among recovered patients only",
        "## Safety",
        "## Sampling diagnostics",
    ):
        assert heading in summary
    assert "### flat (± as SD)" in summary and "**Assumption**" in summary
    assert "All 6 fits passed." in summary
    import matplotlib.image

    width = matplotlib.image.imread(out / "figures" / "response_rates.png").shape[1]
    assert width > 1500  # 300 dpi
    fit = load_idata(out / "idata" / "published__flat.nc")
    attrs = fit.posterior.attrs
    assert attrs["fit_name"] == "published/flat" and attrs["prior_set"] == "flat"
    assert attrs["prior_hash"] == results["meta"]["prior_sets"]["flat"]["sha256"]
    assert attrs["plan_hash"] == results["meta"]["plan"]["sha256"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reanalyse"], "use --published"),
        (["reanalyse", "--published", "--prior-set", "nonexistent"], "not found"),
        (["reanalyse", "--published", "--seed", "-3"], "non-negative"),
    ],
)
def test_cli_bad_input_exits_2(argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_bad_plan_raises_plan_error_naming_the_key(tmp_path):
    plan = load_reanalysis_plan()
    text = Path(plan.path).read_text(encoding="utf-8")
    bad = tmp_path / "plan.toml"
    bad.write_text(
        text.replace('focus_arm = "combination"', 'focus_arm = "placebo"'), encoding="utf-8"
    )
    with pytest.raises(PlanError, match=r"contrasts\.focus_arm"):
        load_reanalysis_plan(bad)
    bad.write_text(
        text.replace("hierarchical_target_accept = 0.99", "hierarchical_target_accept = 1.5"),
        encoding="utf-8",
    )
    with pytest.raises(PlanError, match="target_accept"):
        load_reanalysis_plan(bad)


@pytest.mark.slow
def test_every_prior_set_passes_the_gates_on_the_published_data():
    """Done-when of issue 3: every fit on the published data passes the gates (two seeds)."""
    for seed in (20250101, 7):
        result = run_published_reanalysis(seed=seed)
        failed = {
            n: d["failures"] for n, d in result.results["diagnostics"].items() if not d["passed"]
        }
        assert not failed, (seed, failed)
        assert len(result.results["diagnostics"]) == 22
        validate_results(result.results)
