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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from cit_bayes._paths import models_dir
from cit_bayes.bayes.prior_families import (
    BetaPrior,
    HierarchicalPrior,
    NormalPrior,
    frozen_mapping,
)
from cit_bayes.config import build, read_toml, setting, where
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


@dataclass(frozen=True)
class LiteratureSource:
    """One published number a prior is built from.

    Examples
    --------
    >>> from cit_bayes.bayes.priors import load_prior_set
    >>> source = load_prior_set("literature")["response"].sources[0]
    >>> source.agent, source.value, source.unit
    ('eltrombopag', 0.75, 'proportion')
    """

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

    Examples
    --------
    >>> from cit_bayes.bayes.priors import load_prior_set
    >>> block = load_prior_set("literature")["plt"]
    >>> block.endpoint, block.family, block.inherited_from
    ('plt', 'normal', 'flat')
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

    ``sha256`` is the package's hash of the file's content (:func:`cit_bayes.config.canonical_hash`); ``depends_on`` maps each set a ``same_as``
    fallback refers to onto its file hash, so that provenance covers every file used.

    Examples
    --------
    >>> from cit_bayes.bayes.priors import load_prior_set
    >>> prior_set = load_prior_set("enthusiastic")
    >>> list(prior_set.blocks), list(prior_set.depends_on), len(prior_set.sha256)
    (['response', 'plt', 'recovery', 'safety'], ['skeptical'], 64)
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
    """Return the folder of prior sets (``models/priors``).

    Examples
    --------
    >>> from cit_bayes.bayes.priors import priors_dir
    >>> priors_dir().name, (priors_dir() / "flat.toml").is_file()
    ('priors', True)
    """
    return models_dir() / "priors"


def available_prior_sets(directory: str | Path | None = None) -> list[str]:
    """Return the names of the prior sets in ``directory`` (default ``models/priors``).

    Examples
    --------
    >>> from cit_bayes.bayes.priors import available_prior_sets
    >>> available_prior_sets()
    ['enthusiastic', 'flat', 'hierarchical', 'literature', 'skeptical']
    """
    folder = Path(directory) if directory is not None else priors_dir()
    return sorted(p.stem for p in folder.glob("*.toml"))


def load_prior_sets(
    names: Sequence[str] | None = None, directory: str | Path | None = None
) -> dict[str, PriorSet]:
    """Load several prior sets (default: every set in the folder), keyed by name, in order.

    Examples
    --------
    >>> from cit_bayes.bayes.priors import load_prior_sets
    >>> prior_sets = load_prior_sets(["skeptical", "flat"])
    >>> [(name, prior_set["response"].family) for name, prior_set in prior_sets.items()]
    [('skeptical', 'normal'), ('flat', 'beta')]
    """
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

    Examples
    --------
    >>> from cit_bayes.bayes.priors import load_prior_set
    >>> prior_set = load_prior_set("hierarchical")
    >>> prior_set.name, prior_set["recovery"].family
    ('hierarchical', 'hierarchical')
    """
    return _load(name_or_path, directory, chain=())


def _resolve_path(name_or_path: str | Path, directory: str | Path | None) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        return candidate
    folder = Path(directory) if directory is not None else priors_dir()
    return folder / f"{name_or_path}.toml"


# The tables of a prior-set file as the package's one loader reads them (cit_bayes.config);
# _endpoint_prior turns a block into the EndpointPrior the models use.
@dataclass(frozen=True)
class _Header:
    name: str
    title: str
    rationale: str


@dataclass(frozen=True)
class _BetaValues:
    """``a`` and ``b``, or ``mean`` and ``ess`` (a = mean * ess, b = (1 - mean) * ess)."""

    a: float | None = setting(None, low=0.0, open_low=True)
    b: float | None = setting(None, low=0.0, open_low=True)
    mean: float | None = setting(None, low=0.0, high=1.0, open_low=True, open_high=True)
    ess: float | None = setting(None, low=0.0, open_low=True)

    def __post_init__(self):
        pairs = (
            self.a is not None and self.b is not None,
            self.mean is not None and self.ess is not None,
        )
        given = sum(v is not None for v in (self.a, self.b, self.mean, self.ess))
        if sum(pairs) != 1 or given != 2:
            raise ValueError("give either a and b, or mean and ess")

    def pair(self) -> tuple[float, float]:
        if self.a is not None:
            return self.a, self.b
        return self.mean * self.ess, (1.0 - self.mean) * self.ess


@dataclass(frozen=True)
class _Block:
    """What every family's block has."""

    family: Literal["beta", "normal", "hierarchical"] = "beta"
    rationale: str = ""
    effective_sample_size: float | dict[str, float] | None = setting(None, low=0.0)
    sources: tuple[LiteratureSource, ...] = ()


