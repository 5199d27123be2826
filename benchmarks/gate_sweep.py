"""Do the fits pass their gates at other seeds and on other cohorts? (issue 13, item 3)

Runs ``cit-bayes run`` (each in its own process, as a user would) on

* the bundled cohort at the given master seeds (default: the plan's seed and 1..5), and
* ``cit-bayes simulate`` cohorts: every bundled scenario at each size (default n = 187 and
  2,000; simulation seed 1),

then prints one line per fit (largest R-hat, smallest bulk/tail ESS, divergences, sampling
time) read from each run's ``results.json``, and a summary. Exit status 1 when any fit of any
run missed a gate (or a run failed), 0 otherwise. It is a statistical check, not a timing: it
takes about 2 minutes per bundled run and 5 per n = 2,000 cohort on 2 cores. Usage::

    python benchmarks/gate_sweep.py                       # everything (about 35 minutes)
    python benchmarks/gate_sweep.py --seeds 1 2 --sizes   # two bundled seeds only
    python benchmarks/gate_sweep.py --seeds --sizes 2000 --scenarios null

Every report folder is written under a new temporary folder (``--keep`` prints where and
leaves it; by default it is removed at the end).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = tuple(sorted(p.stem for p in (ROOT / "models" / "scenarios").glob("*.toml")))
CLI = [str(Path(sys.executable).parent / "cit-bayes")]


def _run(label: str, arguments: list[str], out: Path) -> tuple[int, list[dict], float]:
    start = time.perf_counter()
    log = out.with_suffix(".log")
    with log.open("w") as handle:
        result = subprocess.run(
            CLI + ["run", "--out", str(out)] + arguments,
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
        )
    seconds = time.perf_counter() - start
    rows = []
    for results, prefix in (
        (out / "results.json", ""),
        (out / "published" / "results.json", "published "),
    ):
        if results.exists():  # the published reanalysis runs on the bundled data only
            record = results.with_name("run.json")  # the timings are there, not in results
            fits = json.loads(record.read_text())["fits"] if record.exists() else {}
            for name, row in json.loads(results.read_text())["diagnostics"].items():
                seconds = fits.get(row.get("fit", name), {}).get("sampling_seconds")
                rows.append(row | {"fit": prefix + name, "sampling_seconds": seconds})
    if result.returncode not in (0, 1) or not rows:
        print(f"{label}: run failed (exit {result.returncode}); log {log}", flush=True)
        print(log.read_text()[-2000:], flush=True)
    return result.returncode, rows, seconds


def _print(label: str, rows: list[dict], seconds: float) -> int:
    missed = 0
    for row in rows:
        flag = "" if row["passed"] else "  <-- MISSED"
        missed += not row["passed"]
        print(
            f"{label:<28} {row['fit']:<52} R-hat {row['max_rhat']:.4f}  "
            f"ESS bulk {row['min_ess_bulk']:7.0f} tail {row['min_ess_tail']:7.0f}  "
            f"div {row['divergences']:2d}  ta {row.get('target_accept', float('nan')):.2f}  "
            f"{row.get('sampling_seconds') or float('nan'):5.1f} s{flag}",
            flush=True,
        )
    print(f"{label:<28} {len(rows)} fits, {missed} missed a gate, run {seconds:.0f} s", flush=True)
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        default=None,
        help="master seeds of the bundled runs (default: plan's and 1..5)",
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[187, 2000])
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--keep", action="store_true", help="keep the report folders")
    args = parser.parse_args(argv)  # fmt: skip
    seeds = [None, 1, 2, 3, 4, 5] if args.seeds is None else args.seeds
    work = Path(tempfile.mkdtemp(prefix="cit-bayes-gates-"))
    failures = 0
    fits = 0
    try:
        for seed in seeds:
            label = f"bundled seed {'plan' if seed is None else seed}"
            extra = [] if seed is None else ["--seed", str(seed)]
            code, rows, seconds = _run(label, extra, work / f"bundled-{seed}")
            fits += len(rows)
            failures += _print(label, rows, seconds) + (code not in (0, 1) or not rows)
        for size in args.sizes:
            for scenario in args.scenarios:
                label = f"{scenario} n={size}"
                cohort = work / f"{scenario}-{size}.csv"
                subprocess.run(
                    CLI
                    + ["simulate", "--n", str(size), "--seed", "1", "--scenario", scenario]
                    + ["--out", str(cohort)],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                code, rows, seconds = _run(
                    label, ["--data", str(cohort)], work / f"{scenario}-{size}"
                )
                fits += len(rows)
                failures += _print(label, rows, seconds) + (code not in (0, 1) or not rows)
    finally:
        if args.keep:
            print(f"report folders kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{fits} fits; {failures} missed a gate or failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
