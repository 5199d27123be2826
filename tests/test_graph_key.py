"""A graph's structural digest (cit_bayes.bayes.graph_key), the key of the compiled-function store."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor import shared

from cit_bayes.bayes.compiled import _structure
from cit_bayes.bayes.graph_key import graph_digest
from cit_bayes.bayes.response import _build


def _response_model(n: int, seed: int, **options) -> pm.Model:
    """The package's response model for n patients, its pm.Data set to random values."""
    rng = np.random.default_rng(seed)
    model = _build(n, ("a", "b", "c"), ("age", "stage"), **options)
    pm.set_data(
        {
            "row_design": rng.normal(size=(n, 2)),
            "row_arm_index": rng.integers(0, 3, n),
            "row_response": rng.integers(0, 2, n),
            "row_weight": rng.uniform(0.5, 2.0, n),
        },
        model=model,
    )
    return model


def test_data_and_weights_do_not_change_the_digest_but_the_structure_does():
    digest = _structure(_response_model(40, seed=1, pool_arms=False, family="logistic"))
    same = _structure(_response_model(40, seed=2, pool_arms=False, family="logistic"))
    assert digest.hexdigest == same.hexdigest
    assert set(digest.shared) >= {"row_design", "row_weight", "prior_coefficient_sd"}
    # the likelihood runs over the distinct rows, whose number is data: another cohort size
    # has the same compiled functions
    assert _structure(
        _response_model(57, seed=3, pool_arms=False, family="logistic")
    ).hexdigest == (digest.hexdigest)
    others = [
        _structure(_response_model(40, seed=1, pool_arms=True, family="logistic")),
        _structure(_response_model(40, seed=1, pool_arms=False, family="normal")),
        _structure(_response_model(40, seed=1, pool_arms=True, family="logistic", fixed=True)),
    ]
    assert len({digest.hexdigest, *(other.hexdigest for other in others)}) == 4


def test_constants_ops_and_output_names_are_part_of_the_digest():
    x = pt.dvector("x")
    scale = shared(np.ones(3), name="scale")
    base = graph_digest([x], [(x * scale).sum()]).hexdigest
    assert graph_digest([x], [(x * scale).sum()]).hexdigest == base
    assert graph_digest([x], [(x * scale * 2.0).sum()]).hexdigest != base
    assert (
        graph_digest([x], [(x * scale * 3.0).sum()]).hexdigest
        != graph_digest([x], [(x * scale * 2.0).sum()]).hexdigest
    )
    assert graph_digest([x], [(x + scale).sum()]).hexdigest != base
    assert graph_digest([x], [(x * scale).prod()]).hexdigest != base
    named = (x * scale).sum()
    named.name = "total"
    assert graph_digest([x], [named]).hexdigest != base
    assert graph_digest([x], [(x * scale).sum()], "another version").hexdigest != base
    scale.set_value(np.full(3, 7.0))  # a shared value is data, not structure
    assert graph_digest([x], [(x * scale).sum()]).hexdigest == base


def test_graphs_without_an_exact_description_have_no_digest():
    x = pt.dvector("x")
    assert graph_digest([x], [(x * shared(2.0)).sum()]) is None  # unnamed shared variable
    twins = shared(1.0, name="w"), shared(2.0, name="w")
    assert graph_digest([x], [(x * twins[0] + twins[1]).sum()]) is None
    y = pt.dvector("y")  # a root that is not among the inputs
    assert graph_digest([x], [(x * y).sum()]) is None


_CHILD = textwrap.dedent(
    """
    from cit_bayes.bayes.compiled import _structure
    from cit_bayes.bayes.response import _build
    model = _build(30, ("a", "b"), ("age",), pool_arms=True, family="logistic")
    print(_structure(model).hexdigest)
    """
)


def test_the_digest_is_the_same_in_every_process():
    """Python salts str hashes per process: the digest must not depend on them (this process's
    salt is random, the child's fixed)."""
    here = _structure(_build(30, ("a", "b"), ("age",), pool_arms=True, family="logistic"))
    env = dict(os.environ, PYTHONHASHSEED="1")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == here.hexdigest
