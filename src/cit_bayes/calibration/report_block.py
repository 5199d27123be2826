"""The calibration a report shows: which folder, and its ``calibration`` block of results.json.

``cit-bayes run`` shows the calibration shipped with the package (``data/calibration/default/``,
the default plan's) unless another ``cit-bayes calibrate`` folder is named (``--calibration``).
:func:`calibration_block` copies, without recomputing, what that folder says: what it was run on,
whether its plan and estimand are the run's, its verdicts, the 95 % coverage of the differences of
the plan's focus arm with their Monte Carlo SE, the lowest and highest coverage of each scenario
and analysis, and the SBC per model. Layout: ``docs/results-schema.md``.
"""

from __future__ import annotations

from pathlib import Path

from cit_bayes._paths import data_dir, project_root
from cit_bayes.exceptions import PlanError

__all__ = [
    "CALIBRATION_LEVEL",
    "SHIPPED_CALIBRATION",
    "calibration_block",
    "calibration_folder",
    "read_calibration_table",
]

#: The calibration of the default plan shipped with the package, relative to the data folder.
SHIPPED_CALIBRATION = Path("calibration") / "default"
#: The credible level whose coverage the ``calibration`` block of ``results.json`` carries.
CALIBRATION_LEVEL = 0.95


def calibration_folder(calibration: str | Path | bool | None = None) -> Path | None:
    """The calibration folder a run shows: the one named, else the shipped one, else none.

    ``None`` means the shipped calibration (``data/calibration/default/``) when it holds a
    ``summary.json``, and no calibration when it does not; ``False`` means none.

    Raises
    ------
    PlanError
        When a named folder holds no ``summary.json`` (it is not a ``cit-bayes calibrate``
        output).

    Examples
    --------
    >>> calibration_folder(False) is None
    True
    >>> calibration_folder("no/such/folder")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: --calibration no/such/folder: no summary.json there; name a folder written by `cit-bayes calibrate --out DIR`
    """
    if calibration is False:
        return None
    if calibration is None or calibration is True:
        shipped = data_dir() / SHIPPED_CALIBRATION
        return shipped if (shipped / "summary.json").is_file() else None
    folder = Path(calibration)
    if not (folder / "summary.json").is_file():
        raise PlanError(
            f"--calibration {calibration}: no summary.json there; name a folder written by "
            "`cit-bayes calibrate --out DIR`"
        )
    return folder


def calibration_block(folder: str | Path, plan) -> dict:
    """The ``calibration`` block of ``results.json`` from a ``cit-bayes calibrate`` folder.

    What the calibration was run on (``summary.json``: its plan, sampler, cohorts, replicates,
    machine), whether its plan is this run's, its verdicts, the 95 % coverage and Monte Carlo SE
    of the differences of the plan's focus arm against every other arm (``coverage.csv``) with
    the lowest and highest coverage of each scenario and analysis, and the SBC per model
    (``sbc.csv``). Layout: ``docs/results-schema.md``.

    Parameters
    ----------
    folder : path
        The calibration folder (``summary.json``, ``coverage.csv``, ``sbc.csv``, ``figures/``).
    plan : AnalysisPlan
        The plan of this run (its hash, primary estimand and focus pairs).

    Raises
    ------
    PlanError
        When a file of the folder cannot be read.

    Examples
    --------
    >>> from cit_bayes.plan import load_plan
    >>> calibration_block("no/such/folder", load_plan())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: calibration no/such/folder: cannot read it (FileNotFoundError: ...)
    """
    import json

    folder = Path(folder)
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        setup, groups = summary["setup"], summary["replicates"]
        coverage = _coverage_block(read_calibration_table(folder / "coverage.csv"), plan)
        sbc = _sbc_block(read_calibration_table(folder / "sbc.csv"), folder)
        shipped = folder.resolve() == (data_dir() / SHIPPED_CALIBRATION).resolve()
        return {
            "source": "shipped" if shipped else "user",
            "path": _inside_project(folder),
            "what": summary["what"],
            "synthetic": summary["synthetic"],
            "run_on": {k: v for k, v in summary["run_on"].items() if v is not None},
            "plan": {"name": setup["plan"]["name"], "sha256": setup["plan"]["sha256"]},
            "same_plan": setup["plan"]["sha256"] == plan.sha256,
            "primary_estimand": setup["primary_estimand"],
            "same_estimand": setup["primary_estimand"] == plan.primary_estimand,
            "sampler": {k: setup["sampler"][k] for k in ("sampler", "chains", "draws", "tune")},
            **{k: setup[k] for k in ("n", "seed", "analyses", "endpoints")},
            "scenarios": [s["name"] for s in setup["scenarios"]],
            "replicates_per_scenario": setup["replicates"],
            "sbc_replicates": max(
                (c["asked"] for g, c in groups.items() if g.startswith("sbc-")), default=0
            ),
            "replicates": {
                g: {k: c[k] for k in ("asked", "done", "failed", "not run")}
                for g, c in groups.items()
            },
            "verdicts": list(summary["verdicts"]),
            "sbc_verdicts": list(summary["sbc_verdicts"]),
            "coverage": coverage,
            "sbc": sbc,
        }
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PlanError(
            f"calibration {folder}: cannot read it ({type(error).__name__}: {error})"
        ) from error


