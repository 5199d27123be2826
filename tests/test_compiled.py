"""nutpie's callbacks compiled once per machine (cit_bayes.bayes.compiled, issue 17)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import nutpie
import pymc as pm
import pytest

from cit_bayes.bayes import compiled as compiled_module
from cit_bayes.bayes.compiled import compile_model


def _normal_mean_model(y: np.ndarray) -> pm.Model:
    with pm.Model() as model:
        data = pm.Data("y", y)
        prior_sd = pm.Data("prior_sd", 1.0)
        mu = pm.Normal("mu", 0.0, prior_sd)
        pm.Normal("obs", mu, 1.0, observed=data)
        pm.Deterministic("mu_twice", 2.0 * mu)
    return model


def _draws(compiled, seed: int = 3) -> np.ndarray:
    idata = nutpie.sample(
        compiled, draws=500, tune=300, chains=2, cores=1, seed=seed, progress_bar=False
    )
    return idata["posterior"]["mu"].values


def test_same_draws_as_nutpies_own_compilation():
    model = _normal_mean_model(np.array([0.3, 1.1, -0.4, 2.0]))
    ours, info = compile_model(model)
    assert info.cached
    theirs = nutpie.compile_pymc_model(model)
    # exact: the same PyTensor functions behind both callbacks, fast-math off, same seed
    np.testing.assert_array_equal(_draws(ours), _draws(theirs))


def test_with_data_swaps_data_and_prior_without_recompiling():
    rng = np.random.default_rng(5)
    y = rng.normal(1.5, 1.0, size=4)
    model = _normal_mean_model(np.zeros(4))
    compiled, _ = compile_model(model)
    # a different number of observations and a prior SD of 0.5: conjugate normal posterior
    y = rng.normal(1.5, 1.0, size=9)
    swapped = compiled.with_data(y=y, prior_sd=0.5)
    draws = _draws(swapped)
    precision = 1 / 0.5**2 + y.size
    mean, sd = y.sum() / precision, precision**-0.5
    # 1,000 draws: the MC SE of the mean is about sd / sqrt(ESS ~ 400) = 0.05 sd; 5 MC SE
    assert draws.mean() == pytest.approx(mean, abs=0.25 * sd)
    assert draws.std() == pytest.approx(sd, rel=0.15)
    with pytest.raises(ValueError, match="rank"):
        compiled.with_data(y=np.zeros((2, 2)))
    with pytest.raises(KeyError, match="unknown"):
        compiled.with_data(z=np.zeros(2))


_CHILD = textwrap.dedent(
    """
    import json, time
    import numpy as np, nutpie, pymc as pm
    from cit_bayes.bayes.compiled import compile_model
    with pm.Model() as model:
        y = pm.Data("y", np.array([0.3, 1.1, -0.4, 2.0]))
        sd = pm.Data("prior_sd", 1.0)
        logit = pm.Normal("logit", 0.0, sd, shape=2)
        pm.Normal("obs", logit.sum(), 1.0, observed=y)
        pm.Deterministic("rate", pm.math.sigmoid(logit))
    compiled, info = compile_model(model)
    idata = nutpie.sample(compiled, draws=200, tune=200, chains=2, cores=1, seed=9,
                          progress_bar=False)
    print(json.dumps({"cached": info.cached, "hits": info.hits, "stored": info.stored,
                      "draws": idata["posterior"]["rate"].values.ravel().tolist()}))
    """
)


def test_a_second_process_loads_the_callbacks_from_the_cache(tmp_path):
    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = f"base_compiledir={tmp_path / 'compiledir'}"
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert [run["hits"] for run in runs] == [0, 2]
    assert [run["stored"] for run in runs] == [False, True]  # no rewrites in the second
    assert all(run["cached"] for run in runs)
    # exact: same seed, cold and warm: the cached machine code is the code compiled cold
    assert runs[0]["draws"] == runs[1]["draws"]


def test_a_miss_builds_the_callbacks_on_the_functions_later_processes_load(tmp_path, monkeypatch):
    """PyTensor keys a loaded function's numba code differently from the freshly compiled
    one's (the recovery model: measured), so callbacks built on the fresh functions were
    compiled again in the second process (21.6 s there, 0.9 s now). On a miss the functions
    are stored, read back, and the callbacks built on what was read."""
    monkeypatch.setattr(compiled_module, "_store_directory", lambda: tmp_path)
    loads, inners = [], []
    real_load, real_callback = compiled_module._load, compiled_module._callback

    def load(*args):
        loads.append(real_load(*args))
        return loads[-1]

    def callback(inner, *args):
        inners.append(inner)
        return real_callback(inner, *args)

    monkeypatch.setattr(compiled_module, "_load", load)
    monkeypatch.setattr(compiled_module, "_callback", callback)
    model = _normal_mean_model(np.array([0.5, -1.0, 2.5]))
    compiled, info = compile_model(model)
    assert not info.stored and info.cached
    assert len(loads) == 2 and loads[0] is None and loads[1] is not None  # miss, read back
    assert inners == [loads[1][2].vm.jit_fn, loads[1][3].vm.jit_fn]
    np.testing.assert_array_equal(_draws(compiled), _draws(nutpie.compile_pymc_model(model)))


def test_the_store_keeps_the_functions_without_the_data(tmp_path, monkeypatch):
    monkeypatch.setattr(compiled_module, "_store_directory", lambda: tmp_path)
    marker = 271828.18281828  # a value no graph holds
    y = np.full(5, marker)
    model = _normal_mean_model(y)
    _, info = compile_model(model)
    assert not info.stored
    (path,) = tmp_path.glob("*.pkl")
    assert np.float64(marker).tobytes() not in path.read_bytes()
    np.testing.assert_array_equal(model["y"].get_value(), y)  # put back after pickling
    # the same structure with other data (another length too): loaded, not rewritten, and the
    # draws are those of nutpie's own compilation of that model, bit for bit
    other = _normal_mean_model(np.array([0.5, -1.0, 2.5]))
    loaded, info = compile_model(other)
    assert info.stored and info.cached
    np.testing.assert_array_equal(_draws(loaded), _draws(nutpie.compile_pymc_model(other)))
    assert len(list(tmp_path.glob("*.pkl"))) == 1


def test_another_structure_is_stored_apart_and_a_damaged_file_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(compiled_module, "_store_directory", lambda: tmp_path)
    _, first = compile_model(_normal_mean_model(np.zeros(3)))
    with pm.Model() as changed:  # the same but for the deterministic: another structure
        prior_sd = pm.Data("prior_sd", 1.0)
        mu = pm.Normal("mu", 0.0, prior_sd)
        pm.Normal("obs", mu, 1.0, observed=pm.Data("y", np.zeros(3)))
        pm.Deterministic("mu_twice", 3.0 * mu)
    _, second = compile_model(changed)
    assert not first.stored and not second.stored
    paths = sorted(tmp_path.glob("*.pkl"))
    assert len(paths) == 2
    for path in paths:
        path.write_bytes(b"not a pickle")
    model = _normal_mean_model(np.array([1.0, 2.0]))
    recompiled, info = compile_model(model)
    assert not info.stored  # compiled anew ...
    loaded, info = compile_model(model)
    assert info.stored  # ... and the file replaced
    np.testing.assert_array_equal(_draws(recompiled), _draws(loaded))


def test_a_store_that_cannot_take_the_file_leaves_the_fit_compiled(tmp_path, monkeypatch):
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    monkeypatch.setattr(compiled_module, "_store_directory", lambda: blocked / "store")
    model = _normal_mean_model(np.array([0.5, 1.5]))
    compiled, info = compile_model(model)
    assert info.cached and not info.stored
    np.testing.assert_array_equal(model["y"].get_value(), [0.5, 1.5])  # data put back
    assert _draws(compiled).shape == (2, 500)
    assert blocked.read_text() == ""
