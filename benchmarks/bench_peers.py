"""The response model against the same model in Bambi (nutpie) and in brms (issue 17, item 4).

The model is the package's response model (:mod:`cit_bayes.bayes.response`) in its *regression
only* setting: Bernoulli-logit, an independent intercept per arm with a Logistic(0, 1) prior,
a N(0, 1) coefficient per column of the standardised covariate design (``PatientData.design``
as :func:`cit_bayes.analyses.endpoints.endpoint_runner` builds it for the adjusted analyses),
and unit weights, on the bundled reconstructed cohort (``data/reconstructed/cohort.csv``, read
with :func:`cit_bayes.cohort.read_cohort`). Unit weights, because Bambi has no likelihood
weights: with them the three programs fit exactly the same likelihood and priors (the analyses
of ``cit-bayes fit`` weight the likelihood; that fit is measured by ``bench_models.py``). The
design goes to the peers as columns ``x01``, ``x02``, ... of a CSV file in a temporary folder
(deleted afterwards), the arms as labels without punctuation, as the formula languages want them.

The programs, each in a fresh process (the time to start it and import the program is left
out of compile and sampling, and shown as ``process s``):

* ``cit_bayes``: :func:`~cit_bayes.bayes.response.fit_response_model` with the plan's sampler
  settings for the response model (``models/default.toml``: nutpie, 4 chains, 2,000 draws,
  1,000 tuning steps, its ``target_accept``, low-rank mass matrix). *Sampling* is the package's
  ``sampling_seconds`` (``nutpie.sample``); *compile* is building the model's graph
  (:func:`~cit_bayes.bayes.response.build_response_model`, timed first: the fit re-uses the
  cached graph) plus the fit's ``compile_seconds`` (:mod:`cit_bayes.bayes.compiled`: compiling,
  or loading from the on-disk cache). The rest of the fit call is work the peers do not do (the
  g-computation of the rates on the draws, the diagnostics): printed, left out of the
  end-to-end cost, and counted in a second ratio of the goals.
* ``Bambi + nutpie``: ``bmb.Model("response ~ 0 + arm + x01 + ...", family="bernoulli")``
  (``0 + arm``: one intercept per arm, the cell-means coding), priors ``{"arm":
  bmb.Prior("Logistic", mu=0, s=1)}`` (one prior for the term covers all its levels) and
  ``Normal(0, 1)`` on each covariate, ``model.fit(inference_method="nutpie")`` with the same
  chains, draws, tuning steps, cores and ``target_accept`` (nutpie's default diagonal mass
  matrix: what a Bambi user gets). It runs in its own virtual environment, ``.venv-peers``
  (``make .venv-peers/.installed``, from ``benchmarks/requirements-peers.lock``, which is
  constrained by ``requirements.lock``: the same PyMC, PyTensor, nutpie and numba as the
  package; the versions are printed; ``bambi`` and ``nutpie`` are named, not ``bambi[nutpie]``,
  whose extra pins numba < 0.66 against the main lock's). Bambi sorts a factor's levels by name
  (the ``arm_dim`` coordinate), so its draws are taken by label. *Sampling* is the time PyMC
  records around ``nutpie.sample`` (``posterior.attrs["sampling_time"]``), *compile* the rest of
  building the Bambi model and its ``fit`` call.
* ``brms``: where ``Rscript`` and brms are installed (Debian's ``r-cran-brms``, rstan backend),
  ``brm(bf(response ~ 0 + arm + x01 + ...), family = bernoulli())`` with ``logistic(0, 1)`` on
  each ``b`` of an arm (``coef = "arm<label>"``) and ``normal(0, 1)`` on the other ``b``, the
  same chains, ``iter`` = tune + draws, ``warmup`` = tune, ``cores``, ``adapt_delta`` =
  ``target_accept``. *Compile* is ``brm(..., chains = 0)`` (Stan code, C++ compilation: no
  draws); *sampling* is ``update(<that fit>, recompile = FALSE, chains = 4, ...)``, which
  includes starting rstan's worker processes (Stan's own time in the chains is printed beside).
  Debian's ``r-cran-bh`` installs Boost in ``/usr/include`` and no ``BH/include``, so
  ``rstan_options(boost_lib = "/usr/include")`` is set where ``BH`` has no headers.

Cold and warm: cold, the ``cit_bayes`` and Bambi processes start with empty PyTensor and numba
caches (``_common.cold_env``) and brms compiles its Stan program; warm is a second process:
the same caches for the two Python programs, and for brms ``update()`` of the compiled fit,
read from the ``.rds`` file the cold process saved (no compilation).

Measured per program and run: compile and sampling seconds; the smallest bulk ESS and the
largest R-hat over the arm intercepts and the coefficients, computed here by the same function
for all three (``arviz_stats.ess(method="bulk")``, ``arviz_stats.rhat``, on the draws each
program wrote); divergences; ESS per second of sampling; the end-to-end cost of a given
precision, (compile + sampling) seconds per 1,000 bulk ESS, and its ratio to ``cit_bayes``'s
in the same run (cold to cold, warm to warm; the goals are >= 3 for brms and >= 1.5 for Bambi,
warm: measured, not asserted); the peak resident memory of the process (``self MB``:
``getrusage`` in the Python children, ``VmHWM`` in R) and of its whole process tree (``tree MB``:
the resident sets of the process and its children added up, polled every 0.1 s: the C++
compiler for brms, rstan's worker processes). Then the posterior means of the arm intercepts
of the three programs side by side with their MC SEs (``arviz_stats.mcse``) and each peer's
difference from ``cit_bayes`` in combined MC SEs, to show that they fit the same model.

Usage: ``python benchmarks/bench_peers.py [--draws N --tune N] [--no-bambi] [--no-brms]``.
Where ``.venv-peers`` is missing the script tries ``make .venv-peers/.installed`` once (not when
``make bench`` has just tried) and otherwise prints a line saying why the Bambi rows are
skipped; where brms is missing it says so. Timings on a shared machine (2 cores) are indicative.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _common import cold_env  # noqa: E402

PEERS = ROOT / ".venv-peers"
PEERS_PYTHON = PEERS / "bin" / "python"
PEERS_STAMP = PEERS / ".installed"
#: Goals of issue 17 (warm, end-to-end seconds per 1,000 bulk ESS, peer / cit_bayes).
GOALS = {"Bambi + nutpie": 1.5, "brms": 3.0}
POLL_SECONDS = 0.1

#: The package's fit, in a fresh process; argv[1] is the JSON spec written by ``main``.
OURS = """
import json, resource, sys, time, warnings
start = time.perf_counter()
import numpy as np
import nutpie, pymc, pytensor
from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.response import ResponsePrior, build_response_model, fit_response_model
from cit_bayes.exceptions import ConvergenceWarning
from cit_bayes.plan import load_plan
imported = time.perf_counter()
warnings.simplefilter("ignore", ConvergenceWarning)  # the gates are computed here instead
spec = json.loads(open(sys.argv[1]).read())
arrays = np.load(spec["npz"])
n = arrays["arm_codes"].size
data = PatientData(tuple(spec["arms"]), arrays["arm_codes"], arrays["design"],
                   tuple(spec["covariates"]), np.ones(n), np.ones(n))  # unit weights
