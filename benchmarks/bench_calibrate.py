"""Calibration throughput (issue 18, item 5): replicates per minute of each model on 1 and 2
workers of a local Dask cluster, and the cost of the design-uncertainty analysis.

For each model (response, PLT trajectory, recovery) and each cluster size, ``cit-bayes
calibrate``'s engine runs R paper-like replicates of n = 187 (the fixed-weight analysis, the
default plan's sampler) twice: cold (each worker's compile directory empty: the first
replicate of each worker compiles) and warm (the same directories again, a new folder).
Printed: wall seconds of each (the local cluster's start included), replicates per minute over
the warm run's wall time, and the steady rate (replicates per minute between each worker's
first record and the last), and the 2-worker / 1-worker ratio of the steady rates (the
scale-out; on a 2-core machine each worker's four chains share the cores, so it is at most 2). Then, in one process and warm, the seconds of one replicate under
the fixed-weight and the design-uncertainty analysis (B design draws) and their ratio. Usage::

    python benchmarks/bench_calibrate.py                  # R = 8, every model
    python benchmarks/bench_calibrate.py --replicates 8 --endpoints response

Exit status 0; the numbers are the result.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from cit_bayes.calibration.engine import run_calibration
from cit_bayes.calibration.setup import CalibrationSetup
from cit_bayes.plan import load_plan


def _timed_run(setup, out, workers, compile_root) -> tuple[float, float]:
    """Wall seconds of the whole run (cluster start included) and the steady rate: replicates
    per minute between each worker's first record and the last record."""
    start = time.perf_counter()
    arrivals: list[float] = []
    run = run_calibration(
        setup, out, workers=workers, compile_root=str(compile_root),
        progress=lambda done, failed, total: arrivals.append(time.perf_counter()),
    )  # fmt: skip
    seconds = time.perf_counter() - start
    counts = next(iter(run.summary["replicates"].values()))
    if counts["done"] != setup.replicates:
        raise RuntimeError(f"replicates not done: {counts}")
    steady = (len(arrivals) - workers) / (arrivals[-1] - arrivals[workers - 1]) * 60
    return seconds, steady


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=8)
    parser.add_argument("--endpoints", nargs="+", default=["response", "plt", "recovery"])
    parser.add_argument("--design-draws", type=int, default=None)
    args = parser.parse_args(argv)
    plan = load_plan()
    root = Path(tempfile.mkdtemp(prefix="bench-calibrate-"))
    print(f"replicates per run R = {args.replicates}, n = 187, paper-like, fixed weights")
    print(f"{'model':10s} {'workers':>7s} {'cold s':>8s} {'warm s':>8s} {'rep/min':>8s} "
          f"{'steady':>8s}")  # fmt: skip
    for endpoint in args.endpoints:
        rates = {}
        for workers in (1, 2):
            compile_root = root / f"compile-{endpoint}-{workers}"
            seconds, steady = [], 0.0
            for phase, seed in (("cold", 1), ("warm", 2)):
                setup = CalibrationSetup(
                    plan, scenarios=("paper-like",), replicates=args.replicates, seed=seed,
                    endpoints=(endpoint,), analyses=("fixed weights",),
                )  # fmt: skip
                out = root / f"{endpoint}-{workers}-{phase}"
                wall, steady = _timed_run(setup, out, workers, compile_root)
                seconds.append(wall)
            rates[workers] = steady
            print(f"{endpoint:10s} {workers:7d} {seconds[0]:8.1f} {seconds[1]:8.1f} "
                  f"{args.replicates / seconds[1] * 60:8.2f} {steady:8.2f}", flush=True)  # fmt: skip
        print(f"{endpoint:10s} scale-out (2 workers / 1, warm, steady): {rates[2] / rates[1]:.2f}x")
    design_draws = args.design_draws or plan.design_draws
    print(f"\ndesign uncertainty (B = {design_draws}) against fixed weights, one replicate, "
          "in this process, warm (a first replicate compiled)")  # fmt: skip
    for endpoint in args.endpoints:
        seconds = {}
        for analysis in ("fixed weights", "design uncertainty"):
            for seed, phase in ((3, "warm-up"), (4, "timed")):
                setup = CalibrationSetup(
                    plan, scenarios=("paper-like",), replicates=1, seed=seed,
                    endpoints=(endpoint,), analyses=(analysis,), design_draws=design_draws,
                )  # fmt: skip
                out = root / f"design-{endpoint}-{analysis}-{phase}".replace(" ", "_")
                start = time.perf_counter()
                run_calibration(setup, out, workers=0)
                seconds[analysis] = time.perf_counter() - start
        ratio = seconds["design uncertainty"] / seconds["fixed weights"]
        print(f"{endpoint:10s} fixed {seconds['fixed weights']:7.1f} s, design "
              f"{seconds['design uncertainty']:7.1f} s: {ratio:.1f}x", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
