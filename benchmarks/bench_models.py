"""Benchmark of the four patient-level models (issue 7) on the bundled reconstructed cohort.

The models (response, platelet trajectory, recovery, safety) are fitted to
``data/reconstructed/cohort.csv`` exactly as ``cit-bayes fit`` does: the plan of
``models/default.toml`` (seed, chains, draws, tune, per-model ``target_accept``), the weights of
:func:`cit_bayes.analyses.patient.weight_cohort` and the data, seeds and settings of
:func:`cit_bayes.analyses.patient.fit_models`, for the ``unadjusted`` and the primary ``adjusted``
analysis (the plan's sensitivity estimands are left out). The second fit of a model re-uses its
compiled model (only ``pm.Data`` change), so nutpie's compile time is that of the first fit.

Measured, each in a fresh process (``_common.run_python``):

1. Per model, nutpie (the plan's sampler): the model alone (the other three fit functions of
   ``cit_bayes.analyses.endpoints`` are replaced by a no-op in the child), first with empty PyTensor and
   numba caches (cold), then again with the caches that run filled (warm). Printed per fit:
   compile seconds cold and warm (``cit_bayes.bayes.compiled.compile_model``: warm, the callbacks
   come from the on-disk cache and PyTensor's compiled functions from the store beside it, and
   what is left is building the graph and its digest and loading them; 0 when the compiled model
   is re-used), sampling seconds (``nutpie.sample``, warm process), the diagnostics over every
   posterior variable (min bulk and tail ESS, max R-hat, divergences, gates) and bulk ESS per
   second of sampling.
2. Per model, PyMC's NUTS (``plan.with_sampler(sampler="pymc")``), in a warm process: its caches
   are filled first by a run of the same fits with short chains (not reported). PyMC compiles
   inside ``pm.sample`` on every fit; its *sampling* time is the one ``pm.sample`` records
   (``sample_stats.attrs["sampling_time"]``: the chains, in worker processes whose start is
   included), its *compile* time the rest of the ``pm.sample`` call (the NUTS step with the log
   density and its gradient, initial points, trace set-up, conversion to InferenceData).
   Printed: the same numbers, and the ratios nutpie / PyMC of bulk ESS per second of sampling
   and of bulk ESS per second of compile + sampling (nutpie warm), per fit and for the model's
   two fits together.
3. The whole fit stage (``fit_models``: 4 models x 2 analyses in one process), cold then warm.

ConvergenceWarnings are silenced in the children; a fit that misses a gate is reported as
``FAILED`` with what missed. Only times and ratios are printed, nothing is asserted.

Usage: ``python benchmarks/bench_models.py [--quick]`` (``--quick`` skips the PyMC comparison;
``--draws N --tune N`` shorten the chains for a smoke run). Timings on a shared machine (2
cores) are indicative.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import cold_env, run_python  # noqa: E402

#: Model (endpoint) name -> the fit function ``cit_bayes.analyses.endpoints`` calls for it.
MODELS = {
    "response": "fit_response_model",
    "plt": "fit_trajectory_model",
    "recovery": "fit_recovery_model",
    "safety": "fit_safety_model",
}
ANALYSES = ("unadjusted", "adjusted")
#: Draws and tuning steps of the PyMC run that fills the caches (only its compiling matters).
FILL_DRAWS = 50

CHILD = """
import json, logging, time, warnings
from dataclasses import replace
warnings.simplefilter("ignore")  # ConvergenceWarning included: the gates are reported instead
logging.getLogger("pymc").setLevel(logging.ERROR)
start = time.perf_counter()
import cit_bayes.analyses.endpoints as endpoints
import cit_bayes.analyses.patient as analysis
from cit_bayes._paths import data_dir
from cit_bayes.cohort import read_cohort
from cit_bayes.pipeline import BUNDLED_COHORT
from cit_bayes.plan import load_plan
imported = time.perf_counter()
plan = replace(load_plan(), sensitivity_estimands=())  # unadjusted + the primary adjusted
changes = {changes!r}
plan = plan.with_sampler(**changes) if changes else plan
for endpoint, function in {models!r}.items():
    if endpoint not in {keep!r}:
        setattr(endpoints, function, lambda *args, **kwargs: None)
