"""How the pooled key answers settle as the number of reconstructed cohorts M grows (issue 19).

Runs ``cit-bayes run --reconstructions M`` once (the pipeline, M cohorts with their open choices
drawn from ``models/reconstruction-uncertainty.toml``, the default plan's primary analyses only
unless ``--plan`` names another, the plan's sampler) and, because cohort k and its fits do not
depend on M (draw k's seeds are functions of the base seed and k), reads the answers for every
M' <= M from the first M' cohorts: pooled mean and P(focus > reference) of each key answer,
their Monte Carlo error over the reconstructions (SD of the cohorts' means / sqrt(M')), the
reconstruction's share of the pooled variance, and the seconds per cohort. Usage::

    python benchmarks/bench_reconstructions.py --m 20
    python benchmarks/bench_reconstructions.py --m 20 --plan models/default.toml

Prints the table; writes the run into a temporary folder (removed). Exit status 0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cit_bayes._paths import models_dir
from cit_bayes.pipeline import run_pipeline
from cit_bayes.plan import load_plan


def _primary_only(folder: Path) -> Path:
    """The default plan with its primary analyses only (no ATO, variants or prior sets)."""
    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    text = text.replace('sensitivity = ["ato"]', "sensitivity = []")
    text = re.sub(r"^variants = \[[^\]]*\]", "variants = []", text, flags=re.M)
    text = re.sub(r"^prior_sets = \[[^\]]*\]", "prior_sets = []", text, flags=re.M)
    path = folder / "primary.toml"
    path.write_text(text, encoding="utf-8")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=20, help="cohorts (default 20)")
    parser.add_argument("--plan", type=Path, help="analysis plan (default: primary analyses)")
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        plan = load_plan(args.plan or _primary_only(Path(tmp)))
        start = time.perf_counter()
        result = run_pipeline(
            plan=plan, out_dir=Path(tmp) / "run", reconstructions=args.m, calibration=False
        )
        seconds = time.perf_counter() - start
        results = json.loads((result.out_dir / "results.json").read_text(encoding="utf-8"))
    block = results["meta"]["data"]["reconstructions"]
    print(f"run with M = {args.m}: {seconds:.0f} s ({seconds / args.m:.1f} s a cohort, the "
          f"paper's audit and reanalysis included); all fits passed: {result.passed}; "
          f"failed draws replaced: {len(block['failed_draws'])}")  # fmt: skip
    sizes = [m for m in (1, 2, 3, 5, 10, 15, 20, 30, 40) if m <= args.m]
    rows = []
    print(f"\n{'answer':<22}{'M':>4}{'pooled mean':>13}{'MC SE':>9}{'P(sup)':>9}{'MC SE':>8}"
          f"{'share':>7}")  # fmt: skip
    for name, answer in block["key_answers"].items():
        means = np.array(answer["per_cohort_mean"])
        probs = np.array(answer["per_cohort_prob_superior"])
        for m in sizes:
            mc_mean = means[:m].std(ddof=1) / np.sqrt(m) if m > 1 else float("nan")
            mc_prob = probs[:m].std(ddof=1) / np.sqrt(m) if m > 1 else float("nan")
            row = {"answer": name, "m": m, "pooled_mean": float(means[:m].mean()),
                   "mc_se_mean": float(mc_mean), "pooled_prob": float(probs[:m].mean()),
                   "mc_se_prob": float(mc_prob)}  # fmt: skip
            rows.append(row)
            print(
                f"{name:<22}{m:>4}{row['pooled_mean']:>13.4f}{mc_mean:>9.4f}"
                f"{row['pooled_prob']:>9.3f}{mc_prob:>8.3f}"
                f"{answer['reconstruction_share'] if m == args.m else float('nan'):>7.2f}"
            )
    if args.json:
        args.json.write_text(json.dumps({"seconds": seconds, "rows": rows, "block": block}))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
