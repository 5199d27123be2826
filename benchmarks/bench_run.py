"""``cit-bayes run`` cold and warm, and at 2,000 patients: wall time and the time of each step.

Cold: empty PyTensor compile directory and numba cache (``_common.cold_env``); warm: the same
caches, filled by the cold run. Each run is a fresh process; the warm one loads every model's
compiled sampler functions from the on-disk cache (:mod:`cit_bayes.bayes.compiled`), so what it
still spends compiling is printed as the fits' compile seconds. The last two rows run the
default plan on a simulated cohort of 2,000 patients (``paper-like`` scenario, seed 1; written
as ``cit-bayes simulate`` writes it, :func:`cit_bayes.simulate.write_simulated`) twice, with the
caches the bundled runs filled: the first (``n=2000``) still compiles the models whose geometry
the larger arms change (centred smooth parts and pooled levels,
:func:`cit_bayes.bayes.patient_blocks.arms_carry_weight`); the second (``n=2000 warm``) is the
warm run of the goal. ``--no-large`` leaves them out. Goals of issue 17 (2 cores): bundled warm
<= 30 s, cold <= 90 s; 2,000 patients warm < 90 s. Prints one table; the reports are written to
a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from _common import cold_env, run_python

CODE = """
import json, resource, time
from pathlib import Path
start = time.perf_counter()
from cit_bayes.pipeline import run_pipeline
result = run_pipeline(out_dir={out!r}, data={data!r})
fits = json.loads((Path({out!r}) / "run.json").read_text())["fits"].values()
print(json.dumps({{"steps": result.step_seconds, "passed": result.passed,
                  "failed": list(result.failed_fits),
                  "compile": sum(f["compile_seconds"] or 0.0 for f in fits),
                  "sampling": sum(f["sampling_seconds"] or 0.0 for f in fits),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "in_process_seconds": time.perf_counter() - start}}))
"""


SIMULATE = """
import json
from cit_bayes.simulate import simulate_cohort
from cit_bayes.simulate.engine import write_simulated
write_simulated(simulate_cohort({n}, seed=1, scenario="paper-like"), {path!r})
print(json.dumps({{}}))
"""

#: Goals of issue 17 (2 cores), seconds, per row (the first n = 2,000 run has none: it compiles).
GOALS = {"cold": 90.0, "warm": 30.0, "n=2000 warm": 90.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-large", action="store_true", help="leave out the n = 2,000 run")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-run-"))
    env = cold_env(root / "cache")
    rows = []
    try:
        for label in ("cold", "warm"):
            code = CODE.format(out=str(root / f"report-{label}"), data=None)
            rows.append((label, run_python(code, env)))
        if not args.no_large:
            cohort = root / "cohort-2000.csv"
            run_python(SIMULATE.format(n=2000, path=str(cohort)), env)
            for label in ("n=2000", "n=2000 warm"):
                out = root / f"report-{label.replace('=', '').replace(' ', '-')}"
                code = CODE.format(out=str(out), data=str(cohort))
                rows.append((label, run_python(code, env)))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    steps = list(rows[0][1]["steps"])
    what = "the bundled cohort" + ("" if args.no_large else ", then 2,000 simulated patients")
    print(f"cit-bayes run: {what} ({os.cpu_count()} cores)")
    extra = ("compile", "sampling", "peak_mb")
    header = f"{'run':<12}{'process s':>11}" + "".join(f"{s:>11}" for s in (*steps, *extra))
    print(header + "  gates")
    for label, result in rows:
        cells = "".join(f"{result['steps'].get(s, float('nan')):>11.1f}" for s in steps)
        cells += "".join(f"{result[s]:>11.1f}" for s in extra)
        verdict = "passed" if result["passed"] else f"FAILED {result['failed']}"
        print(f"{label:<12}{result['process_seconds']:>11.1f}{cells}  {verdict}")
    print("(compile, sampling: seconds summed over the fits of the main process; the published")
    print(" reanalysis runs alongside in a second process; peak_mb: the main process)")
    for label, result in rows:
        if label in GOALS:
            goal = GOALS[label]
            print(f"{label} / goal ({goal:.0f} s): {result['process_seconds'] / goal:.2f}")
    print(json.dumps({label: result for label, result in rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