cohort = read_cohort(data_dir() / BUNDLED_COHORT)
weighting = analysis.weight_cohort(cohort, plan)
start_fit = time.perf_counter()
fits, timings = analysis.fit_models(cohort, plan, weighting)
fit_stage = time.perf_counter() - start_fit
out = {{}}
for name, fit in fits.items():
    if fit is None:
        continue
    d, f = fit.diagnostics, fit.fit
    if f.compile_seconds is None:  # PyMC: pm.sample compiles, then records its sampling time
        sampling = float(fit.idata.sample_stats.attrs["sampling_time"])
        compiling = f.sampling_seconds - sampling
    else:
        sampling, compiling = f.sampling_seconds, f.compile_seconds
    out[name] = {{"sampler": f.settings.sampler, "target_accept": f.settings.target_accept,
                 "compile_s": compiling, "sampling_s": sampling, "fit_s": timings[name],
                 "ess_bulk": d.min_ess_bulk, "ess_tail": d.min_ess_tail, "rhat": d.max_rhat,
                 "divergences": d.divergences, "passed": d.passed, "failures": list(d.failures),
                 "draws": d.draws, "chains": d.chains}}
print(json.dumps({{"import_s": imported - start, "fit_stage_s": fit_stage, "fits": out,
                  "settings": plan.sampler.as_dict()}}))
