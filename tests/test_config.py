"""The one TOML loader (cit_bayes.config): types, limits, messages naming file and key, the hash.

References: the rules stated in the module's docstring; the canonical hash against hashlib on
the canonical JSON written by hand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import pytest

from cit_bayes.config import build, canonical_hash, parse_toml, read_toml, setting
from cit_bayes.exceptions import PlanError


@dataclass(frozen=True)
class Inner:
    margin: float = setting(low=0.0, high=1.0, open_low=True, open_high=True)


@dataclass(frozen=True)
class Outer:
    name: str
    method: Literal["entropy", "propensity"] = "entropy"
    days: tuple[str, ...] = setting(("day7",), choices=("day3", "day7", "day14"), distinct=True)
    span: tuple[int, int] = (18, 80)
    weights: dict[str, float] = setting(None, low=-1.0, high=1.0)
    inner: Inner | None = None
    seed: int = setting(1, low=0)

    def __post_init__(self):
        if self.span[0] >= self.span[1]:
            raise ValueError(f"span must increase, got {self.span}")


def test_a_table_becomes_the_dataclass_with_defaults():
    table = {"name": "x", "days": ["day3", "day14"], "span": [20, 70], "inner": {"margin": 0.1}}
    built = build(Outer, table, "plan.toml", "section")
    assert built == Outer("x", "entropy", ("day3", "day14"), (20, 70), None, Inner(0.1), 1)
    assert isinstance(built.inner.margin, float)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({}, "plan.toml: key s.name: missing"),
        ({"name": "x", "colour": 1}, "plan.toml: table [s]: unknown key(s) ['colour']"),
        ({"name": 3}, "plan.toml: key s.name: expected text, got 3"),
        ({"name": "x", "method": "other"}, "key s.method: 'other' is not one of"),
        ({"name": "x", "days": ["day5"]}, "key s.days: 'day5' is not one of"),
        ({"name": "x", "days": ["day3", "day3"]}, "key s.days: lists an item twice"),
        ({"name": "x", "span": [1]}, "key s.span: expected a list of 2 items"),
        ({"name": "x", "span": [1.5, 2]}, "key s.span: expected a whole number, got 1.5"),
        ({"name": "x", "seed": True}, "key s.seed: expected a number, got True"),
        ({"name": "x", "seed": -1}, "key s.seed: -1 is outside [0, inf]"),
        ({"name": "x", "weights": {"a": 2.0}}, "key s.weights.a: 2.0 is outside [-1, 1]"),
        ({"name": "x", "inner": {"margin": 1}}, "key s.inner.margin: 1.0 is outside (0, 1)"),
        ({"name": "x", "span": [5, 2]}, "plan.toml: table [s]: span must increase"),
    ],
)
def test_every_problem_names_the_file_and_the_key(table, message):
    with pytest.raises(PlanError) as caught:
        build(Outer, table, "plan.toml", "s")
    assert message in str(caught.value)


def test_read_toml_refuses_what_is_not_a_small_toml_file(tmp_path):
    with pytest.raises(PlanError, match="analysis plan not found"):
        read_toml(tmp_path / "none.toml", "analysis plan")
    with pytest.raises(PlanError, match="is not a regular file"):
        read_toml(tmp_path, "analysis plan")
    bad = tmp_path / "bad.toml"
    bad.write_text("[plan\nname = 1", encoding="utf-8")
    with pytest.raises(PlanError, match="bad.toml: not valid TOML"):
        read_toml(bad)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PlanError, match="not UTF-8"):
        read_toml(binary)
    deep = "x = " + "[" * 5000 + "]" * 5000
    with pytest.raises(PlanError) as caught:
        parse_toml(deep, "deep.toml")
    assert len(str(caught.value)) < 400


def test_the_hash_ignores_comments_and_order_but_not_values(tmp_path):
    one = tmp_path / "one.toml"
    one.write_text('# a comment\n[a]\ny = 2\nx = "1"\n', encoding="utf-8")
    two = tmp_path / "two.toml"
    two.write_text('[a]\nx = "1"\n\ny = 2 # another\n', encoding="utf-8")
    three = tmp_path / "three.toml"
    three.write_text('[a]\nx = "1"\ny = 3\n', encoding="utf-8")
    assert read_toml(one).sha256 == read_toml(two).sha256 != read_toml(three).sha256
    expected = hashlib.sha256(b'{"a":{"x":"1","y":2}}').hexdigest()
    assert canonical_hash({"a": {"y": 2, "x": "1"}}) == expected == read_toml(one).sha256
