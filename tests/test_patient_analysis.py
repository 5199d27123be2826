"""The patient-level analysis (``cit_bayes.analyses.patient``) and ``cit-bayes fit``.

On the small simulated cohort of ``conftest.py`` (120 patients, short chains): the results
document has every analysis of the plan with the right keys and labels, validates against the
shared layout, carries ``meta.synthetic`` from the cohort, and its numbers agree with the tidy
tables and with hand calculations (observed means, the unadjusted frequentist response rate = the
arm's share of responders, the unadjusted analysis's baseline = each arm's observed mean);
``cit-bayes fit`` writes the files, prints no row-level data, and exits 2 on bad input without
writing anything.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from cit_bayes.analyses.results import load_idata, validation_problems
from cit_bayes.analyses.robustness import PRIOR_SET_ENDPOINTS, VARIANT_ENDPOINTS
from cit_bayes.cli import main
from cit_bayes.cohort import read_cohort
from cit_bayes.cohort.schema import ARMS
from cit_bayes.exceptions import ConvergenceWarning


def test_results_document_layout(small_analysis, short_plan):
    results = small_analysis.results
    assert validation_problems(results) == []
    names = [a.name for a in short_plan.analyses()]
    for endpoint in ("response", "plt", "recovery", "safety"):
        assert list(results[endpoint]) == names
    assert list(results["weighting"]) == names[1:]
    variants = {f"{e}/robustness: {v}" for v in short_plan.robustness for e in VARIANT_ENDPOINTS[v]}
    variants |= {f"{e}/robustness: prior: {name}" for name in short_plan.prior_sets
                 for e in PRIOR_SET_ENDPOINTS}  # fmt: skip
    assert short_plan.robustness == (
        "regression only", "weights only", "no Kish rescaling", "design uncertainty"
    )  # fmt: skip
    assert short_plan.prior_sets == ("wide", "narrow")
    assert (
        set(results["diagnostics"])
        == {f"{e}/{a}" for e in ("response", "plt", "recovery", "safety") for a in names} | variants
    )
    assert results["meta"]["synthetic"] is True
    assert results["meta"]["source"] == "cohort"
    assert results["meta"]["plan"]["sha256"] == short_plan.sha256
    assert results["meta"]["all_fits_passed"] == small_analysis.passed
    response = results["response"]["adjusted"]
    assert list(response["rate"]) == list(ARMS)
    assert "hetrombopag vs rhTPO @ 0.10" in response["prob_noninferior"]
    recovery = results["recovery"]["adjusted"]
    assert list(recovery["cumulative_recovery"]) == [f"day{d}" for d in range(1, 15)]
    assert set(recovery["hazard_ratio"]) == {f"{a}/rhTPO" for a in ARMS if a != "rhTPO"}
    assert set(results["safety"]["adjusted"]["rate"]) == set(short_plan.safety_events)
    for name, fit in small_analysis.fits.items():
        assert results["diagnostics"][name]["passed"] == fit.passed


def test_fragments_agree_with_draws_and_tables(small_analysis):
    results, tables = small_analysis.results, small_analysis.tables
    fit = small_analysis.fits["response/adjusted"]
    rate = fit.draws["rate"]
    for arm in ARMS:
        draws = rate.sel(arm=arm).values.ravel()
        entry = results["response"]["adjusted"]["rate"][arm]
        assert entry["mean"] == pytest.approx(draws.mean())
        assert entry["ci_low"] == pytest.approx(np.quantile(draws, 0.025))
    rmtr = small_analysis.fits["recovery/adjusted"].draws["rmtr"]
    curve = small_analysis.fits["recovery/adjusted"].draws["cumulative_recovery"]
    # RMTR over 14 days = 1 + sum over days 1..13 of the probability of not having recovered
    np.testing.assert_allclose(
        rmtr.values, 1 + (1 - curve.isel(day=slice(0, 13))).sum("day").values, rtol=1e-10
    )
    hr = results["recovery"]["adjusted"]["hazard_ratio"]["combination/rhTPO"]
    effect = small_analysis.fits["recovery/adjusted"].draws["arm_effect"]
    ratio = np.exp(effect.sel(arm="combination") - effect.sel(arm="rhTPO")).values.ravel()
    assert hr["mean"] == pytest.approx(ratio.mean())
    table = tables["response/rate"].set_index(["analysis", "arm"])
    assert table.loc[("adjusted", "combination"), "mean"] == pytest.approx(
        results["response"]["adjusted"]["rate"]["combination"]["mean"]
    )


def test_robustness_rows_are_the_analyses_and_the_variants(small_analysis):
    results, fits = small_analysis.results, small_analysis.fits
    robustness = results["robustness"]
    assert robustness["pair"] == "combination-rhTPO" and robustness["last_day"] == "day14"
    rows = robustness["rows"]
    assert list(rows) == ["unadjusted", "adjusted", "adjusted (ATO)", "regression only",
                          "weights only", "no Kish rescaling", "design uncertainty",
                          "prior: wide", "prior: narrow"]  # fmt: skip
    # the analyses' rows are read from the same draws as their sections
    for name in ("unadjusted", "adjusted"):
        expected = results["response"][name]["risk_difference"]["combination-rhTPO"]["mean"]
        assert rows[name]["response_difference"]["mean"] == pytest.approx(expected, rel=1e-12)
        curve = results["recovery"][name]["cumulative_recovery"]["day14"]
        difference = curve["combination"]["mean"] - curve["rhTPO"]["mean"]
        assert rows[name]["recovered_difference"]["mean"] == pytest.approx(difference, rel=1e-9)
    # the variants fit what their names say, on the primary estimand's weights
    weights_only = fits["response/robustness: weights only"].idata["constant_data"]
    regression = fits["response/robustness: regression only"].idata["constant_data"]
    adjusted = fits["response/adjusted"].idata["constant_data"]
    assert not np.any(weights_only["design"].values)
    np.testing.assert_array_equal(weights_only["weight"].values, adjusted["weight"].values)
    np.testing.assert_array_equal(regression["design"].values, adjusted["design"].values)
    np.testing.assert_allclose(regression["weight"].values, 1.0)
    # without Kish rescaling each arm's likelihood weights sum to its n, in the same proportions
    no_kish = fits["response/robustness: no Kish rescaling"].idata["constant_data"]
    codes = adjusted["arm_index"].values
    for j in np.unique(codes):
        kish, plain = adjusted["weight"].values[codes == j], no_kish["weight"].values[codes == j]
        assert plain.sum() == pytest.approx((codes == j).sum(), rel=1e-12)
        np.testing.assert_allclose(plain / plain.sum(), kish / kish.sum(), rtol=1e-12)
    move = robustness["largest_move"]
    assert move["from"] in rows and move["to"] in rows and move["driver"]
    assert move["change"] == pytest.approx(
        rows[move["to"]]["prob_response_superior"] - rows[move["from"]]["prob_response_superior"]
    )


def test_unadjusted_checks_by_hand(small_analysis, small_cohort_csv):
    cohort = read_cohort(small_cohort_csv)
    data = cohort.data
    results = small_analysis.results
    frequentist = results["response"]["unadjusted"]["frequentist"]["rate"]
    baseline = results["plt"]["unadjusted"]["baseline_mean"]
    observed = small_analysis.tables["plt/observed"]
    for arm in ARMS:
        rows = data[data["arm"] == arm]
        assert frequentist[arm]["estimate"] == pytest.approx(rows["response"].mean())
        assert baseline[arm] == pytest.approx(rows["plt_day0"].mean())
        day14 = observed[(observed["arm"] == arm) & (observed["day"] == 14)].iloc[0]
        assert day14["observed_mean"] == pytest.approx(rows["plt_day14"].mean())
        assert results["response"]["unadjusted"]["n_analysed"][arm] == len(rows)
    # the adjusted (ATE) baseline is the whole cohort's mean day-0 count, the same for each arm
    ate = results["plt"]["adjusted"]["baseline_mean"]
    assert set(np.round(list(ate.values()), 9)) == {round(data["plt_day0"].mean(), 9)}


def test_weighting_summary_matches_tables(small_analysis):
    summary = small_analysis.results["weighting"]["adjusted"]
    ess = small_analysis.tables["weighting/ess"]
    ate = ess[ess["analysis"] == "adjusted"].set_index("arm")
    for arm in ARMS:
        assert summary["ess"][arm] == pytest.approx(ate.loc[arm, "ess"])
        assert summary["n"][arm] == ate.loc[arm, "n"]
    balance = small_analysis.tables["weighting/balance"]
    assert summary["max_abs_smd_weighted"] == pytest.approx(
        balance.loc[balance["analysis"] == "adjusted", "max_smd_weighted"].max()
    )


def test_same_seed_same_numbers(small_cohort_csv, short_plan, small_analysis):
    from cit_bayes.analyses.patient import fit_models

    cohort = read_cohort(small_cohort_csv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains
        fits, _ = fit_models(cohort, short_plan, small_analysis.weighting, seed=11)
    for name in ("response/adjusted", "safety/unadjusted"):
        for key, draws in fits[name].draws.items():
            np.testing.assert_array_equal(draws.values, small_analysis.fits[name].draws[key].values)


def test_fit_cli_writes_outputs(tmp_path, small_cohort_csv, short_plan_file, capsys):
    out = tmp_path / "fit"
    code = main(
        [
            "fit",
            str(small_cohort_csv),
            "--plan",
            str(short_plan_file),
            "--out",
            str(out),
            "--draws",
            "150",
            "--tune",
            "150",
            "--seed",
            "11",
        ]
    )
    results = json.loads((out / "results.json").read_text())
    # exit 0 exactly when every fit met its gates, 1 when one missed (short chains may)
    assert code == (0 if results["meta"]["all_fits_passed"] else 1)
    assert results["meta"]["synthetic"] is True
    assert (out / "tables" / "response__rate.csv").is_file()
    saved = sorted((out / "idata").glob("*.nc"))
    assert len(saved) == 12 + 3 * 4 + 3 * 2  # 4 models x 3 analyses; 3 x 4 variants; 3 x 2 sets
    for path in saved:  # posterior, sampler statistics and prior settings; no patient row
        idata = load_idata(path)
        assert "observed_data" not in idata.children
        assert all(str(name).startswith("prior_") for name in idata.constant_data.data_vars)
        assert idata.constant_data.data_vars and idata.posterior.attrs["data_fingerprint"]
        for group in idata.children:  # no dimension of the cohort's size (120 patients)
            assert 120 not in dict(idata[group].sizes).values(), (path.name, group)
    printed = capsys.readouterr()
    assert "adjusted response rate (ATE)" in printed.out
    assert "SYN-" not in printed.out + printed.err  # no patient identifier
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_fit_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("patient_id,arm\n1,placebo\n", encoding="utf-8")
    out = tmp_path / "fit"
    assert main(["fit", str(bad), "--out", str(out)]) == 2
    assert not out.exists()
    assert "error" in capsys.readouterr().err
    assert main(["fit", str(bad), "--out", str(out), "--seed", "-1"]) == 2
