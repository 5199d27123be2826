"""Benchmark of ``cit-bayes reanalyse --published``: the whole command, cold and warm, and per endpoint.

1. The whole command (``cit-bayes reanalyse --published``) in a fresh process, first
   with empty PyTensor/numba caches (cold), then again with the caches it filled (warm). The goal
   (issue 3) is under 2 minutes warm on 2 cores.
2. Inside one process: the time of each sampler run of the reanalysis (compile and sampling) and
   of the contrasts and the files.
3. Per endpoint: each endpoint fitted alone under each prior set (one model per endpoint and
   prior structure), cold and warm - what the joint per-prior-set model saves.

Usage: ``python benchmarks/bench_reanalysis.py [--sampler nutpie|pymc]``. Timings on a shared
machine are indicative.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import cold_env, run_python  # noqa: E402

RUN_IN_PROCESS = """
import json, time, tempfile, warnings
start = time.perf_counter()
from cit_bayes.analyses.published import run_published_reanalysis, write_published_reanalysis
imported = time.perf_counter()
warnings.simplefilter("ignore")
result = run_published_reanalysis(sampler={sampler!r})
fitted = time.perf_counter()
write_published_reanalysis(result, tempfile.mkdtemp(prefix="bench-published-"))
written = time.perf_counter()
fits = {{
    name: {{"compile_s": fit.compile_seconds, "sampling_s": fit.sampling_seconds,
            "min_ess_bulk": fit.diagnostics.min_ess_bulk, "passed": fit.passed}}
    for name, fit in result.fits.items()
}}
print(json.dumps({{"import_s": imported - start, "run_s": fitted - imported,
                  "write_s": written - fitted, "fits": fits, "passed": result.passed}}))
"""

PER_ENDPOINT = """
import json, time, warnings
warnings.simplefilter("ignore")
from cit_bayes.bayes import fit_aggregates, load_prior_sets, SamplerSettings
from cit_bayes.analyses.published import load_reanalysis_plan, published_inputs, _endpoint_data
plan = load_reanalysis_plan()
inputs = published_inputs(plan=plan)
data = _endpoint_data(inputs, plt_as_sd=False, recovered=inputs.responders)
sets = load_prior_sets(plan.prior_sets)
out = {{}}
for item in data:
    total = 0.0
    for name, prior_set in sets.items():
        hierarchical = prior_set[item.endpoint].family == "hierarchical"
        settings = plan.hierarchical_sampler if hierarchical else plan.sampler
        settings = settings.replace(sampler={sampler!r})
        start = time.perf_counter()
        fits = fit_aggregates([item], prior_set.blocks, arms=inputs.arms, seed=1, name=name,
                              settings=settings)
        total += time.perf_counter() - start
    out[item.endpoint] = total
print(json.dumps(out))
"""


def whole_command(env: dict, out: str, sampler: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cit_bayes.cli import main; sys.exit(main())",
            "reanalyse",
            "--published",
            "--out",
            out,
            "--sampler",
            sampler,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise RuntimeError(f"reanalyse failed:\n{done.stderr[-3000:]}")
    status = "all fits passed" if done.returncode == 0 else "SOME FIT FAILED"
    print(f"    ({status})")
    return seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sampler", default="nutpie", choices=("nutpie", "pymc"))
    args = parser.parse_args(argv)
    out = tempfile.mkdtemp(prefix="bench-reanalyse-")

    print(f"1. whole command, sampler {args.sampler} (wall seconds of the process)")
    root = tempfile.mkdtemp(prefix="cold-reanalysis-")
    cold = whole_command(cold_env(root), out, args.sampler)
    warm = whole_command(cold_env(root), out, args.sampler)
    print(f"   cold {cold:6.1f} s   warm {warm:6.1f} s   (goal: warm < 120 s)")

    print("\n2. inside one process, warm caches")
    detail = run_python(RUN_IN_PROCESS.format(sampler=args.sampler), cold_env(root))
    print(
        f"   import {detail['import_s']:.1f} s, fits and contrasts {detail['run_s']:.1f} s, "
        f"files {detail['write_s']:.1f} s, process {detail['process_seconds']:.1f} s"
    )
    print(f"   {'fit':38s} {'compile s':>9s} {'sample s':>9s} {'min ESS':>8s} passed")
    for name, fit in detail["fits"].items():
        compile_s = "-" if fit["compile_s"] is None else f"{fit['compile_s']:.1f}"
        print(
            f"   {name:38s} {compile_s:>9s} {fit['sampling_s']:9.1f} "
            f"{fit['min_ess_bulk']:8.0f} {fit['passed']}"
        )

    print("\n3. each endpoint fitted alone under the 5 prior sets (seconds, in-process)")
    root = tempfile.mkdtemp(prefix="cold-endpoints-")
    cold_endpoints = run_python(PER_ENDPOINT.format(sampler=args.sampler), cold_env(root))
    warm_endpoints = run_python(PER_ENDPOINT.format(sampler=args.sampler), cold_env(root))
    print(f"   {'endpoint':10s} {'cold':>7s} {'warm':>7s}")
    for endpoint in ("response", "plt", "recovery", "safety"):
        print(f"   {endpoint:10s} {cold_endpoints[endpoint]:7.1f} {warm_endpoints[endpoint]:7.1f}")
    print(
        f"   {'sum':10s} {sum(cold_endpoints[k] for k in cold_endpoints if k != 'process_seconds'):7.1f} "
        f"{sum(warm_endpoints[k] for k in warm_endpoints if k != 'process_seconds'):7.1f}"
    )
    return 0 if warm < 120 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
