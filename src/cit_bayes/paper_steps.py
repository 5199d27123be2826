"""The paper-level steps of a run: the audit and the published reanalysis, in a second process.

They run when the cohort is the bundled reconstructed one, which stands for the paper's cohort,
alongside the patient-level fits (:func:`paper_steps`); the child writes ``audit/`` and
``published/`` into the run's staging folder, and
:meth:`cit_bayes.run_steps.StepTimer.paper` waits for them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cit_bayes.exceptions import ConvergenceWarning
from cit_bayes.run_steps import reissue

__all__ = ["paper_steps"]


@contextlib.contextmanager
def paper_steps(bundled: bool, staging: Path, sampler: str | None, seed: int | None):
    """Run the audit and the published reanalysis in a second process, alongside the fits.

    Half of the patient-level fitting is model compilation, which uses one core: running the
    paper-level steps beside it uses the other (measured by ``benchmarks/bench_run.py``). The
    child writes into the same staging folder; its errors surface when its result is read.
    ``seed`` (``run --seed``) is the master seed of the audit and the published reanalysis
    too; ``None`` leaves each its own plan's.

    Examples
    --------
    On the bundled cohort it yields the child's future (the audit and the published
    reanalysis: minutes of sampling); on any other cohort there is nothing to run:

    >>> from pathlib import Path
    >>> with paper_steps(False, Path("staging"), None, None) as paper:  # nothing is written
    ...     print(paper)
    None
    """
    if not bundled:
        yield None
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(_paper_work, str(staging), sampler, seed)
        try:
            yield future
        except BaseException:
            future.cancel()
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()  # do not wait a minute for work that will be thrown away
            raise


def _paper_work(staging: str, sampler: str | None, seed: int | None) -> tuple[list, dict, dict]:
    """The audit and the published reanalysis (run in a child process)."""
    folder = Path(staging)
    start = time.perf_counter()
    records = _audit(folder / "audit", seed)
    middle = time.perf_counter()
    published = _published(folder / "published", sampler, seed)
    end = time.perf_counter()
    return records, published, {"audit": middle - start, "published": end - middle}


def _audit(folder: Path, seed: int | None) -> list:
    from cit_bayes.paper.audit import DEFAULT_SEED, run_audit, write_audit
    from cit_bayes.paper.tables import load_tables

    seed = DEFAULT_SEED if seed is None else seed
    records = run_audit(load_tables(), seed=seed)
    write_audit(records, folder, metadata={"seed": seed})
    import json

    return json.loads((folder / "audit.json").read_text(encoding="utf-8"))


def _published(folder: Path, sampler: str | None, seed: int | None) -> dict:
    from cit_bayes.analyses.published import run_published_reanalysis, write_published_reanalysis
    from cit_bayes.analyses.results import read_results

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = run_published_reanalysis(sampler=sampler, seed=seed)
    reissue(caught)
    written = write_published_reanalysis(result, folder)
    return read_results(written["results"])
