"""The calibration's output folder: the setup, one file per replicate, the summary.

Layout::

    OUT/calibration.json              the setup's fingerprint (what decides the numbers)
    OUT/replicates/SCENARIO/00012.json  one record per replicate, written whole or not at all
    OUT/coverage.csv, OUT/summary.json  written by the summary

A replicate's file is written to a temporary name in the same folder and renamed, so an
interrupted calibration leaves only whole records; running the same calibration again on the
folder computes only the replicates that have no record yet (asking for more replicates than
before extends it). A folder holding a calibration of another setup is refused, never mixed
or overwritten; a folder that holds anything else is refused too. Nothing is deleted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cit_bayes.calibration.setup import CalibrationSetup
from cit_bayes.exceptions import PlanError

__all__ = ["CalibrationStore"]

MANIFEST = "calibration.json"
SCHEMA = 1


class CalibrationStore:
    """The replicates of one calibration setup on disk.

    Examples
    --------
    >>> import tempfile
    >>> from cit_bayes.plan import load_plan
    >>> setup = CalibrationSetup(load_plan(), scenarios=("null",), replicates=2)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     store = CalibrationStore.open(folder + "/cal", setup)
    ...     store.write({"scenario": "null", "index": 0, "status": "done"})
    ...     store.pending(setup)
    [('null', 1)]
    """

    def __init__(self, folder: Path):
        self.folder = folder

    @classmethod
    def open(cls, folder: str | Path, setup: CalibrationSetup) -> CalibrationStore:
        """Create the folder for ``setup``, or re-open the folder of the same setup.

        Raises
        ------
        PlanError
            The folder holds a calibration of another setup (the keys that differ are named),
            or files that are not a calibration's.
        """
        folder = Path(folder)
        manifest = folder / MANIFEST
        wanted = {"schema": SCHEMA, "setup": setup.fingerprint()}
        if manifest.is_file():
            held = json.loads(manifest.read_text(encoding="utf-8"))
            if held != wanted:
                differ = sorted(
                    key
                    for key in set(held.get("setup", {})) | set(wanted["setup"])
                    if held.get("setup", {}).get(key) != wanted["setup"].get(key)
                )
                raise PlanError(
                    f"{folder} holds a calibration of another setup (differs in: "
                    f"{', '.join(differ) or 'schema'}); name a new --out folder"
                )
        elif folder.exists() and any(folder.iterdir()):
            raise PlanError(f"{folder} exists and is not a calibration folder; name a new one")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            _write_json(manifest, wanted)
        return cls(folder)

    def path(self, scenario: str, index: int) -> Path:
        """Where the record of replicate ``index`` of ``scenario`` (its name) lives."""
        return self.folder / "replicates" / scenario / f"{index:05d}.json"

    def write(self, record: dict) -> None:
        """Store one replicate's record (atomically)."""
        path = self.path(record["scenario"], record["index"])
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_json(path, record)

    def pending(self, setup: CalibrationSetup) -> list[tuple[str, int]]:
        """(scenario or SBC group, index) of the setup's replicates that have no record yet."""
        return [
            (group, index)
            for group, index in setup.tasks()
            if not self.path(setup.scenario_name(group), index).is_file()
        ]

    def records(self, setup: CalibrationSetup) -> list[dict]:
        """The stored records of the setup's replicates (in :meth:`CalibrationSetup.tasks`
        order)."""
        out = []
        for group, index in setup.tasks():
            path = self.path(setup.scenario_name(group), index)
            if path.is_file():
                out.append(json.loads(path.read_text(encoding="utf-8")))
        return out

    def write_json(self, name: str, content: dict) -> Path:
        """Write ``content`` to ``name`` in the folder (atomically)."""
        path = self.folder / name
        _write_json(path, content)
        return path


def _write_json(path: Path, content: dict) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(content, indent=1, allow_nan=True) + "\n", encoding="utf-8")
    os.replace(partial, path)
