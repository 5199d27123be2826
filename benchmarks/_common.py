"""Helpers shared by the benchmark scripts: cold/warm environments and timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["cold_env", "run_python", "timed"]


def cold_env(cache_root: str | Path | None = None) -> dict[str, str]:
    """Return an environment whose PyTensor and numba caches start empty.

    Pass the same ``cache_root`` again to get the matching *warm* environment.
    """
    root = Path(cache_root) if cache_root is not None else Path(tempfile.mkdtemp(prefix="cold-"))
    env = dict(os.environ)
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f and "compiledir" not in f]
    flags.append(f"base_compiledir={root / 'pytensor'}")
    env["PYTENSOR_FLAGS"] = ",".join(flags)
    env["NUMBA_CACHE_DIR"] = str(root / "numba")
    env["CIT_BAYES_BENCH_CACHE"] = str(root)
    return env


def run_python(code: str, env: dict[str, str]) -> dict:
    """Run ``code`` in a fresh interpreter; it must print one JSON object as its last line."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall
    return result


class timed:
    """Context manager measuring wall-clock seconds into ``.seconds``."""

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False
