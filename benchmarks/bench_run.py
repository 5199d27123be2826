"""``cit-bayes run`` on the bundled cohort, cold then warm: wall time and the time of each step.

Cold: empty PyTensor compile directory and numba cache (``_common.cold_env``); warm: the same
caches, filled by the cold run. Each run is a fresh process (nutpie's compiled models do not
survive a process, so even a warm run compiles them: that is the floor of a warm run). The goal
of issue 8 is under 3 minutes warm on 2 cores. Prints one table; the reports are written to a
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
import json, time
start = time.perf_counter()
from cit_bayes.pipeline import run_pipeline
result = run_pipeline(out_dir={out!r})
print(json.dumps({{"steps": result.step_seconds, "passed": result.passed,
                  "failed": list(result.failed_fits),
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
    header = f"{'run':<6}{'process s':>11}" + "".join(f"{s:>11}" for s in steps) + "  gates"
    print(header)
    for label, result in rows:
        cells = "".join(f"{result['steps'].get(s, float('nan')):>11.1f}" for s in steps)
        verdict = "passed" if result["passed"] else f"FAILED {result['failed']}"
        print(f"{label:<6}{result['process_seconds']:>11.1f}{cells}  {verdict}")
    warm = rows[1][1]["process_seconds"]
    print(f"warm / goal (180 s): {warm / 180:.2f}")
    print(json.dumps({label: result for label, result in rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
