"""``cit-bayes calibrate``: truths, replicates, coverage, resume, and Dask workers.

The replicates here are real (simulated cohorts of 120 patients, models fitted with short
chains); they check the machinery and its bookkeeping, not the coverage itself, which needs
hundreds of replicates (``make slow``; the measured figures are in
``docs/calibration.md``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cit_bayes.calibration.engine import run_calibration
from cit_bayes.calibration.replicate import replicate_seed
from cit_bayes.calibration.setup import CalibrationSetup
from cit_bayes.calibration.store import CalibrationStore
from cit_bayes.calibration.summary import coverage_table
from cit_bayes.calibration.truth import estimand_truth
from cit_bayes.exceptions import PlanError
from cit_bayes.simulate import simulate_cohort
from conftest import SHORT_DRAWS, SMALL_COHORT_N

SCENARIO = "paper-like"


@pytest.fixture(scope="module")
def setup(short_plan) -> CalibrationSetup:
    """Response only, unadjusted and fixed weights, 3 replicates of 120 patients."""
    return CalibrationSetup(
        short_plan,
        scenarios=(SCENARIO,),
        n=SMALL_COHORT_N,
        replicates=3,
        seed=5,
        endpoints=("response",),
        analyses=("unadjusted", "fixed weights"),
    )


@pytest.fixture(scope="module")
def in_process(setup, tmp_path_factory):
    """The setup's first two replicates run in this process."""
    out = tmp_path_factory.mktemp("calibration") / "cal"
    two = CalibrationSetup(**{**_fields(setup), "replicates": 2})
    return out, run_calibration(two, out, workers=0)


def _fields(setup) -> dict:
    return {
        name: getattr(setup, name)
        for name in ("plan", "scenarios", "n", "replicates", "seed", "endpoints", "analyses")
    }


def test_truth_of_each_estimand_is_the_weighted_mean_of_the_potential_outcomes():
    sim = simulate_cohort(150, seed=3, scenario=SCENARIO)
    po = sim.potential_outcomes.set_index(["patient_id", "arm"])
    ids = sim.data["patient_id"].to_numpy()
    e = sim.propensity.loc[ids].to_numpy()
    weights = {
        "ate": np.ones(len(ids)),
        "ato": 1 / (1 / e).sum(axis=1),
        "att": (sim.data["arm"] == "combination").to_numpy(float),
    }
    for estimand, w in weights.items():
        truth = estimand_truth(sim, estimand, att_arm="combination", days=("day7", "day14"))
        for arm in sim.propensity.columns:
            rows = po.xs(arm, level="arm").loc[ids]
            response = np.sum(w * rows["response"].to_numpy(float)) / w.sum()
            day7 = np.sum(w * rows["plt_day7"].to_numpy(float)) / w.sum()
            by14 = ((rows["recovered"] == 1) & (rows["time_to_recovery"] <= 14)).to_numpy(float)
            assert truth["response"][arm] == pytest.approx(response, abs=1e-12)
            assert truth["plt"]["day7"][arm] == pytest.approx(day7, abs=1e-9)
            assert truth["recovery"][arm] == pytest.approx(np.sum(w * by14) / w.sum(), abs=1e-12)
    # the overlap population differs from the cohort's (a check that the weights mattered)
    ate, ato = estimand_truth(sim, "ate"), estimand_truth(sim, "ato")
    assert ate["response"] != ato["response"]


def test_replicate_compares_each_interval_with_the_truth_of_its_estimand(in_process, setup):
    out, run = in_process
    record = json.loads((out / "replicates" / SCENARIO / "00000.json").read_text())
    assert record["status"] == "done"
    assert record["seed"] == replicate_seed(5, SCENARIO, 0)
    sim = simulate_cohort(SMALL_COHORT_N, seed=record["seed"], scenario=SCENARIO)
    truth = estimand_truth(sim, "ate")
    assert record["truth"]["response"] == pytest.approx(truth["response"], abs=1e-12)
    rows = pd.DataFrame(record["quantities"])
    # 4 arms and the plan's 6 pairs, for each of the 2 analyses
    assert len(rows) == 2 * (4 + 6)
    assert set(rows["analysis"]) == {"unadjusted", "fixed weights"}
    for _, row in rows.iterrows():
        assert row["lower 0.95"] <= row["lower 0.8"] <= row["lower 0.5"] <= row["mean"] + 1e-9
        assert row["upper 0.5"] <= row["upper 0.8"] <= row["upper 0.95"]
        for level in (0.5, 0.8, 0.95):
            inside = row[f"lower {level:g}"] <= row["truth"] <= row[f"upper {level:g}"]
            assert row[f"covered {level:g}"] == inside
    difference = rows[(rows["kind"] == "difference") & (rows["label"] == "combination - rhTPO")]
    arm = rows[rows["kind"] == "arm"].set_index(["analysis", "label"])
    for _, row in difference.iterrows():
        expected = arm.loc[(row["analysis"], "combination"), "mean"]
        expected -= arm.loc[(row["analysis"], "rhTPO"), "mean"]
        assert row["mean"] == pytest.approx(expected, abs=1e-9)
        assert row["truth"] == pytest.approx(truth["response"]["combination"]
                                             - truth["response"]["rhTPO"], abs=1e-12)  # fmt: skip
        assert 0.0 <= row["p_greater"] <= 1.0
    assert sum(record["n_by_arm"].values()) == SMALL_COHORT_N
    assert set(record["kish_ess"]) == set(record["arms"])
    assert [f["endpoint"] for f in record["fits"]] == ["response", "response"]