@dataclass(frozen=True)
class _BetaBlock(_Block, _BetaValues):
    arms: dict[str, _BetaValues] | None = None


@dataclass(frozen=True)
class _NormalArm:
    center: float | None = None
    sd: float | None = setting(None, low=0.0, open_low=True)


@dataclass(frozen=True)
class _NormalBlock(_Block):
    scale: str = ""
    center: float = setting(0.0)
    common_sd: float = setting(0.0, low=0.0)
    between_arm_sd: float = setting(1.0, low=0.0, open_low=True)
    shift: dict[str, float | dict[str, float]] | None = None
    arms: dict[str, _NormalArm] | None = None


@dataclass(frozen=True)
class _HierarchicalBlock(_Block):
    scale: str = ""
    center: float = 0.0
    common_sd: float = setting(1.0, low=0.0, open_low=True)
    tau_scale: float = setting(1.0, low=0.0, open_low=True)


@dataclass(frozen=True)
class _Fallback:
    same_as: str
    rationale: str


_FAMILIES = {"beta": _BetaBlock, "normal": _NormalBlock, "hierarchical": _HierarchicalBlock}
#: Keys each family's block must give (the rest have defaults or are optional).
_REQUIRED = {
    "beta": (),
    "normal": ("scale", "center", "common_sd", "between_arm_sd"),
    "hierarchical": ("scale", "center", "common_sd", "tau_scale"),
}


def _load(name_or_path: str | Path, directory: str | Path | None, chain: tuple[str, ...]):
    path = _resolve_path(name_or_path, directory)
    if not path.is_file():
        known = available_prior_sets(path.parent) if path.parent.is_dir() else []
        raise PlanError(f"prior set {str(name_or_path)!r} not found ({path}); known sets: {known}")
    document = read_toml(path, "prior set")
    source = document.source
    data = document.data
    unknown = sorted(set(data) - {"prior_set", *ENDPOINTS})
    if unknown:
        raise PlanError(
            f"{source}: unknown table(s) {unknown}; expected {['prior_set', *ENDPOINTS]}"
        )
    for table in ("prior_set", *ENDPOINTS):
        if table not in data:
            raise PlanError(f"{where(source, table)}: missing")
    header = build(_Header, data["prior_set"], source, "prior_set")
    name = _checked(header.name, source, "prior_set", "name")
    if name != path.stem:
        raise PlanError(f"{source}: key prior_set.name: {name!r} differs from the file name")
    if name in chain:
        raise PlanError(f"{source}: same_as cycle {' -> '.join((*chain, name))}")
    blocks: dict[str, EndpointPrior] = {}
    depends_on: dict[str, str] = {}
    for endpoint in ENDPOINTS:
        block = data[endpoint]
        if isinstance(block, dict) and "same_as" in block:
            fallback = build(_Fallback, block, source, endpoint)
            other = _load(fallback.same_as, path.parent, (*chain, name))
            blocks[endpoint] = replace(
                other[endpoint],
                rationale=_checked(fallback.rationale, source, endpoint),
                inherited_from=fallback.same_as,
            )
            depends_on[fallback.same_as] = other.sha256
            depends_on.update(other.depends_on)
        else:
            blocks[endpoint] = _endpoint_prior(block, endpoint, source)
    return PriorSet(
        name=name,
        title=_checked(header.title, source, "prior_set", "title"),
        rationale=_checked(header.rationale, source, "prior_set", "rationale"),
        path=source,
        sha256=document.sha256,
        blocks=frozen_mapping(blocks),
        depends_on=frozen_mapping(depends_on),
    )