settings = load_plan().sampler_for("response").replace(
    chains=spec["chains"], draws=spec["draws"], tune=spec["tune"])
prior = ResponsePrior()
begin = time.perf_counter()
build_response_model(data, prior.pool_arms, prior.intercept_family, prior.arm_sd_fixed)
built = time.perf_counter() - begin  # the graph: cached, so the fit below re-uses it
fit = fit_response_model(arrays["response"], data, prior=prior, seed=spec["seed"],
                         settings=settings)
total = time.perf_counter() - begin
compiling = built + fit.fit.compile_seconds
posterior = fit.idata["posterior"]
np.savez(spec["out"], arm_logit=posterior["arm_logit"].sel(arm=list(spec["arms"])).values,
         coefficient=posterior["coefficient"].values)
print(json.dumps({
    "import_s": imported - start, "fit_s": total, "sampling_s": fit.fit.sampling_seconds,
    "compile_s": compiling, "other_s": total - compiling - fit.fit.sampling_seconds,
    "divergences": fit.diagnostics.divergences,
    "self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "versions": {"pymc": pymc.__version__, "pytensor": pytensor.__version__,
                 "nutpie": nutpie.__version__},
    "settings": {"target_accept": settings.target_accept, "mass_matrix": settings.mass_matrix,
                 "cores": settings.resolved_cores},
}))
"""

#: Bambi in ``.venv-peers``, in a fresh process; argv[1] is the JSON spec.
BAMBI = """
import json, logging, resource, sys, time, warnings
start = time.perf_counter()
import bambi as bmb
import numpy as np
import nutpie, pandas as pd, pymc, pytensor
imported = time.perf_counter()
warnings.simplefilter("ignore")
logging.getLogger("pymc").setLevel(logging.ERROR)
logging.getLogger("bambi").setLevel(logging.ERROR)
spec = json.loads(open(sys.argv[1]).read())
frame = pd.read_csv(spec["csv"])
frame["arm"] = pd.Categorical(frame["arm"], categories=spec["labels"])
columns = spec["columns"]
priors = {"arm": bmb.Prior("Logistic", mu=0.0, s=1.0)}
priors |= {c: bmb.Prior("Normal", mu=0.0, sigma=1.0) for c in columns}
begin = time.perf_counter()
model = bmb.Model("response ~ 0 + arm + " + " + ".join(columns), frame, family="bernoulli",
                  priors=priors)
