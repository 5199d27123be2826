"""Write an output folder all at once, or not at all.

:func:`staged_folder` hands out an empty staging folder beside the destination (a hidden sibling,
``.<name>.staging-<random>``). On success the destination is replaced by it in two renames; on any
error the staging folder is removed and the destination is left as it was. So a failed run never
leaves a half-written report behind, and a reader never sees a mixture of two runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cit_bayes.exceptions import CitBayesError

__all__ = ["staged_folder", "check_output_folder"]


#: Marker file that every folder written by :func:`staged_folder` carries: only a folder that
#: has it (a previous output of ours) may be replaced.
MARKER = ".cit-bayes-output"


def _check_destination(destination: Path) -> None:
    if destination.exists() and not destination.is_dir():
        raise CitBayesError(f"{destination} exists and is not a folder")
    if destination.is_dir() and not (destination / MARKER).is_file():
        if any(destination.iterdir()):
            raise CitBayesError(
                f"{destination} is not empty and was not written by cit-bayes: refusing to replace "
                "it (choose a new or empty folder with --out)"
            )


def check_output_folder(destination: str | Path) -> None:
    """Raise :class:`CitBayesError` now if :func:`staged_folder` would refuse ``destination``.

    Commands call it before their long steps, so that a wrong ``--out`` fails at once.
    """
    _check_destination(Path(destination).resolve())


def _ordinary_permissions(folder: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a colleague on a shared drive reads it


@contextlib.contextmanager
def staged_folder(destination: str | Path) -> Iterator[Path]:
    """Yield a staging folder; move it to ``destination`` when the block succeeds.

    ``destination`` may be missing, empty, or a previous output of ours (it holds the marker
    file ``.cit-bayes-output``), which is then replaced as a whole once the new one is complete.
    Parent folders created for it are removed again if the block fails.

    Raises
    ------
    CitBayesError
        If ``destination`` exists and is not a folder, or is a non-empty folder that cit-bayes
        did not write (nothing in it is touched).
    """
    destination = Path(destination).resolve()
    _check_destination(destination)
    created = [p for p in [destination.parent, *destination.parent.parents] if not p.exists()]
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.staging-", dir=destination.parent))
    _ordinary_permissions(staging)
    (staging / MARKER).write_text("written by cit-bayes; replaced as a whole by the next run\n")
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:  # innermost first; only folders we made, and only if empty
            with contextlib.suppress(OSError):
                folder.rmdir()
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
