"""Dask worker setup: one PyTensor compile directory per worker.

Imported by a worker before anything that imports PyTensor (this module and its package import
nothing heavy), so that the compile directory can still be chosen: PyTensor reads its flags once,
at its first import. Each worker gets ``<root>/cit_bayes-worker-<name>``, where ``root`` is the
base compile directory the user configured (``PYTENSOR_FLAGS``'s ``base_compiledir``) or
PyTensor's default ``~/.pytensor``: workers never share the directory PyTensor compiles in, and a
worker of the same name (a local cluster's workers are named 0, 1, ...) finds its compiled
models again in a later calibration.
"""

from __future__ import annotations

import os
import re
import sys

from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["CompileDirectory", "worker_compile_dir"]


def worker_compile_dir(name: str, root: str | None = None) -> str:
    """The compile directory of the worker called ``name``.

    Examples
    --------
    >>> worker_compile_dir("tcp://10.0.0.1:4000", root="/tmp/cache")
    '/tmp/cache/cit_bayes-worker-tcp-10.0.0.1-4000'
    """
    if root is None:
        flags = dict(
            item.split("=", 1)
            for item in os.environ.get("PYTENSOR_FLAGS", "").split(",")
            if "=" in item
        )
        root = flags.get("base_compiledir", os.path.join(os.path.expanduser("~"), ".pytensor"))
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", str(name)).strip("-") or "worker"
    return os.path.join(root, f"cit_bayes-worker-{safe}")


class CompileDirectory(WorkerPlugin):
    """Give each Dask worker its own PyTensor compile directory (see the module docstring).

    Parameters
    ----------
    root : str, optional
        Parent of the workers' directories (default: the user's base compile directory).

    Examples
    --------
    >>> CompileDirectory(root="/tmp/cache").name
    'cit-bayes-compile-directory'
    """

    name = "cit-bayes-compile-directory"

    def __init__(self, root: str | None = None):
        self.root = root

    def setup(self, worker) -> None:
        path = worker_compile_dir(worker.name, self.root)
        if "pytensor" in sys.modules:
            import pytensor

            if pytensor.config.base_compiledir != path:
                worker.log_event(
                    "cit-bayes",
                    f"PyTensor was imported before the worker's setup: it compiles in "
                    f"{pytensor.config.base_compiledir}, not in a directory of its own",
                )
            return
        flags = os.environ.get("PYTENSOR_FLAGS", "")
        os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, f"base_compiledir={path}") if f)