idata = model.fit(draws=spec["draws"], tune=spec["tune"], chains=spec["chains"],
                  cores=spec["cores"], inference_method="nutpie", random_seed=spec["seed"],
                  target_accept=spec["target_accept"], progressbar=False)
total = time.perf_counter() - begin
posterior = idata["posterior"]
sampling = float(posterior.attrs["sampling_time"])
arm = posterior["arm"].sel(arm_dim=spec["labels"]).values  # Bambi sorts the levels by name
coefficient = np.stack([posterior[c].values for c in columns], axis=-1)
np.savez(spec["out"], arm_logit=arm, coefficient=coefficient)
print(json.dumps({
    "import_s": imported - start, "fit_s": total, "sampling_s": sampling,
    "compile_s": total - sampling,
    "divergences": int(idata["sample_stats"]["diverging"].sum()),
    "self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "versions": {"bambi": bmb.__version__, "pymc": pymc.__version__,
                 "pytensor": pytensor.__version__, "nutpie": nutpie.__version__},
}))
"""

#: brms: Rscript <this> <cold|warm> <spec.json>; prints one JSON object as its last line.
BRMS = r"""
start <- proc.time()[["elapsed"]]
suppressPackageStartupMessages(library(brms))
if (!nzchar(system.file("include", package = "BH"))) {
  rstan::rstan_options(boost_lib = "/usr/include")  # Debian: Boost headers in /usr/include
}
imported <- proc.time()[["elapsed"]]
args <- commandArgs(trailingOnly = TRUE)
run <- args[1]
spec <- jsonlite::fromJSON(args[2])
data <- read.csv(spec$csv)
data$arm <- factor(data$arm, levels = spec$labels)
formula <- bf(as.formula(paste("response ~ 0 + arm +", paste(spec$columns, collapse = " + "))))
priors <- set_prior("normal(0, 1)", class = "b")
for (label in spec$labels) {
  priors <- priors + set_prior("logistic(0, 1)", class = "b", coef = paste0("arm", label))
}
begin <- proc.time()[["elapsed"]]
if (run == "cold") {
  compiled <- brm(formula, data = data, family = bernoulli(), prior = priors, chains = 0,
                  backend = "rstan", silent = 2, refresh = 0)
  saveRDS(compiled, spec$rds)
} else {
  compiled <- readRDS(spec$rds)
}
compiled_at <- proc.time()[["elapsed"]]
fit <- update(compiled, recompile = FALSE, chains = spec$chains, iter = spec$tune + spec$draws,
              warmup = spec$tune, cores = spec$cores, seed = spec$seed,
              control = list(adapt_delta = spec$target_accept), silent = 2, refresh = 0)
