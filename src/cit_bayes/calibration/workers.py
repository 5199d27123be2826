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

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator

from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["CompileDirectory", "dask_client", "default_workers", "worker_compile_dir"]


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


def default_workers() -> int:
    """Worker processes of a local cluster: the cores this process may use.

    Examples
    --------
    >>> default_workers() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def dask_client(
    workers: int | None = None, scheduler: str | None = None, compile_root: str | None = None
) -> Iterator:
    """A Dask client: on a local cluster of ``workers`` single-threaded processes (default one
    per core), or at an existing ``scheduler``'s address; every worker with its own compile
    directory (:class:`CompileDirectory`). Closed (and a local cluster shut down) on exit.

    Examples
    --------
    >>> with dask_client(scheduler="tcp://127.0.0.1:1", workers=1) as client:  # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers or default_workers(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never "8787 already in use"
            silence_logs=logging.ERROR,
        )
    client = Client(scheduler if scheduler is not None else cluster)
    try:
        client.register_plugin(CompileDirectory(compile_root))
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
