"""Prior sets: declared in ``models/priors/*.toml``, loaded into frozen dataclasses.

A prior set names one prior per endpoint block (``response``, ``plt``, ``recovery``, ``safety``).
Each block is one of three families, or a documented fallback to another set's block:

``family = "beta"`` (binary endpoints only)
    Independent ``Beta(a_k, b_k)`` on each arm's rate. Block keys ``a``, ``b`` (or ``mean``,
    ``ess`` with ``a = mean * ess``, ``b = (1 - mean) * ess``); per-arm overrides in
    ``[<block>.arms.<arm>]`` with the same keys.
``family = "normal"``
    A multivariate normal on the arm parameters theta (log-odds for a binary endpoint,
    ``scale = "logit"``; the mean itself for a continuous one, ``scale = "natural"``):
    ``theta_k = m + delta_k``, ``m ~ N(0, common_sd)``, ``delta_k ~ N(center_k + shift_k, sd_k)``,
    i.e. mean ``center_k + shift_k`` and covariance ``common_sd^2 J + diag(sd_k^2)`` (the
    skeptical / enthusiastic priors of Spiegelhalter et al.). Keys
    ``scale``, ``center``, ``common_sd`` (0 gives independent arms), ``between_arm_sd``; per-arm
    ``[<block>.arms.<arm>]`` with ``center``/``sd``; ``[<block>.shift]`` maps an arm to a shift,
    or to a table of shifts per block label (for example per day).
``family = "hierarchical"``
    ``theta_k = m + tau * z_k`` with ``z_k ~ N(0, 1)`` (non-centred), ``m ~ N(center,
    common_sd)``, ``tau ~ HalfNormal(tau_scale)``; one ``m`` and ``tau`` per block label. Keys
    ``scale``, ``center``, ``common_sd``, ``tau_scale``.
``same_as = "<set>"``
    Use that set's block (its ``rationale`` must say why).

Every block needs a ``rationale``. A block informed by the literature lists its
``[[<block>.sources]]`` (``agent``, ``quantity``, ``value``, ``unit``, ``reference``) and must state
its ``effective_sample_size`` (a number, or a table per arm); for a beta block the statement is
checked against ``a + b``. Anything malformed raises :class:`~cit_bayes.exceptions.PlanError`
naming the file and the key.

References
----------
Spiegelhalter DJ, Freedman LS, Parmar MKB. Bayesian approaches to randomized trials. *J R Stat
Soc A* 1994;157:357-416 (skeptical and enthusiastic priors).
Morita S, Thall PF, Mueller P. Determining the effective sample size of a parametric prior.
*Biometrics* 2008;64:595-602.
Gelman A. Prior distributions for variance parameters in hierarchical models. *Bayesian Anal*
2006;1:515-534.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cit_bayes._paths import models_dir
from cit_bayes.bayes.prior_families import (
    BetaPrior,
    HierarchicalPrior,
    NormalPrior,
    frozen_mapping,
)
from cit_bayes.exceptions import PlanError

__all__ = [
    "ENDPOINTS",
    "BINARY_ENDPOINTS",
    "BetaPrior",
    "NormalPrior",
    "HierarchicalPrior",
    "LiteratureSource",
    "EndpointPrior",
    "PriorSet",
    "priors_dir",
    "available_prior_sets",
    "load_prior_set",
    "load_prior_sets",
]

#: The endpoint blocks every prior set declares.
ENDPOINTS: tuple[str, ...] = ("response", "plt", "recovery", "safety")
#: Endpoints whose arm parameter is a probability (beta family allowed, scale "logit").
BINARY_ENDPOINTS: tuple[str, ...] = ("response", "safety")

_COMMON_KEYS = {"family", "rationale", "effective_sample_size", "sources"}
_FAMILY_KEYS = {
    "beta": {"a", "b", "mean", "ess", "arms"},
    "normal": {"scale", "center", "common_sd", "between_arm_sd", "shift", "arms"},
    "hierarchical": {"scale", "center", "common_sd", "tau_scale"},
}
_SOURCE_KEYS = {"agent", "quantity", "value", "unit", "reference"}


@dataclass(frozen=True)
class LiteratureSource:
    """One published number a prior is built from."""

    agent: str
    quantity: str
    value: float
    unit: str
    reference: str


@dataclass(frozen=True)
class EndpointPrior:
    """The prior of one endpoint block of a prior set.

    Attributes
    ----------
    endpoint : str
        ``response``, ``plt``, ``recovery`` or ``safety``.
    distribution : BetaPrior, NormalPrior or HierarchicalPrior
    rationale : str
        Why this prior (for a fallback, why the fallback).
    sources : tuple of LiteratureSource
        Published numbers used (empty if none).
    effective_sample_size : float, mapping of arm to float, or None
        The stated prior weight in patients.
    inherited_from : str or None
        The set whose block this is, for a ``same_as`` fallback.
    """

    endpoint: str
    distribution: BetaPrior | NormalPrior | HierarchicalPrior
    rationale: str
    sources: tuple[LiteratureSource, ...] = ()
    effective_sample_size: float | Mapping[str, float] | None = None
    inherited_from: str | None = None

    @property
    def family(self) -> str:
        """The distribution family (``beta``, ``normal`` or ``hierarchical``)."""
        return self.distribution.family


@dataclass(frozen=True)
class PriorSet:
    """A named prior set: one :class:`EndpointPrior` per endpoint block.

    ``sha256`` is the hash of the file's bytes; ``depends_on`` maps each set a ``same_as``
    fallback refers to onto its file hash, so that provenance covers every file used.
    """

    name: str
    title: str
    rationale: str
    path: str
    sha256: str
    blocks: Mapping[str, EndpointPrior]
    depends_on: Mapping[str, str] = field(default_factory=lambda: frozen_mapping(None))

    def __getitem__(self, endpoint: str) -> EndpointPrior:
        try:
            return self.blocks[endpoint]
        except KeyError:
            raise PlanError(f"prior set {self.name!r} has no block {endpoint!r}") from None


def priors_dir() -> Path:
    """Return the folder of prior sets (``models/priors``)."""
    return models_dir() / "priors"


def available_prior_sets(directory: str | Path | None = None) -> list[str]:
    """Return the names of the prior sets in ``directory`` (default ``models/priors``)."""
    folder = Path(directory) if directory is not None else priors_dir()
    return sorted(p.stem for p in folder.glob("*.toml"))


def load_prior_sets(
    names: Sequence[str] | None = None, directory: str | Path | None = None
) -> dict[str, PriorSet]:
    """Load several prior sets (default: every set in the folder), keyed by name, in order."""
    names = list(names) if names is not None else available_prior_sets(directory)
    if not names:
        raise PlanError(f"no prior sets found in {directory or priors_dir()}")
    return {name: load_prior_set(name, directory) for name in names}


def load_prior_set(name_or_path: str | Path, directory: str | Path | None = None) -> PriorSet:
    """Load and validate one prior set.

    Parameters
    ----------
    name_or_path : str or Path
        A set name (looked up as ``<directory>/<name>.toml``) or a path to a TOML file.
    directory : str or Path, optional
        Folder of prior sets; default ``models/priors``. ``same_as`` fallbacks are looked up
        in the folder of the file that names them.

    Raises
    ------
    PlanError
        If the file is missing or malformed (the message names the file and key).
    """
    return _load(name_or_path, directory, chain=())


def _resolve_path(name_or_path: str | Path, directory: str | Path | None) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        return candidate
    folder = Path(directory) if directory is not None else priors_dir()
    return folder / f"{name_or_path}.toml"


def _load(name_or_path: str | Path, directory: str | Path | None, chain: tuple[str, ...]):
    path = _resolve_path(name_or_path, directory)
    if not path.is_file():
        known = available_prior_sets(path.parent) if path.parent.is_dir() else []
        raise PlanError(f"prior set {str(name_or_path)!r} not found ({path}); known sets: {known}")
    raw_bytes = path.read_bytes()
    try:
        document = tomllib.loads(raw_bytes.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PlanError(f"{path}: not valid TOML: {error}") from error
    source = str(path)
    header = _table(document, "prior_set", source)
    _no_unknown(header, {"name", "title", "rationale"}, source, "prior_set")
    name = _text(header, "name", source, "prior_set")
    if name != path.stem:
        raise PlanError(f"{source}: key prior_set.name: {name!r} differs from the file name")
    if name in chain:
        raise PlanError(f"{source}: same_as cycle {' -> '.join((*chain, name))}")
    unknown = sorted(set(document) - {"prior_set", *ENDPOINTS})
    if unknown:
        raise PlanError(
            f"{source}: unknown table(s) {unknown}; expected {['prior_set', *ENDPOINTS]}"
        )
    blocks: dict[str, EndpointPrior] = {}
    depends_on: dict[str, str] = {}
    for endpoint in ENDPOINTS:
        block = _table(document, endpoint, source)
        if "same_as" in block:
            _no_unknown(block, {"same_as", "rationale"}, source, endpoint)
            other_name = _text(block, "same_as", source, endpoint)
            other = _load(other_name, path.parent, (*chain, name))
            blocks[endpoint] = EndpointPrior(
                endpoint=endpoint,
                distribution=other[endpoint].distribution,
                rationale=_text(block, "rationale", source, endpoint),
                sources=other[endpoint].sources,
                effective_sample_size=other[endpoint].effective_sample_size,
                inherited_from=other_name,
            )
            depends_on[other_name] = other.sha256
            depends_on.update(other.depends_on)
        else:
            blocks[endpoint] = _parse_block(block, endpoint, source)
    return PriorSet(
        name=name,
        title=_text(header, "title", source, "prior_set"),
        rationale=_text(header, "rationale", source, "prior_set"),
        path=source,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        blocks=frozen_mapping(blocks),
        depends_on=frozen_mapping(depends_on),
    )


def _parse_block(block: dict, endpoint: str, source: str) -> EndpointPrior:
    family = _text(block, "family", source, endpoint)
    if family not in _FAMILY_KEYS:
        raise PlanError(
            f"{source}: key {endpoint}.family: {family!r} is not one of {sorted(_FAMILY_KEYS)}"
        )
    if family == "beta" and endpoint not in BINARY_ENDPOINTS:
        raise PlanError(
            f"{source}: key {endpoint}.family: 'beta' applies to rates only "
            f"({', '.join(BINARY_ENDPOINTS)})"
        )
    _no_unknown(block, _COMMON_KEYS | _FAMILY_KEYS[family], source, endpoint)
    if family == "beta":
        distribution = _parse_beta(block, endpoint, source)
    else:
        expected_scale = "logit" if endpoint in BINARY_ENDPOINTS else "natural"
        scale = _text(block, "scale", source, endpoint)
        if scale != expected_scale:
            raise PlanError(
                f"{source}: key {endpoint}.scale: {scale!r}; the {endpoint} block is on the "
                f"{expected_scale!r} scale"
            )
        if family == "normal":
            distribution = _parse_normal(block, endpoint, source, scale)
        else:
            distribution = HierarchicalPrior(
                scale=scale,
                center=_number(block, "center", source, endpoint),
                common_sd=_number(block, "common_sd", source, endpoint, positive=True),
                tau_scale=_number(block, "tau_scale", source, endpoint, positive=True),
                source=source,
                key=endpoint,
            )
    sources = tuple(_parse_sources(block.get("sources", []), endpoint, source))
    ess = _parse_ess(block, endpoint, source)
    if sources and ess is None:
        raise PlanError(
            f"{source}: key {endpoint}.effective_sample_size: required for a block with sources"
        )
    if isinstance(distribution, BetaPrior) and ess is not None:
        _check_beta_ess(distribution, ess, endpoint, source)
    return EndpointPrior(
        endpoint=endpoint,
        distribution=distribution,
        rationale=_text(block, "rationale", source, endpoint),
        sources=sources,
        effective_sample_size=ess,
    )


def _beta_pair(table: dict, source: str, key: str) -> tuple[float, float]:
    has_ab = "a" in table or "b" in table
    has_mean = "mean" in table or "ess" in table
    if has_ab == has_mean:
        raise PlanError(f"{source}: key {key}: give either a and b, or mean and ess")
    if has_ab:
        return (
            _number(table, "a", source, key, positive=True),
            _number(table, "b", source, key, positive=True),
        )
    mean = _number(table, "mean", source, key)
    ess = _number(table, "ess", source, key, positive=True)
    if not 0.0 < mean < 1.0:
        raise PlanError(f"{source}: key {key}.mean: {mean} is not inside (0, 1)")
    return mean * ess, (1.0 - mean) * ess


def _parse_beta(block: dict, endpoint: str, source: str) -> BetaPrior:
    a, b = _beta_pair(
        {k: v for k, v in block.items() if k in {"a", "b", "mean", "ess"}}, source, endpoint
    )
    arm_a, arm_b = {}, {}
    for arm, table in _arm_tables(block, endpoint, source).items():
        _no_unknown(table, {"a", "b", "mean", "ess"}, source, f"{endpoint}.arms.{arm}")
        arm_a[arm], arm_b[arm] = _beta_pair(table, source, f"{endpoint}.arms.{arm}")
    return BetaPrior(
        a, b, frozen_mapping(arm_a), frozen_mapping(arm_b), source=source, key=endpoint
    )


def _parse_normal(block: dict, endpoint: str, source: str, scale: str) -> NormalPrior:
    arm_center, arm_sd = {}, {}
    for arm, table in _arm_tables(block, endpoint, source).items():
        key = f"{endpoint}.arms.{arm}"
        _no_unknown(table, {"center", "sd"}, source, key)
        if "center" in table:
            arm_center[arm] = _number(table, "center", source, key)
        if "sd" in table:
            arm_sd[arm] = _number(table, "sd", source, key, positive=True)
    shift: dict[str, float | Mapping[str, float]] = {}
    raw_shift = block.get("shift", {})
    if not isinstance(raw_shift, dict):
        raise PlanError(f"{source}: key {endpoint}.shift: expected a table of arm = shift")
    for arm, value in raw_shift.items():
        key = f"{endpoint}.shift"
        if isinstance(value, dict):
            shift[arm] = frozen_mapping(
                {b: _number(value, b, source, f"{key}.{arm}") for b in value}
            )
        else:
            shift[arm] = _number(raw_shift, arm, source, key)
    return NormalPrior(
        scale=scale,
        center=_number(block, "center", source, endpoint),
        common_sd=_number(block, "common_sd", source, endpoint, nonnegative=True),
        between_arm_sd=_number(block, "between_arm_sd", source, endpoint, positive=True),
        arm_center=frozen_mapping(arm_center),
        arm_sd=frozen_mapping(arm_sd),
        shift=frozen_mapping(shift),
        source=source,
        key=endpoint,
    )


def _arm_tables(block: dict, endpoint: str, source: str) -> dict[str, dict]:
    arms = block.get("arms", {})
    if not isinstance(arms, dict) or not all(isinstance(t, dict) for t in arms.values()):
        raise PlanError(f"{source}: key {endpoint}.arms: expected one table per arm")
    return arms


def _parse_sources(raw: Any, endpoint: str, source: str) -> list[LiteratureSource]:
    if not isinstance(raw, list):
        raise PlanError(f"{source}: key {endpoint}.sources: expected an array of tables")
    parsed = []
    for index, item in enumerate(raw):
        key = f"{endpoint}.sources[{index}]"
        if not isinstance(item, dict):
            raise PlanError(f"{source}: key {key}: expected a table")
        _no_unknown(item, _SOURCE_KEYS, source, key)
        missing = sorted(_SOURCE_KEYS - set(item))
        if missing:
            raise PlanError(f"{source}: key {key}: missing {missing}")
        parsed.append(
            LiteratureSource(
                agent=_text(item, "agent", source, key),
                quantity=_text(item, "quantity", source, key),
                value=_number(item, "value", source, key),
                unit=_text(item, "unit", source, key),
                reference=_text(item, "reference", source, key),
            )
        )
    return parsed


def _parse_ess(block: dict, endpoint: str, source: str) -> float | Mapping[str, float] | None:
    if "effective_sample_size" not in block:
        return None
    value = block["effective_sample_size"]
    key = f"{endpoint}.effective_sample_size"
    if isinstance(value, dict):
        return frozen_mapping(
            {arm: _number(value, arm, source, key, nonnegative=True) for arm in value}
        )
    return _number(block, "effective_sample_size", source, endpoint, nonnegative=True)


def _check_beta_ess(prior: BetaPrior, ess, endpoint: str, source: str) -> None:
    arms = set(prior.arm_a) | (set(ess) if isinstance(ess, Mapping) else set())
    checks = {arm: prior.arm_a.get(arm, prior.a) + prior.arm_b.get(arm, prior.b) for arm in arms}
    if not isinstance(ess, Mapping):
        checks = {"(every arm)": prior.a + prior.b} | checks
        stated = dict.fromkeys(checks, float(ess))
    else:
        stated = {arm: ess.get(arm, prior.a + prior.b) for arm in checks}
    for arm, total in checks.items():
        if abs(total - stated[arm]) > 1e-6 * max(1.0, total):
            raise PlanError(
                f"{source}: key {endpoint}.effective_sample_size: {stated[arm]} stated for "
                f"{arm}, but a + b = {total:g}"
            )


def _table(document: dict, key: str, source: str) -> dict:
    if key not in document:
        raise PlanError(f"{source}: missing table [{key}]")
    value = document[key]
    if not isinstance(value, dict):
        raise PlanError(f"{source}: key {key}: expected a table")
    return value


def _no_unknown(table: dict, allowed: set[str], source: str, key: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise PlanError(f"{source}: key {key}: unknown key(s) {unknown}; allowed {sorted(allowed)}")


def _text(table: dict, name: str, source: str, key: str) -> str:
    if name not in table:
        raise PlanError(f"{source}: key {key}.{name}: missing")
    value = table[name]
    if not isinstance(value, str) or not value.strip():
        raise PlanError(f"{source}: key {key}.{name}: expected non-empty text, got {value!r}")
    return value.strip()


def _number(
    table: dict,
    name: str,
    source: str,
    key: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
) -> float:
    if name not in table:
        raise PlanError(f"{source}: key {key}.{name}: missing")
    value = table[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise PlanError(f"{source}: key {key}.{name}: expected a finite number, got {value!r}")
    if positive and value <= 0:
        raise PlanError(f"{source}: key {key}.{name}: must be > 0, got {value}")
    if nonnegative and value < 0:
        raise PlanError(f"{source}: key {key}.{name}: must be >= 0, got {value}")
    return float(value)
