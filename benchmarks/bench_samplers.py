"""Benchmark of the samplers, PyMC's NUTS against nutpie, on the package's models.

For each model, in a fresh process with empty compile caches (cold) and again with the caches
filled (warm): compile time, sampling time (4 chains, the plan's draws), the minimum bulk ESS over
the reported parameters, and ESS per second of sampling and per second of compile + sampling.

Models (issue 3): the joint aggregate model of the published reanalysis for each prior structure
(flat / literature: beta + independent normals; skeptical / enthusiastic: shared-level normals;
hierarchical), fitted to the paper's tables. The patient-level models of later issues add
themselves to ``MODELS``.

PyMC's compile time is that of building its NUTS step (``pm.NUTS(model=...)`` compiles the log
density and gradient); its sampling time is ``pm.sample`` with that step (process start included,
cores as in the plan). nutpie's are the package's cached compilation (``cit_bayes.bayes.compiled.compile_model``,
nutpie's own callbacks built so that a later process loads them from disk) and ``nutpie.sample``.

Usage: ``python benchmarks/bench_samplers.py``. Timings on a shared machine are indicative.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import cold_env, run_python  # noqa: E402

#: model name -> prior set whose structure it uses.
MODELS = {
    "aggregate: flat": "flat",
    "aggregate: skeptical": "skeptical",
    "aggregate: hierarchical": "hierarchical",
}

CHILD = """
import json, time, warnings, logging
warnings.simplefilter("ignore")
logging.getLogger("pymc").setLevel(logging.ERROR)
import arviz_stats as azs, numpy as np, pymc as pm
from cit_bayes.bayes import load_prior_set
from cit_bayes.bayes import aggregate
from cit_bayes.bayes.aggregate_blocks import reported_names
from cit_bayes.analyses.published import load_reanalysis_plan, published_inputs, _endpoint_data
plan = load_reanalysis_plan()
inputs = published_inputs(plan=plan)
data = _endpoint_data(inputs, plt_as_sd=False, recovered=inputs.responders)
prior_set = load_prior_set({prior_set!r})
hierarchical = any(prior_set[e].family == "hierarchical" for e in ("response", "plt", "recovery", "safety"))
settings = plan.hierarchical_sampler if hierarchical else plan.sampler
items = [aggregate._prepare(d, prior_set[d.endpoint], list(inputs.arms)) for d in data]
model = aggregate._model(items, list(inputs.arms))
names = [v for i in items for v in reported_names(i.data.endpoint, i.data.quantity, i.prior)]
sampler = {sampler!r}
if sampler == "nutpie":
    import nutpie
    from cit_bayes.bayes.compiled import compile_model
    start = time.perf_counter()
    compiled, _ = compile_model(model)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    idata = nutpie.sample(compiled, draws=settings.draws, tune=settings.tune, chains=settings.chains,
                          cores=settings.resolved_cores, seed=1, progress_bar=False,
                          target_accept=settings.target_accept)
    sampling_s = time.perf_counter() - start
else:
    start = time.perf_counter()
    step = pm.NUTS(model=model, target_accept=settings.target_accept)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    idata = pm.sample(draws=settings.draws, tune=settings.tune, chains=settings.chains,
                      cores=settings.resolved_cores, step=step, model=model, random_seed=1,
                      progressbar=False, compute_convergence_checks=False,
                      nuts_sampler="pymc")
    sampling_s = time.perf_counter() - start
ess = azs.ess(idata["posterior"].to_dataset()[names], method="bulk")
min_ess = float(min(float(ess[v].min()) for v in ess.data_vars))
divergences = int(idata.sample_stats["diverging"].sum())
print(json.dumps({{"compile_s": compile_s, "sampling_s": sampling_s, "min_ess": min_ess,
                  "divergences": divergences}}))
"""


def main() -> int:
    rows = []
    for model, prior_set in MODELS.items():
        for sampler in ("nutpie", "pymc"):
            root = tempfile.mkdtemp(prefix="cold-samplers-")
            for phase in ("cold", "warm"):
                result = run_python(
                    CHILD.format(prior_set=prior_set, sampler=sampler), cold_env(root)
                )
                rows.append((model, sampler, phase, result))
                print(f"  done: {model} / {sampler} / {phase}", flush=True)
    header = (
        f"{'model':25s} {'sampler':7s} {'phase':5s} {'compile s':>9s} {'sample s':>9s} "
        f"{'min ESS':>8s} {'ESS/s':>8s} {'ESS/s tot':>9s} {'div':>4s} {'process s':>9s}"
    )
    print("\n" + header)
    for model, sampler, phase, r in rows:
        total = r["compile_s"] + r["sampling_s"]
        print(
            f"{model:25s} {sampler:7s} {phase:5s} {r['compile_s']:9.2f} {r['sampling_s']:9.2f} "
            f"{r['min_ess']:8.0f} {r['min_ess'] / r['sampling_s']:8.0f} "
            f"{r['min_ess'] / total:9.0f} {r['divergences']:4d} {r['process_seconds']:9.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