def _checked(text: str, source: str, section: str, key: str = "rationale") -> str:
    if not text.strip():
        raise PlanError(f"{where(source, section, key)}: expected non-empty text")
    return text.strip()


def _endpoint_prior(block, endpoint: str, source: str) -> EndpointPrior:
    family = block.get("family") if isinstance(block, dict) else None
    if family not in _FAMILIES:
        raise PlanError(
            f"{where(source, endpoint, 'family')}: {family!r} is not one of {sorted(_FAMILIES)}"
        )
    if family == "beta" and endpoint not in BINARY_ENDPOINTS:
        raise PlanError(
            f"{where(source, endpoint, 'family')}: 'beta' applies to rates only "
            f"({', '.join(BINARY_ENDPOINTS)})"
        )
    missing = [key for key in ("rationale", *_REQUIRED[family]) if key not in block]
    if missing:
        raise PlanError(f"{where(source, endpoint, missing[0])}: missing")
    parsed = build(_FAMILIES[family], block, source, endpoint)
    if family == "beta":
        arms = parsed.arms or {}
        pairs = {arm: values.pair() for arm, values in arms.items()}
        distribution = BetaPrior(
            *parsed.pair(),
            frozen_mapping({arm: pair[0] for arm, pair in pairs.items()}),
            frozen_mapping({arm: pair[1] for arm, pair in pairs.items()}),
            source=source,
            key=endpoint,
        )
    else:
        expected_scale = "logit" if endpoint in BINARY_ENDPOINTS else "natural"
        if parsed.scale != expected_scale:
            raise PlanError(
                f"{where(source, endpoint, 'scale')}: {parsed.scale!r}; the {endpoint} block is "
                f"on the {expected_scale!r} scale"
            )
        distribution = (
            _normal(parsed, source, endpoint)
            if family == "normal"
            else (
                HierarchicalPrior(
                    scale=parsed.scale,
                    center=parsed.center,
                    common_sd=parsed.common_sd,
                    tau_scale=parsed.tau_scale,
                    source=source,
                    key=endpoint,
                )
            )
        )
    ess = parsed.effective_sample_size
    if isinstance(ess, dict):
        ess = frozen_mapping(ess)
    if parsed.sources and ess is None:
        raise PlanError(
            f"{where(source, endpoint, 'effective_sample_size')}: required for a block with sources"
        )
    if isinstance(distribution, BetaPrior) and ess is not None:
        _check_beta_ess(distribution, ess, endpoint, source)
    return EndpointPrior(
        endpoint=endpoint,
        distribution=distribution,
        rationale=_checked(parsed.rationale, source, endpoint),
        sources=parsed.sources,
        effective_sample_size=ess,
    )


def _normal(parsed: _NormalBlock, source: str, endpoint: str) -> NormalPrior:
    arms = parsed.arms or {}
    shift = {
        arm: frozen_mapping(value) if isinstance(value, dict) else value
        for arm, value in (parsed.shift or {}).items()
    }
    return NormalPrior(
        scale=parsed.scale,
        center=parsed.center,
        common_sd=parsed.common_sd,
        between_arm_sd=parsed.between_arm_sd,
        arm_center=frozen_mapping({a: t.center for a, t in arms.items() if t.center is not None}),
        arm_sd=frozen_mapping({a: t.sd for a, t in arms.items() if t.sd is not None}),
        shift=frozen_mapping(shift),
        source=source,
        key=endpoint,
    )


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