def test_summary_counts_and_coverage_follow_from_the_records(in_process, setup):
    out, run = in_process
    assert run.computed == 2
    assert run.summary["replicates"][SCENARIO] == {
        "asked": 2, "done": 2, "failed": 0, "not run": 0, "errors": {}
    }  # fmt: skip
    records = [json.loads(p.read_text()) for p in sorted((out / "replicates").rglob("*.json"))]
    rows = pd.DataFrame([q for r in records for q in r["quantities"]])
    one = rows[(rows["analysis"] == "fixed weights") & (rows["label"] == "combination - rhTPO")]
    table = pd.read_csv(out / "coverage.csv")
    mine = table[(table["analysis"] == "fixed weights") & (table["label"] == "combination - rhTPO")]
    assert mine["replicates"].item() == 2
    assert mine["coverage 0.95"].item() == pytest.approx(one["covered 0.95"].mean())
    assert mine["bias"].item() == pytest.approx((one["mean"] - one["truth"]).mean(), abs=1e-12)
    assert table.equals(coverage_table(records, (0.5, 0.8, 0.95)).pipe(_as_read, out))
    fits = pd.DataFrame(run.summary["fits"])
    assert fits["fits"].sum() == 4
    assert "Fewer than 100 replicates: no verdict." in run.summary["verdicts"][0]


def _as_read(frame: pd.DataFrame, out: Path) -> pd.DataFrame:
    path = out / "check.csv.tmp"
    frame.to_csv(path, index=False)
    try:
        return pd.read_csv(path)
    finally:
        path.unlink()


