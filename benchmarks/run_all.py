"""Run every benchmark script (``benchmarks/bench_*.py``) and print its table.

Each script runs in its own process and prints its own ratios and times. Cold timings use a
fresh, empty PyTensor compile directory and numba cache (see ``_common.cold_env``); warm timings
reuse the caches the cold run filled. ``bench_peers`` also runs Bambi + nutpie from
``.venv-peers`` (``make bench`` builds it from ``benchmarks/requirements-peers.lock``) and brms
where R has it; a missing peer is skipped with a line saying why. Usage::

    python benchmarks/run_all.py            # every benchmark
    python benchmarks/run_all.py response   # those whose name contains "response"
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(word in s.stem for word in argv)]
    if not scripts:
        print("no benchmark matched", file=sys.stderr)
        return 2
    failures = 0
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], check=False)
        print(f"--- {script.stem}: exit {result.returncode}, {time.perf_counter() - start:.1f} s")
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