def read_calibration_table(path: Path):
    """A calibration's CSV (empty when absent); ``null`` is a scenario's name, not a NaN.

    Examples
    --------
    >>> from cit_bayes._paths import data_dir
    >>> table = read_calibration_table(data_dir() / "calibration/default/coverage.csv")
    >>> sorted(set(table["scenario"]))
    ['null', 'paper-like', 'strong-confounding']
    """
    import pandas as pd

    if not path.is_file():
        return pd.DataFrame()
    table = pd.read_csv(path, keep_default_na=False, na_values=[""], float_precision="round_trip")
    return table.fillna({"day": ""}) if "day" in table else table


def _inside_project(folder: Path) -> str:
    """The folder relative to the project when inside it, else absolute (POSIX)."""
    resolved = folder.resolve()
    try:
        return resolved.relative_to(project_root()).as_posix()
    except ValueError:
        return resolved.as_posix()


def _quantity(row) -> str:
    """``"plt day7: combination - rhTPO"``: a coverage row's endpoint, day and label."""
    return f"{row['endpoint']}{' ' + row['day'] if row['day'] else ''}: {row['label']}"


def _coverage_block(table, plan) -> dict:
    """Per scenario and analysis: the focus pairs' coverage, the lowest and the highest."""
    from cit_bayes.calibration.summary import (
        COVERAGE_GOAL,
        VERDICT_REPLICATES,
        coverage_verdict,
    )

    level = CALIBRATION_LEVEL
    column, se = f"coverage {level:g}", f"mc_se {level:g}"
    pairs = [f"{a} - {b}" for a, b in getattr(plan.spec, "focus_pairs", [])]
    block = {
        "level": level,
        "goal": {"low": COVERAGE_GOAL[0], "high": COVERAGE_GOAL[1]},
        "verdict_replicates": VERDICT_REPLICATES,
        "pairs": pairs,
        "scenarios": {},
    }
    if table.empty or column not in table:
        return block
    for (scenario, analysis), group in table.groupby(["scenario", "analysis"], sort=False):
        focus: dict = {}
        chosen = group[(group["kind"] == "difference") & group["label"].isin(pairs)]
        for _, row in chosen.iterrows():
            key = f"{row['endpoint']}{' ' + row['day'] if row['day'] else ''}"
            focus.setdefault(key, {})[row["label"]] = {
                "coverage": row[column], "mc_se": row[se], "replicates": row["replicates"]
            }  # fmt: skip
        low, high = group.loc[group[column].idxmin()], group.loc[group[column].idxmax()]
        block["scenarios"].setdefault(str(scenario), {})[str(analysis)] = {
            "quantities": len(group),
            "replicates": int(group["replicates"].min()),
            "status": coverage_verdict(group, level)[0],
            "min": {"coverage": low[column], "quantity": _quantity(low)},
            "max": {"coverage": high[column], "quantity": _quantity(high)},
            "focus": focus,
        }
    return block


def _sbc_block(table, folder: Path) -> dict:
    if table.empty:
        return {}
    out = {}
    for model, group in table.groupby("model", sort=False):
        inside = group["inside_band"].astype(str) == "True"
        figure = Path("figures") / f"sbc_{model}.png"
        out[str(model)] = {
            "replicates": int(group["replicates"].min()),
            "quantities": len(group),
            "outside_band": int((~inside).sum()),
            "outside": [str(q) for q in group.loc[~inside, "quantity"]],
            "band_prob": float(group["band_prob"].iloc[0]),
            "fits_missing_a_gate": int(group["fits_missing_a_gate"].iloc[0]),
        } | ({"figure": figure.as_posix()} if (folder / figure).is_file() else {})
    return out