done <- proc.time()[["elapsed"]]
variables <- c(paste0("b_arm", spec$labels), paste0("b_", spec$columns))
draws <- as_draws_df(fit, variable = variables)
write.csv(as.data.frame(draws), spec$out, row.names = FALSE)
hwm <- grep("^VmHWM", readLines("/proc/self/status"), value = TRUE)
cat("\n", jsonlite::toJSON(list(
  import_s = imported - start, compile_s = compiled_at - begin, sampling_s = done - compiled_at,
  chains_s = sum(rstan::get_elapsed_time(fit$fit)),
  divergences = sum(subset(nuts_params(fit), Parameter == "divergent__")$Value),
  self_mb = as.numeric(gsub("[^0-9]", "", hwm)) / 1024,
  versions = list(brms = as.character(packageVersion("brms")),
                  rstan = as.character(packageVersion("rstan")))
), auto_unbox = TRUE, digits = NA), "\n", sep = "")
"""


def _tree_rss_kb(pid: int) -> int:
    """Resident memory (kB) of ``pid`` and all its descendants now (Linux ``/proc``)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, ()))
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def _run(argv: list[str], env: dict[str, str] | None = None) -> dict:
    """Run ``argv``; its last line of output is a JSON object. Adds ``process_seconds`` and the
    peak resident memory of its process tree (``tree_mb``, polled; NaN without ``/proc``)."""
    start = time.perf_counter()
    child = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = [0]
    polling = Path("/proc").is_dir()

    def poll() -> None:
        while child.poll() is None:
            peak[0] = max(peak[0], _tree_rss_kb(child.pid))
            time.sleep(POLL_SECONDS)

    watcher = threading.Thread(target=poll, daemon=True)
    if polling:
        watcher.start()
    stdout, stderr = child.communicate()
    wall = time.perf_counter() - start
    if polling:
        watcher.join()
    if child.returncode != 0:
        raise RuntimeError(f"benchmark child {argv[0]} failed:\n{(stdout + stderr)[-4000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall
    result["tree_mb"] = peak[0] / 1024 if polling else float("nan")
    return result


def _safe_labels(names: list[str], prefix: str) -> list[str]:
    """Names the formula languages accept as they are (letters and digits), still distinct."""
    safe = [re.sub(r"[^A-Za-z0-9]", "", name) for name in names]
    if len(set(safe)) != len(safe) or not all(s and s[0].isalpha() for s in safe):
        safe = [f"{prefix}{j + 1}" for j in range(len(names))]
    return safe


def _write_data(folder: Path) -> dict:
    """The bundled cohort as arrays (for the package) and a CSV (for the peers); the spec."""
    import pandas as pd

    from cit_bayes._paths import data_dir
    from cit_bayes.analyses.endpoints import endpoint_runner
    from cit_bayes.cohort import read_cohort
    from cit_bayes.pipeline import BUNDLED_COHORT
    from cit_bayes.plan import load_plan

    plan = load_plan()
    runner = endpoint_runner(read_cohort(data_dir() / BUNDLED_COHORT), plan, None, None)
    response = runner.outcomes()["response"]
    keep = np.isfinite(response)  # the response model's patients (as EndpointRunner.fit)
    codes, design = runner.codes[keep], runner.design.matrix[keep]
    arms, covariates = list(runner.arms), list(runner.design.columns)
    labels = _safe_labels(arms, "arm")
    columns = [f"x{j + 1:02d}" for j in range(len(covariates))]
    np.savez(
        folder / "data.npz",
        response=response[keep].astype("int64"),
        arm_codes=codes,
        design=design,
    )
    frame = pd.DataFrame(design, columns=columns)
    frame.insert(0, "arm", [labels[c] for c in codes])
    frame.insert(0, "response", response[keep].astype("int64"))
    frame.to_csv(folder / "data.csv", index=False, float_format="%.17g")
    sampler = plan.sampler_for("response")
    return {
        "npz": str(folder / "data.npz"),
        "csv": str(folder / "data.csv"),
        "arms": arms,
        "labels": labels,
        "covariates": covariates,
        "columns": columns,
        "n": int(keep.sum()),
        "seed": int(plan.seed),
        "chains": sampler.chains,
        "draws": sampler.draws,
        "tune": sampler.tune,
        "cores": sampler.resolved_cores,
        "target_accept": sampler.target_accept,
    }


def _spec_file(spec: dict, folder: Path, name: str, **extra) -> str:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(spec | extra))
    return str(path)


