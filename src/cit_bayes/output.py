"""Write outputs so that nothing the package did not write is ever replaced or deleted.

Two ways to write, both checked before any long step runs:

* :func:`staged_folder` (report folders: ``run``, ``fit``, ``reanalyse``, ``audit``,
  ``weights``) hands out an empty staging folder beside the destination (a hidden sibling,
  ``.<name>.staging-<random>``). On success the destination is replaced by it in two renames;
  on any error the staging folder is removed and the destination is left as it was. So a failed
  run never leaves a half-written report behind, and a reader never sees a mixture of two runs.
* :func:`claimed_files` (single files: ``simulate``, ``reconstruct``) writes named files into
  a folder that may hold other things, and records their names.

Either way the folder gets a manifest, the file ``.cit-bayes-output``, listing every file
cit-bayes wrote there. A folder (or file) is replaced only when the manifest lists everything in
it that would be lost: a user's own file, even one dropped into an earlier report folder, makes
the command stop with a :class:`~cit_bayes.exceptions.CitBayesError` (exit 2) that names it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from cit_bayes.exceptions import CitBayesError

__all__ = ["staged_folder", "check_output_folder", "claimed_files", "MARKER"]

#: The manifest every output folder of ours carries: a comment line, then one relative path per
#: line of each file cit-bayes wrote there.
MARKER = ".cit-bayes-output"
_HEADER = "# written by cit-bayes; the files below are replaced by its next run, nothing else\n"
#: How many unknown files a refusal names.
_NAMED = 5


def _manifest(folder: Path) -> set[str] | None:
    """The files the manifest of ``folder`` lists; None without a manifest.

    A manifest of an earlier version (no file list) stands for the whole folder, as it did then.
    """
    marker = folder / MARKER
    if not marker.is_file():
        return None
    lines = marker.read_text(encoding="utf-8", errors="replace").splitlines()
    listed = {line for line in lines if line and not line.startswith("#")}
    if not lines or not lines[0].startswith("# written by cit-bayes"):  # version 1: no list
        return {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir()}
    return listed


def _files(folder: Path) -> list[str]:
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir() and p.name != MARKER
    )


def _refuse(destination: Path, foreign: list[str], what: str) -> CitBayesError:
    named = ", ".join(foreign[:_NAMED])
    if len(foreign) > _NAMED:
        named += f" and {len(foreign) - _NAMED} more"
    return CitBayesError(
        f"{destination} {what} that cit-bayes did not write ({named}): refusing to replace or "
        "delete it (choose a new or empty folder with --out, or move those files away)"
    )


def _check_destination(destination: Path) -> None:
    if destination.exists() and not destination.is_dir():
        raise CitBayesError(f"{destination} exists and is not a folder")
    if not destination.is_dir():
        return
    listed = _manifest(destination) or set()
    foreign = [name for name in _files(destination) if name not in listed]
    if foreign:
        raise _refuse(destination, foreign, "holds files")


def check_output_folder(destination: str | Path) -> None:
    """Raise :class:`CitBayesError` now if :func:`staged_folder` would refuse ``destination``.

    Commands call it before their long steps, so that a wrong ``--out`` fails at once.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_output_folder(folder / "new")           # missing: fine
    >>> _ = (folder / "notes.txt").write_text("mine")
    >>> check_output_folder(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.CitBayesError: ... holds files that cit-bayes did not write (notes.txt): ...
    """
    _check_destination(Path(destination).resolve())


def _ordinary_permissions(folder: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a colleague on a shared drive reads it


def _write_manifest(folder: Path, names: Iterable[str]) -> None:
    text = _HEADER + "".join(f"{name}\n" for name in sorted(set(names)))
    (folder / MARKER).write_text(text, encoding="utf-8")


def _missing_parents(path: Path) -> list[Path]:
    return [p for p in [path, *path.parents] if not p.exists()]


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # innermost first; only folders we made, and only if empty
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextlib.contextmanager
def staged_folder(destination: str | Path) -> Iterator[Path]:
    """Yield a staging folder; move it to ``destination`` when the block succeeds.

    ``destination`` may be missing, empty, or a previous output of ours holding only files its
    manifest lists; it is then replaced as a whole once the new one is complete. Parent folders
    created for it are removed again if the block fails.

    Raises
    ------
    CitBayesError
        If ``destination`` exists and is not a folder, or holds a file cit-bayes did not write
        (nothing in it is touched).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report"
    >>> with staged_folder(out) as staging:
    ...     _ = (staging / "results.json").write_text("{}")
    >>> sorted(p.name for p in out.iterdir())
    ['.cit-bayes-output', 'results.json']
    """
    destination = Path(destination).resolve()
    _check_destination(destination)
    created = _missing_parents(destination.parent)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.staging-", dir=destination.parent))
    _ordinary_permissions(staging)
    try:
        yield staging
        _write_manifest(staging, _files(staging))
        _check_destination(destination)  # a file may have been dropped in while we ran
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
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


@contextlib.contextmanager
def claimed_files(
    folder: str | Path, names: Iterable[str], *, make_folder: bool = False
) -> Iterator[Path]:
    """Check, then let the block write, the files ``names`` into ``folder``; record them.

    A name that exists already may be overwritten only if the folder's manifest lists it (an
    earlier output of ours). With ``make_folder`` the folder and its missing parents are created,
    and removed again (if still empty) when the block fails; without it a missing folder is an
    error.

    Raises
    ------
    CitBayesError
        If ``folder`` is not a folder or one of the files exists and is not ours (nothing is
        written).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with claimed_files(folder, ["cohort.csv"]) as target:
    ...     _ = (target / "cohort.csv").write_text("patient_id\\n")
    >>> with claimed_files(folder, ["cohort.csv"]) as target:   # ours: may be replaced
    ...     _ = (target / "cohort.csv").write_text("patient_id\\n")
    """
    folder = Path(folder).resolve()
    names = [str(n) for n in names]
    if folder.exists() and not folder.is_dir():
        raise CitBayesError(f"{folder} exists and is not a folder")
    if not folder.exists() and not make_folder:
        raise CitBayesError(f"the output folder {folder} does not exist")
    listed = (_manifest(folder) or set()) if folder.is_dir() else set()
    foreign = [n for n in names if (folder / n).exists() and n not in listed]
    if foreign:
        raise _refuse(folder, foreign, "already has files")
    existed = {n for n in names if (folder / n).exists()}
    created = _missing_parents(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    except BaseException:
        for name in set(names) - existed:  # new files of this failed block: ours, half-written
            with contextlib.suppress(OSError):
                (folder / name).unlink()
        _remove_empty(created)
        raise
    _write_manifest(folder, listed | {n for n in names if (folder / n).exists()})