def test_calibrations_of_one_design_and_different_models_merge_into_one(
    in_process, short_plan, tmp_path
):
    """Two calibrations of the same design (here the response one and a copy relabelled as the
    PLT model's, with fewer replicates done) stack into one folder the report reads: every
    coverage row kept, the verdicts recomputed over the stacked table, a scenario done as often
    as every source finished it; a different design or overlapping models are refused."""
    import shutil

    from cit_bayes.calibration.merge import merge_calibrations
    from cit_bayes.calibration.report_block import calibration_block, read_calibration_table
    from cit_bayes.calibration.summary import verdicts

    out, run = in_process
    plt = tmp_path / "plt"
    plt.mkdir()
    table = read_calibration_table(out / "coverage.csv")
    table.assign(endpoint="plt", day="day14").to_csv(plt / "coverage.csv", index=False)
    summary = json.loads((out / "summary.json").read_text())
    summary["setup"]["endpoints"] = ["plt"]
    summary["replicates"][SCENARIO]["done"] = 1
    (plt / "summary.json").write_text(json.dumps(summary))
    merged = merge_calibrations([out, plt], tmp_path / "merged")
    assert merged["setup"]["endpoints"] == ["response", "plt"]
    stacked = read_calibration_table(tmp_path / "merged" / "coverage.csv")
    assert len(stacked) == 2 * len(table)
    assert stacked[stacked["endpoint"] == "response"].reset_index(drop=True).equals(table)
    assert merged["verdicts"] == verdicts(stacked)
    assert merged["replicates"][SCENARIO]["done"] == 1
    assert [m["endpoints"] for m in merged["merged_from"]] == [["response"], ["plt"]]
    block = calibration_block(tmp_path / "merged", short_plan)
    assert block["endpoints"] == ["response", "plt"] and block["same_plan"] is True

    with pytest.raises(PlanError, match="models overlap"):
        merge_calibrations([out, out], tmp_path / "twice")
    summary["setup"]["seed"] = 6
    (plt / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(PlanError, match="'seed'"):
        merge_calibrations([out, plt], tmp_path / "other")
    with pytest.raises(PlanError, match="exists"):
        merge_calibrations([out, plt], tmp_path / "merged")
    shutil.rmtree(plt)


def test_a_calibration_resumes_and_never_mixes_setups(in_process, setup):
    out, _ = in_process
    before = {p.name: p.read_bytes() for p in (out / "replicates" / SCENARIO).glob("*.json")}
    store = CalibrationStore.open(out, setup)
    assert store.pending(setup) == [(SCENARIO, 2)]
    other = CalibrationSetup(**{**_fields(setup), "seed": 6})
    with pytest.raises(PlanError, match="differs in: seed"):
        run_calibration(other, out, workers=0)
    with pytest.raises(PlanError, match="not a calibration folder"):
        run_calibration(setup, Path(__file__).parent, workers=0)
    for name, content in before.items():  # nothing re-run, nothing overwritten
        assert (out / "replicates" / SCENARIO / name).read_bytes() == content


def test_a_failed_replicate_is_counted_not_dropped(short_plan, tmp_path):
    import dataclasses

    plan = dataclasses.replace(short_plan, covariates=("albumin",))
    setup = CalibrationSetup(plan, scenarios=("null",), n=40, replicates=2,
                             endpoints=("response",), analyses=("unadjusted",))  # fmt: skip
    run = run_calibration(setup, tmp_path / "cal", workers=0)
    counts = run.summary["replicates"]["null"]
    assert (counts["done"], counts["failed"], counts["not run"]) == (0, 2, 0)
    assert list(counts["errors"].values()) == [2]
    assert run.coverage.empty


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_calibrate_on_a_hand_started_dask_cluster_resumes_and_matches_this_process(
    in_process, setup, short_plan_file, tmp_path
):
    """``dask scheduler`` and ``dask worker`` started by hand; ``cit-bayes calibrate
    --scheduler`` interrupted after its first replicate, then run again to the end: the
    records equal those computed in this process (same seeds, other process, cold caches)."""
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    compile_root = tmp_path / "compile"
    env = os.environ | {"PYTENSOR_FLAGS": f"base_compiledir={compile_root}"}
    logs = tmp_path / "logs"
    logs.mkdir()
    with open(logs / "scheduler.log", "w") as log:
        scheduler = subprocess.Popen(
            [bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    with open(logs / "worker.log", "w") as log:
        worker = subprocess.Popen(
            [bin_dir / "dask", "worker", address, "--nthreads", "1", "--name", "w0",
             "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=log, env=env,
        )  # fmt: skip
    out = tmp_path / "cal"
    command = [
        bin_dir / "cit-bayes", "calibrate", "--plan", str(short_plan_file),
        "--draws", str(SHORT_DRAWS), "--tune", str(SHORT_DRAWS), "--seed", "5",
        "--scenarios", SCENARIO, "--n", str(SMALL_COHORT_N), "--replicates", "3",
        "--endpoints", "response", "--analyses", "unadjusted", "fixed weights", "--sbc", "0",
        "--scheduler", address, "--out", str(out),
    ]  # fmt: skip
    try:
        first = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        records = out / "replicates" / SCENARIO
        _wait(lambda: records.is_dir() and any(records.glob("*.json")), 300, "a record")
        first.send_signal(signal.SIGINT)
        output = first.communicate(timeout=120)[0]
        assert first.returncode in (0, 130), output  # 0 when the last two finished meanwhile
        kept = {p.name: p.read_bytes() for p in records.glob("*.json")}
        assert kept
        second = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"{SCENARIO}: 3 done, 0 failed, 0 not run" in second.stdout
        assert f"; {3 - len(kept)} run now)" in second.stdout
    finally:
        worker.send_signal(signal.SIGINT)
        scheduler.send_signal(signal.SIGINT)
        worker.wait(60)
        scheduler.wait(60)
    for name, content in kept.items():  # the interrupted run's records were kept as they were
        assert (records / name).read_bytes() == content
    assert (compile_root / "cit_bayes-worker-w0").is_dir()  # the worker's own compile directory
    here, _ = in_process
    for index in (0, 1):
        mine = json.loads((here / "replicates" / SCENARIO / f"{index:05d}.json").read_text())
        theirs = json.loads((records / f"{index:05d}.json").read_text())
        assert theirs["quantities"] == mine["quantities"]
        assert theirs["fits"] == mine["fits"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replicates"][SCENARIO]["done"] == 3
