"""Write an output folder all at once, or not at all.

:func:`staged_folder` hands out an empty staging folder beside the destination (a hidden sibling,
``.<name>.staging-<random>``). On success the destination is replaced by it in two renames; on any
error the staging folder is removed and the destination is left as it was. So a failed run never
leaves a half-written report behind, and a reader never sees a mixture of two runs.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cit_bayes.exceptions import CitBayesError

__all__ = ["staged_folder"]


@contextlib.contextmanager
def staged_folder(destination: str | Path) -> Iterator[Path]:
    """Yield a staging folder; move it to ``destination`` when the block succeeds.

    Raises
    ------
    CitBayesError
        If ``destination`` exists and is not a folder.
    """
    destination = Path(destination).resolve()
    if destination.exists() and not destination.is_dir():
        raise CitBayesError(f"{destination} exists and is not a folder")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.staging-", dir=destination.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    retired = None
    if destination.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
        retired.rmdir()
        destination.rename(retired)
    try:
        staging.rename(destination)
    except BaseException:
        if retired is not None:
            retired.rename(destination)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
