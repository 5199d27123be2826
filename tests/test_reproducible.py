"""Same seed, same numbers: cold or warm compile cache, in a fresh process (issue 13, item 4).

References: none but the package itself: the same seed must give the same draws bit for bit
(exact comparison of hashes on purpose: no tolerance, the claim is identity) when PyTensor's
on-disk numba cache is empty ("cold") and when it holds the compiled functions of an earlier
run ("warm"). Each run is a new Python process with its own ``base_compiledir``, so the test
does not depend on, or disturb, the cache of the user running it.

The fast test uses one small model (two processes, about 20 s each); the slow one
(``make slow``) runs the whole published reanalysis cold and warm, which is where fast-math
code once gave different last bits and a different hierarchical posterior.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import hashlib, sys
import numpy as np
import pymc as pm
import pytensor
from cit_bayes.bayes.sampling import SamplerSettings, sample

with pm.Model(coords={"arm": ["a", "b", "c"]}) as model:
    y = pm.Data("y", np.array([[0.3, -1.0, 2.0], [1.1, -0.2, 2.5], [0.8, -0.7, 1.1]]))
    mu = pm.Normal("mu", 0.0, 3.0, dims="arm")
    sd = pm.HalfNormal("sd", 1.0)
    pm.Normal("obs", mu, sd, observed=y)
fit = sample(model, seed=5, settings=SamplerSettings(draws=300, tune=300), name="tiny")
draws = fit.idata["posterior"]["mu"].to_numpy()
print(pytensor.config.numba__fastmath, hashlib.sha256(draws.tobytes()).hexdigest())
"""


def _python(code: str, cache: Path, flags: str = "") -> str:
    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = ",".join(f for f in (f"base_compiledir={cache}", flags) if f)
    env["PYTHONWARNINGS"] = "ignore"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def test_fast_math_is_off_unless_the_user_turns_it_on(tmp_path):
    import pytensor

    import cit_bayes.bayes  # noqa: F401  (applies the package's PyTensor settings)

    assert pytensor.config.numba__fastmath is False
    code = "import cit_bayes.bayes, pytensor; print(pytensor.config.numba__fastmath)"
    assert _python(code, tmp_path / "cache", "numba__fastmath=True") == "True"
    assert _python(code, tmp_path / "cache") == "False"


def test_cold_and_warm_compile_cache_give_the_same_draws(tmp_path):
    cache = tmp_path / "pytensor"
    cold = _python(SCRIPT, cache)
    assert any(cache.rglob("*")), "the first run should have filled the cache"
    warm = _python(SCRIPT, cache)
    assert cold.startswith("False ")
    assert cold == warm


@pytest.mark.slow
def test_published_reanalysis_is_identical_cold_and_warm(tmp_path):
    cache = tmp_path / "pytensor"
    outputs = []
    for run in ("cold", "warm"):
        out = tmp_path / run
        env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={cache}")
        cli = Path(sys.executable).parent / "cit-bayes"
        subprocess.run(
            [str(cli), "reanalyse", "--published", "--no-idata", "--out", str(out)],
            env=env,
            check=True,
            capture_output=True,
        )
        outputs.append((out / "results.json").read_bytes())
    assert outputs[0] == outputs[1]
    results = json.loads(outputs[0])
    assert "hierarchical" in results["response"]


def test_the_number_of_cores_does_not_change_the_draws():
    # a machine with 2 cores and one with 16 run the 4 chains differently in parallel; each
    # chain's random stream depends on the seed and the chain's index only
    import hashlib

    import numpy as np
    import pymc as pm

    from cit_bayes.bayes.sampling import SamplerSettings, sample

    with pm.Model(coords={"arm": ["a", "b", "c"]}) as model:
        y = pm.Data("y", np.array([[0.3, -1.0, 2.0], [1.1, -0.2, 2.5], [0.8, -0.7, 1.1]]))
        mu = pm.Normal("mu", 0.0, 3.0, dims="arm")
        sd = pm.HalfNormal("sd", 1.0)
        pm.Normal("obs", mu, sd, observed=y)
    hashes = set()
    for cores in (1, 2, 4):
        settings = SamplerSettings(draws=300, tune=300, cores=cores)
        fit = sample(model, seed=5, settings=settings, name="tiny")
        hashes.add(hashlib.sha256(fit.idata["posterior"]["mu"].to_numpy().tobytes()).hexdigest())
    assert len(hashes) == 1
