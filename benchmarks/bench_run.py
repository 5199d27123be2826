"""``cit-bayes run`` on the bundled cohort, cold then warm: wall time and the time of each step.

Cold: empty PyTensor compile directory and numba cache (``_common.cold_env``); warm: the same
caches, filled by the cold run. Each run is a fresh process; the warm one loads every model's
compiled sampler functions from the on-disk cache (:mod:`cit_bayes.bayes.compiled`), so what it
still spends compiling is printed as the fits' compile seconds. Goals of issue 17 (2 cores):
warm <= 30 s, cold <= 90 s. Prints one table; the reports are written to a
temporary folder and removed.
"""

from __future__ import annotations

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
result = run_pipeline(out_dir={out!r})
fits = json.loads((Path({out!r}) / "run.json").read_text())["fits"].values()
print(json.dumps({{"steps": result.step_seconds, "passed": result.passed,
                  "failed": list(result.failed_fits),
                  "compile": sum(f["compile_seconds"] or 0.0 for f in fits),
                  "sampling": sum(f["sampling_seconds"] or 0.0 for f in fits),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "in_process_seconds": time.perf_counter() - start}}))
"""


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="bench-run-"))
    env = cold_env(root / "cache")
    rows = []
    try:
        for label in ("cold", "warm"):
            out = root / f"report-{label}"
            rows.append((label, run_python(CODE.format(out=str(out)), env)))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    steps = list(rows[0][1]["steps"])
    print(f"cit-bayes run on the bundled cohort ({os.cpu_count()} cores)")
    extra = ("compile", "sampling", "peak_mb")
    header = f"{'run':<6}{'process s':>11}" + "".join(f"{s:>11}" for s in (*steps, *extra))
    print(header + "  gates")
    for label, result in rows:
        cells = "".join(f"{result['steps'].get(s, float('nan')):>11.1f}" for s in steps)
        cells += "".join(f"{result[s]:>11.1f}" for s in extra)
        verdict = "passed" if result["passed"] else f"FAILED {result['failed']}"
        print(f"{label:<6}{result['process_seconds']:>11.1f}{cells}  {verdict}")
    print("(compile, sampling: seconds summed over the fits of the main process; the published")
    print(" reanalysis runs alongside in a second process; peak_mb: the main process)")
    for (label, result), goal in zip(rows, (90.0, 30.0), strict=True):
        print(f"{label} / goal ({goal:.0f} s): {result['process_seconds'] / goal:.2f}")
    print(json.dumps({label: result for label, result in rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
