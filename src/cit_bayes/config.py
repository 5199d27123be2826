"""One TOML loader for every file of ours, and one hash rule.

Every declarative file the package reads (the analysis plan ``models/default.toml``, the
published-tables plan, prior sets, reconstruction plans, simulator scenarios, column mappings)
goes through :func:`read_toml`; its tables become frozen dataclasses through :func:`build`,
which reads each field's type from the dataclass's annotations and its limits from the field's
metadata (:func:`setting`). Every problem is a :class:`~cit_bayes.exceptions.PlanError` that
names the file and the key (``default.toml: key weighting.trim: ...``).

The hash of a file (:attr:`Document.sha256`) is the SHA-256 of its parsed content written as
canonical JSON (sorted keys, no spaces): comments, blank lines and key order do not change it,
any value does. It is the fingerprint every result carries of the plan that made it.

Why our own: ``tomllib`` parses but checks nothing, and the validators that would check
(pydantic, attrs' validators, cattrs) would bring a second way to declare a dataclass next to
the frozen dataclasses every module already passes around; this module is the small piece
missing between the two.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any

from cit_bayes.exceptions import CitBayesError, PlanError

__all__ = [
    "Document",
    "read_toml",
    "parse_toml",
    "canonical_hash",
    "setting",
    "build",
    "build_sections",
    "check_fields",
    "where",
]

#: TOML nested deeper than this is refused before it is walked (a hostile file cannot make the
#: loader recurse without bound).
MAX_DEPTH = 32
#: Files larger than this are not read (our files are a few KB).
MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Document:
    """A parsed TOML file.

    Attributes
    ----------
    path : Path
    source : str
        How messages name the file (its path as given).
    data : dict
        The parsed tables.
    sha256 : str
        :func:`canonical_hash` of ``data``.

    Examples
    --------
    >>> from pathlib import Path
    >>> data = parse_toml("seed = 1", "plan.toml")
    >>> document = Document(Path("plan.toml"), "plan.toml", data, canonical_hash(data))
    >>> document.data, len(document.sha256)
    ({'seed': 1}, 64)
    """

    path: Path
    source: str
    data: dict
    sha256: str


def canonical_hash(data: Mapping) -> str:
    """SHA-256 of ``data`` as canonical JSON (the one hash rule of the package).

    Examples
    --------
    >>> canonical_hash({"b": 1, "a": [1.5, "x"]}) == canonical_hash({"a": [1.5, "x"], "b": 1})
    True
    """
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _depth(value, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def parse_toml(text: str, source: str) -> dict:
    """Parse TOML text; a syntax error or too deep a nesting is a :class:`PlanError`.

    Examples
    --------
    >>> parse_toml("[sampler]\\nchains = 4", "plan.toml")
    {'sampler': {'chains': 4}}
    >>> parse_toml("seed = ", "plan.toml")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: plan.toml: not valid TOML: Invalid value (at end of document)
    """
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as error:
        raise PlanError(f"{source}: not valid TOML: {str(error)[:300]}") from None
    if _depth(data) > MAX_DEPTH:
        raise PlanError(f"{source}: tables or lists nested deeper than {MAX_DEPTH} levels")
    return data


def read_toml(path: str | Path, what: str = "file") -> Document:
    """Read and parse a TOML file of ours.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for the message when it is missing ("analysis plan", ...).

    Raises
    ------
    PlanError
        The file is missing, not a regular file, too large, not UTF-8 or not valid TOML.

    Examples
    --------
    >>> from cit_bayes._paths import models_dir
    >>> plan = read_toml(models_dir() / "default.toml", "analysis plan")
    >>> plan.data["plan"]["name"], len(plan.sha256)
    ('default', 64)
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise PlanError(f"{what} not found: {source}")
    if not path.is_file():
        raise PlanError(f"{what} {source} is not a regular file")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise PlanError(f"{source}: larger than {MAX_BYTES // 1024} KB; not a {what} of ours")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PlanError(f"{source}: not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise PlanError(f"{source}: cannot be read ({error.strerror})") from None
    data = parse_toml(text, source)
    return Document(path=path, source=source, data=data, sha256=canonical_hash(data))


def setting(
    default: Any = MISSING,
    *,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
    open_high: bool = False,
    choices: tuple | None = None,
    non_empty: bool = False,
    distinct: bool = False,
) -> Any:
    """A dataclass field with the limits :func:`build` checks.

    Parameters
    ----------
    default
        The value when the key is absent (absent and no default: the key is required).
    low, high : float, optional
        Limits of a number (or of every number of a list or table); inclusive unless
        ``open_low`` / ``open_high``.
    choices : tuple, optional
        The allowed values (of the field, or of each item of a list).
    non_empty, distinct : bool
        For lists: at least one item; no item twice.

    Examples
    --------
    >>> from dataclasses import dataclass, fields
    >>> @dataclass(frozen=True)
    ... class Sampler:
    ...     chains: int = setting(4, low=1)
    >>> Sampler().chains, fields(Sampler)[0].metadata["low"]
    (4, 1)
    """
    metadata = {
        "low": low,
        "high": high,
        "open_low": open_low,
        "open_high": open_high,
        "choices": choices,
        "non_empty": non_empty,
        "distinct": distinct,
    }
    if default is MISSING:
        return field(metadata=metadata)
    if isinstance(default, list | dict | set):
        raise TypeError("use a tuple or a frozen mapping as the default, not a mutable value")
    return field(default=default, metadata=metadata)


def where(source: str, section: str, key: str | None = None) -> str:
    """How a message names a place: ``file: key section.key`` or ``file: table [section]``.

    Examples
    --------
    >>> where("plan.toml", "sampler", "chains"), where("plan.toml", "sampler")
    ('plan.toml: key sampler.chains', 'plan.toml: table [sampler]')
    """
    if key is None:
        return f"{source}: table [{section}]" if section else f"{source}:"
    return f"{source}: key {section + '.' if section else ''}{key}"


def _fail(place: str, message: str) -> PlanError:
    return PlanError(f"{place}: {message}")


def _number(value, kind, place: str):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(place, f"expected a number, got {value!r}")
    if kind is int:
        if isinstance(value, float):
            raise _fail(place, f"expected a whole number, got {value!r}")
        return value
    if not math.isfinite(value):
        raise _fail(place, f"expected a finite number, got {value!r}")
    return float(value)


def _convert(value, hint, source: str, dotted: str):
    """``value`` as the type ``hint`` says (bool, int, float, str, tuples, dicts, dataclasses)."""
    place = f"{source}: key {dotted}"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # X | None: X's own message
            return _convert(value, options[0], source, dotted)
        errors = []
        for option in options:
            try:
                return _convert(value, option, source, dotted)
            except PlanError as error:
                errors.append(str(error).rsplit(": ", 1)[-1])
        raise _fail(place, "; ".join(errors))
    if origin is typing.Literal:
        if value not in args:
            raise _fail(place, f"{value!r} is not one of {list(args)}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise _fail(place, f"expected true or false, got {value!r}")
        return value
    if hint in (int, float):
        return _number(value, hint, place)
    if hint is str:
        if not isinstance(value, str):
            raise _fail(place, f"expected text, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _fail(place, f"expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(item, args[0], source, dotted) for item in value)
        if len(value) != len(args):
            raise _fail(place, f"expected a list of {len(args)} items, got {value!r}")
        return tuple(
            _convert(item, kind, source, dotted) for item, kind in zip(value, args, strict=True)
        )
    if origin in (dict, Mapping) or hint is dict:
        if not isinstance(value, Mapping):
            raise _fail(place, f"expected a table, got {value!r}")
        kind = args[1] if args else Any
        return {str(k): _convert(v, kind, source, f"{dotted}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):  # made in code already
            return value
        return build(hint, value, source, dotted)
    raise TypeError(f"config cannot read a field of type {hint!r}")  # a programming error


def _check_limits(value, meta: Mapping, place: str) -> None:
    if isinstance(value, Mapping):  # a table of values: each checked under its own key
        for key, item in value.items():
            _check_limits(item, meta, f"{place}.{key}")
        return
    items = value if isinstance(value, tuple) else (value,)
    choices = meta.get("choices")
    if choices is not None:
        bad = [item for item in items if item not in choices]
        if bad:
            raise _fail(place, f"{bad[0]!r} is not one of {list(choices)}")
    if isinstance(value, tuple):
        if meta.get("non_empty") and not value:
            raise _fail(place, "must not be empty")
        if meta.get("distinct") and len(set(value)) != len(value):
            raise _fail(place, f"lists an item twice: {list(value)}")
    low, high = meta.get("low"), meta.get("high")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | float):
            continue
        too_low = low is not None and (item <= low if meta.get("open_low") else item < low)
        too_high = high is not None and (item >= high if meta.get("open_high") else item > high)
        if too_low or too_high:
            left = "(" if meta.get("open_low") else "["
            right = ")" if meta.get("open_high") else "]"
            lower = "-inf" if low is None else f"{low:g}"
            upper = "inf" if high is None else f"{high:g}"
            raise _fail(place, f"{item!r} is outside {left}{lower}, {upper}{right}")


def build[T](
    cls: type[T], table: Mapping, source: str, section: str = "", *, complete: bool = False, **extra
) -> T:
    """Build the frozen dataclass ``cls`` from a TOML table, checking every key.

    Parameters
    ----------
    cls : dataclass type
        Its fields name the keys; their annotations the types (``int``, ``float``, ``bool``,
        ``str``, ``tuple[X, ...]``, ``tuple[X, Y]``, ``dict[str, X]``, ``Literal[...]``,
        ``X | None``, a nested dataclass for a sub-table) and :func:`setting` metadata the
        limits.
    table : mapping
        The parsed table.
    source, section : str
        The file and the table's dotted name, for messages.
    complete : bool
        Every field's key must be present, even where the dataclass has a default (plans whose
        every setting is written out, so that a reader sees all of it in the file).
    **extra
        Values of fields that do not come from the table (the file's path, its hash).

    Raises
    ------
    PlanError
        A missing required key, an unknown key, a value of the wrong type or outside its
        limits, or one the dataclass's own ``__post_init__`` refuses (``ValueError`` or any
        package error), each naming the file and the key.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Sampler:
    ...     chains: int = setting(4, low=1)
    ...     target_accept: float = setting(0.9, low=0.5, high=1.0, open_high=True)
    >>> build(Sampler, {"chains": 2}, "plan.toml", "sampler")
    Sampler(chains=2, target_accept=0.9)
    >>> build(Sampler, {"chains": 0}, "plan.toml", "sampler")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: plan.toml: key sampler.chains: 0 is outside [1, inf]
    """
    if not isinstance(table, Mapping):
        raise _fail(where(source, section), f"expected a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(table) - set(names))
    if unknown:
        raise _fail(where(source, section), f"unknown key(s) {unknown}; known {sorted(names)}")
    values = dict(extra)
    for item in dataclasses.fields(cls):
        if not item.init or item.name in extra:
            continue
        place = where(source, section, item.name)
        if item.name not in table:
            if complete or (item.default is MISSING and item.default_factory is MISSING):
                raise _fail(place, "missing")
            continue
        dotted = f"{section}.{item.name}" if section else item.name
        value = _convert(table[item.name], hints[item.name], source, dotted)
        _check_limits(value, item.metadata, place)
        values[item.name] = value
    try:
        return cls(**values)
    except (ValueError, TypeError, CitBayesError) as error:
        raise _fail(where(source, section), str(error)) from None


def build_sections(
    data: Mapping,
    source: str,
    sections: Mapping[str, type],
    *,
    optional: tuple[str, ...] = (),
    complete: bool = False,
) -> dict[str, Any]:
    """Build each top-level table of a file as its dataclass (``sections``: name -> class).

    A table not in ``sections`` is an error, and so is a missing one unless it is
    ``optional`` (then it is built from its defaults). ``complete`` is passed to :func:`build`.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Search:
    ...     max_moves: int = setting(100, low=1)
    >>> build_sections({}, "plan.toml", {"search": Search}, optional=("search",))
    {'search': Search(max_moves=100)}
    >>> build_sections({"serch": {}}, "plan.toml", {"search": Search}, optional=("search",))
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: plan.toml: unknown section(s) ['serch']; known ['search']
    """
    for name in sections:
        if name not in data and name not in optional:
            raise PlanError(f"{where(source, name)}: missing")
    unknown = sorted(set(data) - set(sections))
    if unknown:
        raise PlanError(f"{source}: unknown section(s) {unknown}; known {sorted(sections)}")
    return {
        name: build(cls, data.get(name, {}), source, name, complete=complete)
        for name, cls in sections.items()
    }


def check_fields(instance) -> None:
    """Check a dataclass made in Python (not from a file) against its types and limits.

    For ``__post_init__`` of dataclasses whose fields carry :func:`setting` limits, so that a
    value given in code is held to the same rules as one read from a file.

    Raises
    ------
    ValueError
        ``"<field>: <what is wrong>"`` for the first field that breaks its type or limits.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Prior:
    ...     sd: float = setting(1.0, low=0.0, open_low=True)
    ...     def __post_init__(self):
    ...         check_fields(self)
    >>> Prior(sd=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: sd: -1.0 is outside (0, inf]
    """
    hints = typing.get_type_hints(type(instance))
    for item in dataclasses.fields(instance):
        value = getattr(instance, item.name)
        try:
            converted = _convert(value, hints[item.name], "", item.name)
            _check_limits(converted, item.metadata, f": key {item.name}")
        except PlanError as error:
            raise ValueError(str(error).split(": key ", 1)[-1]) from None