def _draws(path: Path, spec: dict) -> dict[str, np.ndarray]:
    """The arm intercepts and coefficients a child wrote, as (chain, draw, ...) arrays."""
    if path.suffix == ".npz":
        with np.load(path) as arrays:
            return {"arm_logit": arrays["arm_logit"], "coefficient": arrays["coefficient"]}
    import pandas as pd  # brms: a draws data frame, one row per draw

    frame = pd.read_csv(path).sort_values([".chain", ".iteration"])
    chains = frame[".chain"].nunique()

    def block(names: list[str]) -> np.ndarray:
        values = frame[names].to_numpy(dtype=float)
        return values.reshape(chains, -1, len(names))

    return {
        "arm_logit": block([f"b_arm{label}" for label in spec["labels"]]),
        "coefficient": block([f"b_{column}" for column in spec["columns"]]),
    }


def _summaries(draws: dict[str, np.ndarray]) -> dict:
    """Bulk ESS, R-hat, and posterior mean and its MC SE, by one set of ArviZ functions."""
    import arviz_stats as azs
    import xarray as xr

    posterior = xr.Dataset(
        {
            "arm_logit": (("chain", "draw", "arm"), draws["arm_logit"]),
            "coefficient": (("chain", "draw", "covariate"), draws["coefficient"]),
        }
    )
    ess = azs.ess(posterior, method="bulk")
    rhat = azs.rhat(posterior)
    return {
        "ess": min(float(ess[v].min()) for v in ess.data_vars),
        "rhat": max(float(rhat[v].max()) for v in rhat.data_vars),
        "mean": posterior["arm_logit"].mean(("chain", "draw")).values,
        "mcse": azs.mcse(posterior, method="mean")["arm_logit"].values,
    }


def _cold_warm(label: str, spec: dict, command) -> dict[str, dict]:
    """Run a program cold then warm (``command(run)`` gives argv, env and the draws' path)."""
    results = {}
    for run in ("cold", "warm"):
        argv, env, out = command(run)
        result = _run(argv, env)
        result |= _summaries(_draws(out, spec))
        results[run] = result
        print(f"  done: {label} / {run} ({result['process_seconds']:.0f} s)", flush=True)
    return results


def _ours(spec: dict, folder: Path) -> dict[str, dict]:
    root = folder / "cache-ours"

    def command(run: str):
        out = folder / f"ours-{run}.npz"
        path = _spec_file(spec, folder, f"ours-{run}", out=str(out))
        return [sys.executable, "-c", OURS, path], cold_env(root), out

    return _cold_warm("cit_bayes", spec, command)


