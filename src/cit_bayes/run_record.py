"""``run.json``: when a run was made and how long its steps and fits took.

``results.json`` and the report hold what the data, the plan and the seed determine, so that a
re-run with the same seed rewrites them byte for byte (cold or warm compile cache). What differs
from one run to the next even then -- the time the run was made and the wall-clock seconds of its
steps and fits, which depend on the machine and its load -- is written here instead, beside them.
None of it is a result: nothing in ``run.json`` describes a patient or a posterior.

Layout (all keys optional except ``created``)::

    {"created": "2026-12-03T18:00:00+00:00", "package_version": "...", "command": "...",
     "seed": 20240601, "step_seconds": {"validate": 0.3, ...},
     "fits": {"response/adjusted (ATE)": {"compile_seconds": 12.1, "sampling_seconds": 3.2}}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from cit_bayes import __version__

__all__ = ["RUN_RECORD", "fit_times", "write_run_record"]

#: File name of the run record, beside ``results.json``.
RUN_RECORD = "run.json"


def fit_times(fits: Mapping) -> dict[str, dict[str, float | None]]:
    """Compile and sampling seconds of each fit (``Fit`` or an object with ``.fit``), by name.

    ``compile_seconds`` is nutpie's compile time (0 when a compiled model was re-used, ``None``
    for PyMC, which compiles inside ``pm.sample``).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> fit = SimpleNamespace(compile_seconds=None, sampling_seconds=3.14159)
    >>> fit_times({"response": fit})
    {'response': {'compile_seconds': None, 'sampling_seconds': 3.142}}
    """
    times = {}
    for name, fit in fits.items():
        inner = getattr(fit, "fit", fit)
        compile_seconds = inner.compile_seconds
        times[name] = {
            "compile_seconds": None if compile_seconds is None else round(compile_seconds, 3),
            "sampling_seconds": round(float(inner.sampling_seconds), 3),
        }
    return times


def write_run_record(
    folder: str | Path,
    *,
    command: str = "",
    seed: int | None = None,
    step_seconds: Mapping[str, float] | None = None,
    fits: Mapping[str, Mapping] | None = None,
    **extra: object,
) -> Path:
    """Write ``run.json`` into ``folder`` (which must exist) and return its path.

    Examples
    --------
    >>> import tempfile, json
    >>> folder = tempfile.mkdtemp()
    >>> path = write_run_record(folder, command="cit-bayes run", seed=1, step_seconds={"fit": 2.5})
    >>> sorted(json.loads(path.read_text()))
    ['command', 'created', 'fits', 'package_version', 'seed', 'step_seconds']
    """
    record = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "package_version": __version__,
        "command": command,
        "seed": None if seed is None else int(seed),
        "step_seconds": {k: round(float(v), 3) for k, v in (step_seconds or {}).items()},
        "fits": {k: dict(v) for k, v in (fits or {}).items()},
    } | dict(extra)
    path = Path(folder) / RUN_RECORD
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