"""


def _child(keep, changes: dict, env: dict) -> dict:
    code = CHILD.format(changes=changes, models=MODELS, keep=tuple(keep))
    return run_python(code, env)


def _cold_warm(keep, changes: dict, label: str) -> tuple[dict, dict]:
    """Run the fits of ``keep`` cold then warm (fresh caches, then the same caches)."""
    root = tempfile.mkdtemp(prefix="cold-models-")
    try:
        cold = _child(keep, changes, cold_env(root))
        print(f"  done: {label} / cold ({cold['process_seconds']:.0f} s)", flush=True)
        warm = _child(keep, changes, cold_env(root))
        print(f"  done: {label} / warm ({warm['process_seconds']:.0f} s)", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return cold, warm


def _pymc_warm(keep, changes: dict, label: str) -> dict:
    """PyMC in a warm process: fill the caches with short chains, then run the real fits."""
    root = tempfile.mkdtemp(prefix="cold-models-pymc-")
    fill = changes | {"sampler": "pymc", "draws": FILL_DRAWS, "tune": FILL_DRAWS}
    try:
        _child(keep, fill, cold_env(root))
        warm = _child(keep, changes | {"sampler": "pymc"}, cold_env(root))
        print(f"  done: {label} / pymc warm ({warm['process_seconds']:.0f} s)", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return warm


def _gates(fit: dict) -> str:
    return "passed" if fit["passed"] else "FAILED: " + "; ".join(fit["failures"])


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def _print_nutpie(cold: dict, warm: dict) -> None:
    print(
        "\n1. nutpie (the plan's sampler): compile cold / warm, sampling and diagnostics (warm)\n"
        f"{'fit':21s} {'accept':>6s} {'compile':>8s} {'compile':>8s} {'sample':>7s} "
        f"{'ESS':>6s} {'ESS':>6s} {'max':>7s} {'div':>4s} {'ESS/s':>6s}  gates\n"
        f"{'':21s} {'':>6s} {'cold s':>8s} {'warm s':>8s} {'s':>7s} "
        f"{'bulk':>6s} {'tail':>6s} {'R-hat':>7s} {'':>4s} {'sample':>6s}"
    )
    for name, w in warm.items():
        c = cold[name]
        print(
            f"{name:21s} {w['target_accept']:6.2f} {c['compile_s']:8.2f} {w['compile_s']:8.2f} "
            f"{w['sampling_s']:7.2f} {w['ess_bulk']:6.0f} {w['ess_tail']:6.0f} "
            f"{w['rhat']:7.4f} {w['divergences']:4d} "
            f"{_ratio(w['ess_bulk'], w['sampling_s']):6.0f}  {_gates(w)}"
        )


def _print_pymc(nutpie: dict, pymc: dict) -> None:
    print(
        "\n2. PyMC NUTS, warm process; ratios nutpie (warm) / PyMC of bulk ESS per second\n"
        f"{'fit':21s} {'compile':>8s} {'sample':>7s} {'ESS':>6s} {'ESS':>6s} {'max':>7s} "
        f"{'div':>4s} {'ESS/s':>6s} {'ratio':>7s} {'ratio':>7s}  gates\n"
        f"{'':21s} {'s':>8s} {'s':>7s} {'bulk':>6s} {'tail':>6s} {'R-hat':>7s} "
        f"{'':>4s} {'sample':>6s} {'sample':>7s} {'total':>7s}"
    )
    for model in MODELS:
        names = [f"{model}/{a}" for a in ANALYSES if f"{model}/{a}" in pymc]
        for name in names:
            n, p = nutpie[name], pymc[name]
            sample = _ratio(
                _ratio(n["ess_bulk"], n["sampling_s"]), _ratio(p["ess_bulk"], p["sampling_s"])
            )
            total = _ratio(
                _ratio(n["ess_bulk"], n["compile_s"] + n["sampling_s"]),
                _ratio(p["ess_bulk"], p["compile_s"] + p["sampling_s"]),
            )
            print(
                f"{name:21s} {p['compile_s']:8.2f} {p['sampling_s']:7.2f} {p['ess_bulk']:6.0f} "
                f"{p['ess_tail']:6.0f} {p['rhat']:7.4f} {p['divergences']:4d} "
                f"{_ratio(p['ess_bulk'], p['sampling_s']):6.0f} {sample:7.2f} {total:7.2f}  "
                f"{_gates(p)}"
            )
        both = {}
        for label, fits in (("nutpie", nutpie), ("pymc", pymc)):
            ess = sum(fits[name]["ess_bulk"] for name in names)
            sampling = sum(fits[name]["sampling_s"] for name in names)
            compiling = sum(fits[name]["compile_s"] for name in names)
            both[label] = (ess / sampling, ess / (compiling + sampling), compiling + sampling)
        print(
            f"{model + ' (both fits)':21s} {'':8s} {'':7s} {'':6s} {'':6s} {'':7s} {'':4s} "
            f"{'':6s} {both['nutpie'][0] / both['pymc'][0]:7.2f} "
            f"{both['nutpie'][1] / both['pymc'][1]:7.2f}  compile + sampling: nutpie "
            f"{both['nutpie'][2]:.1f} s, PyMC {both['pymc'][2]:.1f} s"
        )


def _print_stage(stage: dict) -> None:
    print(
        "\n3. Whole fit stage (fit_models: 4 models x 2 analyses, one process)\n"
        f"{'run':6s} {'fit stage s':>11s} {'compile s':>10s} {'sample s':>9s} "
        f"{'process s':>10s}  gates"
    )
    for label, result in stage.items():
        fits = result["fits"]
        failed = [name for name, fit in fits.items() if not fit["passed"]]
        print(
            f"{label:6s} {result['fit_stage_s']:11.1f} "
            f"{sum(f['compile_s'] for f in fits.values()):10.1f} "
            f"{sum(f['sampling_s'] for f in fits.values()):9.1f} "
            f"{result['process_seconds']:10.1f}  "
            + (f"all {len(fits)} passed" if not failed else f"FAILED: {', '.join(failed)}")
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the PyMC comparison")
    parser.add_argument("--draws", type=int, help="draws per chain (default: the plan's)")
    parser.add_argument("--tune", type=int, help="tuning steps (default: the plan's)")
    args = parser.parse_args(argv)
    changes = {k: v for k, v in (("draws", args.draws), ("tune", args.tune)) if v is not None}
    print("patient-level models on the bundled cohort", flush=True)
    cold, warm, pymc = {}, {}, {}
    for model in MODELS:
        c, w = _cold_warm((model,), changes, model)
        cold |= c["fits"]
        warm |= w["fits"]
        if not args.quick:
            pymc |= _pymc_warm((model,), changes, model)["fits"]
    stage_cold, stage_warm = _cold_warm(tuple(MODELS), changes, "fit stage")
    stage = {"cold": stage_cold, "warm": stage_warm}

    settings = stage["warm"]["settings"]
    print(
        f"\nplan sampler {settings['sampler']}: {settings['chains']} chains x {settings['draws']} "
        f"draws ({settings['tune']} tune) on {settings['cores']} of {os.cpu_count()} cores; "
        "unadjusted and adjusted (primary estimand) analyses"
    )
    _print_nutpie(cold, warm)
    if pymc:
        _print_pymc(warm, pymc)
    _print_stage(stage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