def _peers_python() -> tuple[Path | None, str]:
    """``.venv-peers``'s Python, built with make if missing (once); or None and why not."""
    if not PEERS_STAMP.exists() and not os.environ.get("CIT_BAYES_PEERS_TRIED"):
        print("  building .venv-peers (make .venv-peers/.installed) ...", flush=True)
        made = subprocess.run(
            ["make", "-C", str(ROOT), "--no-print-directory", ".venv-peers/.installed"],
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode != 0:
            lines = (made.stdout + made.stderr).strip().splitlines() or ["(no output)"]
            return None, f"`make .venv-peers/.installed` failed: {lines[-1]}"
    if not PEERS_STAMP.exists():
        return None, ".venv-peers is missing and could not be built (make .venv-peers/.installed)"
    check = subprocess.run(
        [str(PEERS_PYTHON), "-c", "import bambi, nutpie"], capture_output=True, text=True
    )
    if check.returncode != 0:
        return None, f".venv-peers cannot import bambi: {check.stderr.strip().splitlines()[-1]}"
    return PEERS_PYTHON, ""


def _bambi(spec: dict, folder: Path, python: Path) -> dict[str, dict]:
    root = folder / "cache-bambi"

    def command(run: str):
        out = folder / f"bambi-{run}.npz"
        path = _spec_file(spec, folder, f"bambi-{run}", out=str(out))
        return [str(python), "-c", BAMBI, path], cold_env(root), out

    return _cold_warm("Bambi + nutpie", spec, command)


def _brms_available() -> str:
    """Empty when ``Rscript`` can load brms (and jsonlite); otherwise why not."""
    if shutil.which("Rscript") is None:
        return "Rscript not found (Debian: apt-get install r-cran-brms)"
    check = subprocess.run(
        ["Rscript", "-e", "suppressPackageStartupMessages({library(brms); library(jsonlite)})"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        lines = check.stderr.strip().splitlines() or ["(no output)"]
        return f"Rscript cannot load brms: {lines[-1]}"
    return ""


def _brms(spec: dict, folder: Path) -> dict[str, dict]:
    script = folder / "fit.R"
    script.write_text(BRMS)
    rds = str(folder / "brms.rds")

    def command(run: str):
        out = folder / f"brms-{run}.csv"
        path = _spec_file(spec, folder, f"brms-{run}", out=str(out), rds=rds)
        return ["Rscript", str(script), run, path], None, out

    return _cold_warm("brms", spec, command)


def _per_1000(result: dict) -> float:
    return (result["compile_s"] + result["sampling_s"]) * 1000 / result["ess"]


def _print_table(results: dict[str, dict[str, dict]]) -> None:
    print(
        f"\n{'program':16s} {'run':4s} {'compile':>8s} {'sample':>7s} {'min ESS':>8s} "
        f"{'max':>6s} {'div':>4s} {'ESS/s':>6s} {'s/1000':>7s} {'x':>6s} {'self':>6s} "
        f"{'tree':>6s} {'process':>8s}\n"
        f"{'':16s} {'':4s} {'s':>8s} {'s':>7s} {'bulk':>8s} {'R-hat':>6s} {'':>4s} "
        f"{'sample':>6s} {'ESS':>7s} {'ours':>6s} {'MB':>6s} {'MB':>6s} {'s':>8s}"
    )
    ours = results["cit_bayes"]
    for program, runs in results.items():
        for run, r in runs.items():
            ratio = _per_1000(r) / _per_1000(ours[run])
            print(
                f"{program:16s} {run:4s} {r['compile_s']:8.2f} {r['sampling_s']:7.2f} "
                f"{r['ess']:8.0f} {r['rhat']:6.3f} {r['divergences']:4.0f} "
                f"{r['ess'] / r['sampling_s']:6.0f} {_per_1000(r):7.2f} {ratio:6.2f} "
                f"{r['self_mb']:6.0f} {r['tree_mb']:6.0f} {r['process_seconds']:8.1f}"
            )


def _print_goals(results: dict[str, dict[str, dict]]) -> None:
    warm = results["cit_bayes"]["warm"]
    ours = _per_1000(warm)
    counted = ours + warm["other_s"] * 1000 / warm["ess"]
    print(
        "\ngoals (warm, end to end: compile + sampling per 1,000 bulk ESS; measured only); "
        "second figure: with cit_bayes's g-computation and diagnostics counted too"
    )
    for program, goal in GOALS.items():
        if program not in results:
            continue
        peer = _per_1000(results[program]["warm"])
        verdict = "met" if peer / ours >= goal else "NOT met"
        print(
            f"  {program:16s} {peer / ours:5.2f} x cit_bayes (goal >= {goal:g}): {verdict}; "
            f"{peer / counted:5.2f} x ({'met' if peer / counted >= goal else 'NOT met'})"
        )


def _print_means(results: dict[str, dict[str, dict]], arms: list[str]) -> None:
    programs = list(results)
    print(
        "\narm intercepts (logit, reference patient), warm runs: posterior mean (MC SE); "
        "z = (peer - cit_bayes) / combined MC SE"
    )
    header = f"{'arm':14s}" + "".join(f" {p:>18s}" for p in programs)
    header += "".join(f" {'z ' + p.split()[0]:>9s}" for p in programs[1:])
    print(header)
    ours = results["cit_bayes"]["warm"]
    for j, arm in enumerate(arms):
        line = f"{arm:14s}"
        for p in programs:
            w = results[p]["warm"]
            line += f" {w['mean'][j]:10.3f} ({w['mcse'][j]:.3f})"
        for p in programs[1:]:
            w = results[p]["warm"]
            z = (w["mean"][j] - ours["mean"][j]) / np.hypot(w["mcse"][j], ours["mcse"][j])
            line += f" {z:9.2f}"
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, help="draws per chain (default: the plan's)")
    parser.add_argument("--tune", type=int, help="tuning steps (default: the plan's)")
    parser.add_argument("--no-bambi", action="store_true", help="skip Bambi + nutpie")
    parser.add_argument("--no-brms", action="store_true", help="skip brms")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    notes = []
    try:
        spec = _write_data(folder)
        spec |= {k: getattr(args, k) for k in ("draws", "tune") if getattr(args, k) is not None}
        print(
            f"response model, regression only: {spec['n']} patients, {len(spec['arms'])} arms, "
            f"{len(spec['covariates'])} covariates, unit weights; {spec['chains']} chains x "
            f"{spec['draws']} draws ({spec['tune']} tune), target_accept "
            f"{spec['target_accept']}, {spec['cores']} of {os.cpu_count()} cores",
            flush=True,
        )
        results = {"cit_bayes": _ours(spec, folder)}
        if args.no_bambi:
            notes.append("Bambi + nutpie: skipped (--no-bambi)")
        else:
            python, why = _peers_python()
            if python is None:
                notes.append(f"Bambi + nutpie: skipped: {why}")
            else:
                results["Bambi + nutpie"] = _bambi(spec, folder, python)
        why = "--no-brms" if args.no_brms else _brms_available()
        if why:
            notes.append(f"brms: not available ({why})")
        else:
            results["brms"] = _brms(spec, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    ours = results["cit_bayes"]["warm"]
    print(
        f"\ncit_bayes: PyMC {ours['versions']['pymc']}, PyTensor {ours['versions']['pytensor']}, "
        f"nutpie {ours['versions']['nutpie']}; mass matrix {ours['settings']['mass_matrix']}"
    )
    if "Bambi + nutpie" in results:
        v = results["Bambi + nutpie"]["warm"]["versions"]
        same = all(v[k] == ours["versions"][k] for k in ("pymc", "pytensor", "nutpie"))
        print(
            f"Bambi {v['bambi']}: PyMC {v['pymc']}, PyTensor {v['pytensor']}, nutpie "
            f"{v['nutpie']}"
            + (" (the same as cit_bayes)" if same else " (NOT the PyMC stack of cit_bayes)")
            + "; mass matrix diagonal (nutpie's default)"
        )
    if "brms" in results:
        b = results["brms"]
        v = b["warm"]["versions"]
        print(
            f"brms {v['brms']} (rstan {v['rstan']}); Stan's own time in the chains "
            f"(warmup + sampling, summed over chains): cold {b['cold']['chains_s']:.2f} s, "
            f"warm {b['warm']['chains_s']:.2f} s; warm = update() of the compiled fit read "
            "from .rds in a fresh R process"
        )
    print(
        "cit_bayes compile s = building the graph + compiling (or loading) it; the rest of its "
        "fit call (g-computation, diagnostics: the peers do neither; not counted): cold "
        f"{results['cit_bayes']['cold']['other_s']:.2f} s, warm {ours['other_s']:.2f} s"
    )
    _print_table(results)
    _print_goals(results)
    _print_means(results, spec["arms"])
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
