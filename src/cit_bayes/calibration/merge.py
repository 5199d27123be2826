"""One calibration folder from several of the same design that fitted different models.

A calibration's cost grows with its models: on 2 cores the response model's coverage at 200
replicates per scenario takes about an hour, the PLT and recovery models' many. They are run as
separate ``cit-bayes calibrate`` calls (``--endpoints``), and this module puts their summaries in
one folder that the report reads as one calibration. It only stacks what each measured; it
computes no coverage of its own, except the verdict sentences, which it recomputes over the
stacked table with the same function a calibration uses
(:func:`cit_bayes.calibration.summary.verdicts`).

Calibrations merge only when everything that decides a replicate's numbers is the same (plan
and its hash, sampler, primary estimand, scenarios with their hashes, cohort size, seed,
analyses, levels) and their models do not overlap; at most one may hold SBC. Each replicate is
a function of the seed, the scenario and its number only, so the merged calibrations simulated
the same cohorts. The merged ``summary.json`` lists its sources (``merged_from``: each one's
models, replicate counts and when it was written).

Why our own: a calibration's summary is our own format; ``simuk`` and ArviZ summarise SBC, not
coverage over a simulator's scenarios.
"""

from __future__ import annotations

import copy
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from cit_bayes.calibration.report_block import read_calibration_table
from cit_bayes.calibration.summary import verdicts
from cit_bayes.exceptions import PlanError

__all__ = ["merge_calibrations"]

#: What must agree between the calibrations merged (keys of the setup's fingerprint).
_SAME = ("plan", "sampler", "target_accept_by_model", "primary_estimand", "scenarios", "n",
         "seed", "analyses", "design_draws", "levels")  # fmt: skip


def _read(folder: Path) -> tuple[dict, pd.DataFrame]:
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        coverage = read_calibration_table(folder / "coverage.csv")
    except (OSError, ValueError) as error:
        raise PlanError(f"calibration {folder}: cannot read it ({error})") from None
    return summary, coverage


def _merged_counts(summaries: list[dict]) -> dict:
    """Replicates per group: a scenario counts as done as often as every source finished it."""
    counts: dict[str, dict] = {}
    for summary in summaries:
        for group, count in summary["replicates"].items():
            if group not in counts:
                counts[group] = copy.deepcopy(count)
                continue
            merged = counts[group]
            merged["asked"] = max(merged["asked"], count["asked"])
            merged["done"] = min(merged["done"], count["done"])
            merged["failed"] = max(merged["failed"], count["failed"])
            merged["not run"] = max(merged["not run"], count["not run"])
            merged["errors"] = {**merged.get("errors", {}), **count.get("errors", {})}
    return counts


def merge_calibrations(folders, out: str | Path) -> dict:
    """Write one calibration folder ``out`` from ``folders`` (same design, different models).

    Parameters
    ----------
    folders : sequence of path
        ``cit-bayes calibrate`` output folders (``summary.json``, ``coverage.csv``; ``sbc.csv``
        and ``figures/`` in at most one of them).
    out : path
        A new folder (it must not exist): ``summary.json``, ``coverage.csv`` and, from the
        calibration with SBC, ``sbc.csv`` and ``figures/``. The replicate records are not
        copied (they stay with their sources).

    Returns
    -------
    dict
        The merged summary.

    Raises
    ------
    PlanError
        Fewer than two folders, one that cannot be read, designs that differ (naming the
        first key that does), models that overlap, SBC in more than one, or ``out`` existing.

    Examples
    --------
    >>> from cit_bayes.calibration.merge import merge_calibrations
    >>> merge_calibrations(["data/calibration/default"], "unused")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: merge: give two or more calibration folders, got 1
    """
    folders = [Path(f) for f in folders]
    out = Path(out)
    if len(folders) < 2:
        raise PlanError(f"merge: give two or more calibration folders, got {len(folders)}")
    if out.exists():
        raise PlanError(f"merge: {out} exists; name a new folder")
    read = [_read(folder) for folder in folders]
    summaries = [summary for summary, _ in read]
    first = summaries[0]["setup"]
    for folder, summary in zip(folders[1:], summaries[1:], strict=True):
        for key in _SAME:
            if summary["setup"].get(key) != first.get(key):
                raise PlanError(
                    f"merge: {folder} differs from {folders[0]} in its setup's {key!r}: "
                    "only calibrations of the same design merge"
                )
    endpoints = [e for summary in summaries for e in summary["setup"]["endpoints"]]
    if len(set(endpoints)) != len(endpoints):
        raise PlanError(f"merge: the calibrations' models overlap ({endpoints})")
    with_sbc = [i for i, s in enumerate(summaries) if s["setup"].get("sbc_endpoints")]
    if len(with_sbc) > 1:
        raise PlanError("merge: more than one calibration holds SBC; keep it in one of them")
    coverage = pd.concat([table for _, table in read], ignore_index=True)
    levels = first["levels"]
    sbc_source = summaries[with_sbc[0]] if with_sbc else None
    merged = {
        "what": summaries[0]["what"],
        "run_on": summaries[0]["run_on"]
        | {"written": datetime.now(UTC).isoformat(timespec="seconds")},
        "setup": {
            **first,
            "endpoints": endpoints,
            "replicates": max(s["setup"]["replicates"] for s in summaries),
            "sbc_design": sbc_source["setup"]["sbc_design"] if sbc_source else None,
            "sbc_endpoints": sbc_source["setup"]["sbc_endpoints"] if sbc_source else [],
        },
        "replicates": _merged_counts(summaries),
        "seconds": {
            "replicate_total": round(sum(s["seconds"]["replicate_total"] for s in summaries), 1)
        },
        "verdicts": verdicts(coverage, 0.95) if 0.95 in levels else [],
        "sbc_verdicts": sbc_source["sbc_verdicts"] if sbc_source else [],
        "fits": [fit for s in summaries for fit in s["fits"]],
        "coverage": json.loads(coverage.to_json(orient="records")),
        "sbc": sbc_source["sbc"] if sbc_source else [],
        "synthetic": summaries[0]["synthetic"],
        "merged_from": [
            {
                "folder": folder.name,
                "endpoints": s["setup"]["endpoints"],
                "sbc_endpoints": s["setup"].get("sbc_endpoints") or [],
                "replicates": s["replicates"],
                "run_on": s["run_on"],
            }
            for folder, s in zip(folders, summaries, strict=True)
        ],  # fmt: skip
    }
    out.mkdir(parents=True)
    coverage.to_csv(out / "coverage.csv", index=False)
    if sbc_source is not None:
        source = folders[with_sbc[0]]
        shutil.copy2(source / "sbc.csv", out / "sbc.csv")
        if (source / "figures").is_dir():
            shutil.copytree(source / "figures", out / "figures")
    (out / "summary.json").write_text(json.dumps(merged, indent=1) + "\n", encoding="utf-8")
    return merged
