"""Arms are data of the plan: cohorts with 3 and 5 arms of the user's naming run end to end
(issue 16, item 1)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from cit_bayes._paths import models_dir
from cit_bayes.analyses.patient import run_patient_analysis, weight_cohort, write_fit_outputs
from cit_bayes.cohort import validate_cohort
from cit_bayes.exceptions import CohortError, ConvergenceWarning, PlanError
from cit_bayes.plan import load_plan
from cit_bayes.report.patient_report import write_report
from cit_bayes.simulate import simulate_cohort

DEFAULT_ARMS = 'labels = ["rhTPO", "hetrombopag", "combination", "rhIL-11"]'


def _plan(tmp_path, arms, *, focus, reference, noninferiority, without=()):
    """The default plan for other arms: every pair with the focus arm, one NI pair, no
    sensitivity estimand, robustness variant or prior set, a short bootstrap (short chains
    below); the covariates in ``without`` left out."""
    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    for name in without:
        assert text.count(f'"{name}", ') == 1
        text = text.replace(f'"{name}", ', "")
    replacements = [
        (re.escape(DEFAULT_ARMS), "labels = " + _toml(arms)),
        (r'pairs = \[\n(    \[.*\],\n)+\]',
         "pairs = " + _toml([[focus, arm] for arm in arms if arm != focus])),
        ('focus_arm = "combination"', f'focus_arm = "{focus}"'),
        ('att_arm = "combination"', f'att_arm = "{focus}"'),
        ("noninferiority_pairs = .*", "noninferiority_pairs = " + _toml([noninferiority])),
        ('reference_arm = "rhTPO"', f'reference_arm = "{reference}"'),
        (r'sensitivity = \["ato"\]', "sensitivity = []"),
        (r"variants = \[[^\]]*\]", "variants = []"),
        (r"prior_sets = \[[^\]]*\]", "prior_sets = []"),
        ("n_bootstrap = 200", "n_bootstrap = 10"),
    ]  # fmt: skip
    for pattern, new in replacements:
        text, count = re.subn(pattern, lambda _, new=new: new, text, flags=re.MULTILINE)
        assert count >= 1, pattern
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return load_plan(path).with_sampler(draws=150, tune=150)


def _toml(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return "[" + ", ".join(_toml(v) for v in value) + "]"


def _relabelled(n: int, seed: int, labels: dict, split: tuple[str, str, str] | None = None):
    """A simulated cohort with its arms renamed (written with odd case and spacing, as exports
    are), one arm optionally split in two by alternate patients."""
    frame = simulate_cohort(n, seed=seed, scenario="paper-like").data
    frame = frame[frame["arm"].isin(list(labels) + ([split[0]] if split else []))].copy()
    arm = frame["arm"].astype(str).map(lambda a: labels.get(a, a))
    if split:
        rows = np.flatnonzero(arm.to_numpy() == split[0])
        arm.iloc[rows[::2]], arm.iloc[rows[1::2]] = split[1], split[2]
    frame["arm"] = [f" {a.upper()} " if i % 3 == 0 else a for i, a in enumerate(arm)]
    return frame.reset_index(drop=True)


def _run(plan, frame, tmp_path):
    cohort = validate_cohort(frame, **plan.cohort_columns())
    assert cohort.arms == plan.arms
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 150 draws: gates not the point
        analysis = run_patient_analysis(cohort, plan, seed=5)
    out = tmp_path / "out"
    write_fit_outputs(analysis, out)
    write_report(out, analysis, pdf=False)
    return analysis.results, (out / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "arms, relabel, split, focus, reference, without",
    [
        pytest.param(
            ("romiplostim", "eltrombopag", "avatrombopag"),
            {"rhTPO": "romiplostim", "hetrombopag": "eltrombopag", "combination": "avatrombopag"},
            None, "avatrombopag", "romiplostim", ("bmi", "targeted_therapy"),
            id="3 arms, a file without the covariates the plan leaves out",
        ),
        pytest.param(
            ("rhTPO", "eltrombopag", "avatrombopag", "romiplostim", "rhIL-11"),
            {"hetrombopag": "eltrombopag", "rhTPO": "rhTPO", "rhIL-11": "rhIL-11"},
            ("combination", "avatrombopag", "romiplostim"), "romiplostim", "rhTPO", (),
            id="5 arms",
        ),
    ],
)  # fmt: skip
def test_a_cohort_with_the_users_arms_runs_end_to_end(
    tmp_path, arms, relabel, split, focus, reference, without
):
    others = [arm for arm in arms if arm != focus]
    plan = _plan(tmp_path, arms, focus=focus, reference=reference,
                 noninferiority=(others[1], others[0]), without=without)  # fmt: skip
    frame = _relabelled(220, 8, relabel, split).drop(columns=list(without))
    if without:  # the schema's default asks for every covariate; the plan's reader does not
        with pytest.raises(CohortError, match="missing required column"):
            validate_cohort(frame, arms=plan.arms)
    results, page = _run(plan, frame, tmp_path)
    assert results["meta"]["data"]["arms"] == list(arms)
    assert not set(without) & set(results["meta"]["data"]["design_columns"])
    patients = results["meta"]["data"]["patients"]
    assert sum(patients.values()) == len(frame) and list(patients) == list(arms)
    adjusted = results["response"]["adjusted"]
    assert list(adjusted["rate"]) == list(arms)
    assert {f"{focus}>{arm}" for arm in others} <= set(adjusted["prob_superior"])
    assert {arm for key in adjusted["prob_superior"] for arm in re.split("[<>]", key)} == set(arms)
    assert f"{others[1]} vs {others[0]} @ 0.10" in adjusted["prob_noninferior"]
    # the unadjusted posterior rates follow each arm's observed share (SE about 0.08 at the
    # smallest arm's 30 patients with a flat prior; 0.1 is over 1 SE, measured < 0.05)
    unadjusted = results["response"]["unadjusted"]["rate"]
    cohort = validate_cohort(frame, **plan.cohort_columns())
    for arm in arms:
        share = cohort.data.loc[cohort.data["arm"] == arm, "response"].mean()
        assert abs(unadjusted[arm]["mean"] - share) < 0.1, (arm, share)
    # the report's title, subtitle and questions are the plan's and the cohort's
    assert ", ".join(arms[:-1]) + " and " + arms[-1] in page
    assert "analysis plan&#x27;s questions" in page or "analysis plan's questions" in page
    assert "etrombopag, rhTPO, their combination" not in page
    assert f"{focus} has a higher response rate than {others[0]}" in page


def test_arms_that_differ_from_the_plan_stop_the_run_before_any_fit(tmp_path):
    arms = ("romiplostim", "eltrombopag", "avatrombopag")
    plan = _plan(tmp_path, arms, focus="avatrombopag", reference="romiplostim",
                 noninferiority=("eltrombopag", "romiplostim"))  # fmt: skip
    relabel = {"rhTPO": "romiplostim", "hetrombopag": "eltrombopag", "combination": "avatrombopag"}
    four = _relabelled(120, 2, relabel | {"rhIL-11": "rhIL-11"})
    with pytest.raises(CohortError) as error:  # an arm the plan does not name: cell errors
        validate_cohort(four, **plan.cohort_columns())
    assert {p.column for p in error.value.problems} == {"arm"}
    assert all("romiplostim" in p.expected for p in error.value.problems)
    label = four["arm"].str.strip().str.lower()
    cohort = validate_cohort(four[~label.isin(["eltrombopag", "rhil-11"])], arms=arms)
    with pytest.raises(PlanError, match=r"arm\(s\) \['eltrombopag'\] have no patient"):
        weight_cohort(cohort, plan)
    with pytest.raises(PlanError, match="does not name"):  # read without the plan's arms
        weight_cohort(validate_cohort(simulate_cohort(60, seed=1).data), plan)
    bad = (
        (tmp_path / "plan.toml")
        .read_text(encoding="utf-8")
        .replace('focus_arm = "avatrombopag"', 'focus_arm = "combination"')
    )
    (tmp_path / "bad.toml").write_text(bad, encoding="utf-8")
    with pytest.raises(PlanError, match=r"contrasts\.focus_arm: arm\(s\) \['combination'\]"):
        load_plan(tmp_path / "bad.toml")


@pytest.mark.parametrize("label", ["drug>placebo", "A/B", "eltrombopag vs rhTPO", "x @ 1"])
def test_arm_labels_may_not_hold_the_text_of_comparisons(label):
    from cit_bayes.cohort.plan_columns import check_arm_labels

    with pytest.raises(CohortError, match="may not contain"):
        check_arm_labels([label, "rhTPO"])
    assert check_arm_labels(["rhIL-11", "hetrombopag + rhTPO"]) == (
        "rhIL-11",
        "hetrombopag + rhTPO",
    )
