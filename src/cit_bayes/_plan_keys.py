"""Typed look-ups in a parsed TOML plan, each failure a :class:`PlanError` naming file and key.

Shared by the analysis plan (:mod:`cit_bayes.plan`) and the published reanalysis's plan
(:mod:`cit_bayes.reanalysis_plan`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from cit_bayes.cohort.schema import ARMS
from cit_bayes.exceptions import PlanError

__all__ = ["read_toml", "get", "get_list", "get_pairs", "get_arm"]

NUMBER = (int, float)


def read_toml(path: Path, what: str) -> tuple[bytes, dict]:
    """The raw bytes (for the plan hash) and the parsed document of a plan file."""
    source = str(path)
    if not path.is_file():
        raise PlanError(f"{what} not found: {source}")
    raw = path.read_bytes()
    try:
        return raw, tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PlanError(f"{source}: not valid TOML: {error}") from error


def get(table: dict, key: str, source: str, kind: type | tuple, section: str):
    """``table[key]`` if present and of ``kind`` (a bool never passes as a number)."""
    if key not in table:
        where = f"table [{key}]" if section == "(top)" else f"key {section}.{key}"
        raise PlanError(f"{source}: {where}: missing")
    value = table[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise PlanError(f"{source}: key {section}.{key}: unexpected value {value!r}")
    return value


def get_list(table: dict, key: str, source: str, section: str, kind: type | tuple) -> tuple:
    """A non-empty list of ``kind`` (numbers come back as floats)."""
    values = get(table, key, source, list, section)
    if not values or not all(isinstance(v, kind) and not isinstance(v, bool) for v in values):
        raise PlanError(f"{source}: key {section}.{key}: expected a non-empty list of {kind}")
    return tuple(float(v) if kind == NUMBER else v for v in values)


def get_pairs(raw, source: str, key: str) -> tuple[tuple[str, str], ...]:
    """A list of [arm, arm] pairs of two different canonical arms."""
    if not isinstance(raw, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(a in ARMS for a in p) and p[0] != p[1]
        for p in raw
    ):
        raise PlanError(f"{source}: key {key}: expected pairs of two different arms from {ARMS}")
    return tuple((a, b) for a, b in raw)


def get_arm(table: dict, key: str, source: str, section: str) -> str:
    """A canonical arm label."""
    arm = get(table, key, source, str, section)
    if arm not in ARMS:
        raise PlanError(f"{source}: key {section}.{key}: {arm!r} is not one of {ARMS}")
    return arm
