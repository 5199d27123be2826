"""The Bayesian reanalysis of the published tables, with prior sensitivity (``reanalyse --published``).

It combines the paper's tables (``paper``, a data layer) with the models (``bayes``), the
comparisons (``contrasts``) and the outputs (``analyses.results``, ``report``).

Steps: read the plan (``models/published_reanalysis.toml``) and the prior sets; take the
aggregates from Tables 2, 4, 6, 8 and 9; for each prior set fit the four endpoints in one model
(:func:`cit_bayes.bayes.fit_aggregates`); fit the sensitivity analyses (Table 4's ± read as an SD;
fewer recovered patients); compute the contrasts; assemble ``results.json``.
:func:`run_published_reanalysis` returns plain data and writes nothing;
:func:`write_published_reanalysis` writes ``results.json``, ``summary.md``, the figures and the
fits (``idata/*.nc``) into the chosen folder, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cit_bayes import __version__
from cit_bayes._paths import project_root
from cit_bayes.analyses.fragments import (
    ContrastSpec,
    plt_analysis,
    recovery_analysis,
    response_analysis,
    safety_analysis,
)
from cit_bayes.analyses.published_plan import ReanalysisPlan, load_reanalysis_plan
from cit_bayes.analyses.results import (
    add_analysis,
    add_diagnostics,
    file_stem,
    new_results,
    save_fit,
    software_versions,
    write_results,
)
from cit_bayes.bayes import (
    CountData,
    Fit,
    MeanData,
    PriorSet,
    derive_seed,
    fit_aggregates,
    load_prior_sets,
)
from cit_bayes.cohort.schema import ARMS
from cit_bayes.contrasts import format_threshold
from cit_bayes.exceptions import PlanError, PublishedDataError
from cit_bayes.paper import count_table, implied_recovery_analysis_sizes, load_tables
from cit_bayes.report.posterior_figures import write_posterior_figures
from cit_bayes.report.published_summary import write_summary
from cit_bayes.run_record import fit_times, write_run_record

__all__ = [
    "ReanalysisPlan",
    "PublishedInputs",
    "PublishedReanalysis",
    "load_reanalysis_plan",
    "published_inputs",
    "run_published_reanalysis",
    "write_published_reanalysis",
]

ENDPOINTS = ("response", "plt", "recovery", "safety")
PLT_SD_LABEL = "± as SD"
RECOVERY_POPULATION = (
    "recovered patients only (Table 6: an unreported subset of the patients who recovered)"
)


@dataclass(frozen=True)
class PublishedInputs:
    """The aggregates the models use, from the paper's tables (arms in canonical order).

    Examples
    --------
    >>> from cit_bayes.analyses.published import published_inputs
    >>> inputs = published_inputs()
    >>> inputs.arms, inputs.plt_means.shape
    (('rhTPO', 'hetrombopag', 'combination', 'rhIL-11'), (4, 4))
    """

    arms: tuple[str, ...]
    patients: pd.Series
    responders: pd.Series
    plt_means: pd.DataFrame
    plt_plusminus: pd.DataFrame
    recovery_means: pd.Series
    recovery_sds: pd.Series
    safety_events: pd.DataFrame


@dataclass(frozen=True)
class PublishedReanalysis:
    """What :func:`run_published_reanalysis` returns: plain data, nothing written.

    Attributes
    ----------
    results : dict
        The ``results.json`` document.
    tables : dict of str to DataFrame
        Tidy tables keyed ``"<endpoint>/<table>"`` with an ``analysis`` column.
    fits : dict of str to Fit
        Every sampler run, keyed by fit name.
    passed : bool
        Whether every reported endpoint met every diagnostics gate.
    spec : ContrastSpec
        The comparisons made (pairs, margins, thresholds).

    Examples
    --------
    >>> from cit_bayes.analyses.published import PublishedReanalysis
    >>> result = PublishedReanalysis(results={"meta": {}, "diagnostics": {}}, tables={})
    >>> result.passed, result.fits, result.spec is None
    (True, {}, True)
    """

    results: dict
    tables: dict[str, pd.DataFrame]
    fits: dict[str, Fit] = field(default_factory=dict)
    passed: bool = True
    spec: ContrastSpec | None = None


def published_inputs(
    tables: Mapping[str, pd.DataFrame] | None = None, plan: ReanalysisPlan | None = None
) -> PublishedInputs:
    """Take the aggregates from the paper's tables (Tables 2, 4, 6, 8 and 9).

    Examples
    --------
    >>> from cit_bayes.analyses.published import published_inputs
    >>> inputs = published_inputs()
    >>> inputs.patients.astype(int).tolist(), list(inputs.safety_events.index)[:3]
    ([64, 37, 36, 50], ['transfusion', 'transaminase', 'bilirubin'])
    """
    tables = load_tables() if tables is None else tables
    plan = load_reanalysis_plan() if plan is None else plan
    arms = list(ARMS)
    response = tables["table2_response"]
    patients = response.set_index("arm")["n_arm"].reindex(arms).astype(float)
    responders = count_table(response, "response").loc["effective"].reindex(arms).astype(float)

    def cells(table: str, block: str, value: str, index: str = "level") -> pd.DataFrame:
        frame = tables[table]
        frame = frame[frame["block"] == block]
        if frame.empty:
            raise PublishedDataError(f"{table}: no block {block!r}")
        return frame.pivot(index=index, columns="arm", values=value).reindex(columns=arms)

    days = list(plan.days)
    plt_means = cells("table4_plt", "plt", "mean").reindex(days)
    plt_plusminus = cells("table4_plt", "plt", "plusminus").reindex(days)
    recovery = tables["table6_recovery_delta"]
    recovery = recovery[recovery["block"] == "recovery_days"].set_index("arm")
    events = []
    for event in plan.safety_events:
        source = "table8_transfusion" if event == "transfusion" else "table9_adverse_events"
        counts = count_table(tables[source], event).loc["yes"].reindex(arms).rename(event)
        events.append(counts.astype(float))
    inputs = PublishedInputs(
        arms=tuple(arms),
        patients=patients,
        responders=responders,
        plt_means=plt_means,
        plt_plusminus=plt_plusminus,
        recovery_means=recovery["mean"].reindex(arms).astype(float),
        recovery_sds=recovery["plusminus"].reindex(arms).astype(float),
        safety_events=pd.DataFrame(events),
    )
    for name in (
        "patients",
        "responders",
        "plt_means",
        "plt_plusminus",
        "recovery_means",
        "recovery_sds",
        "safety_events",
    ):
        if getattr(inputs, name).isna().to_numpy().any():
            raise PublishedDataError(f"published inputs: {name} has missing cells")
    return inputs


@dataclass
class _Run:
    """One sampler run: a prior set, the analyses read from it and the data variant it uses."""

    name: str
    prior_set: PriorSet
    labels: dict[str, str]
    plt_as_sd: bool = False
    recovered: pd.Series | None = None
    recovered_label: str = ""


def _recovery_sizes(
    inputs: PublishedInputs, rule: str | float, tables: Mapping[str, pd.DataFrame] | None
) -> tuple[pd.Series, str]:
    """Patients per arm behind Table 6's recovery-time means under a plan rule, and its label."""
    if rule == "implied":
        implied = implied_recovery_analysis_sizes(tables).set_index("arm")["analysis_size"]
        if implied.isna().any():
            raise PublishedDataError("Table 7's CIs imply no recovery-analysis sizes")
        return (
            implied.reindex(inputs.arms).astype(float),
            "n implied by Table 7's CIs (analysed subset)",
        )
    if rule == "responders":
        return inputs.responders.copy(), "n = responders, an upper bound"
    share = float(rule)
    label = f"n = {share:.0%} of responders".replace("%", " %")
    return (inputs.responders * share).round().clip(lower=2.0), label


def _endpoint_data(inputs: PublishedInputs, *, plt_as_sd: bool, recovered: pd.Series) -> list:
    plt_se = inputs.plt_plusminus
    if plt_as_sd:
        plt_se = plt_se / np.sqrt(inputs.patients)
    trials = pd.DataFrame(
        [inputs.patients.to_numpy()] * len(inputs.safety_events),
        index=inputs.safety_events.index,
        columns=list(inputs.arms),
    )
    return [
        CountData("response", inputs.responders, inputs.patients),
        MeanData("plt", inputs.plt_means, plt_se, block_dim="day"),
        MeanData("recovery", inputs.recovery_means, inputs.recovery_sds / np.sqrt(recovered)),
        CountData("safety", inputs.safety_events, trials, block_dim="event"),
    ]


def _relative(path: str | Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(project_root()))
    except ValueError:
        return path.name


def run_published_reanalysis(
    *,
    prior_sets: Sequence[str] | None = None,
    seed: int | None = None,
    sampler: str | None = None,
    plan: ReanalysisPlan | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    priors_directory: str | Path | None = None,
) -> PublishedReanalysis:
    """Run the reanalysis and return plain data (nothing is written).

    Parameters
    ----------
    prior_sets : sequence of str, optional
        Prior sets to run (default: the plan's). A sensitivity analysis runs when its prior set
        is among them.
    seed : int, optional
        Master seed (default: the plan's); each fit's seed is derived from it and the fit's name,
        so a fit gets the same draws whichever other prior sets run.
    sampler : {"nutpie", "pymc"}, optional
        Overrides the plan's sampler.
    plan, tables, priors_directory
        Plan, published tables and prior folder to use instead of the bundled ones.

    Examples
    --------
    Fitting takes minutes; the arguments are checked before anything is fitted:

    >>> from cit_bayes.analyses.published import run_published_reanalysis
    >>> run_published_reanalysis(prior_sets=["flat", "flat"])
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: prior set named twice in ['flat', 'flat']
    """
    plan = load_reanalysis_plan() if plan is None else plan
    names = list(prior_sets) if prior_sets else list(plan.prior_sets)
    if len(set(names)) != len(names):
        raise PlanError(f"prior set named twice in {names}")
    seed = plan.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise PlanError(f"seed must be a non-negative integer, got {seed!r}")
    settings, hierarchical_settings = plan.sampler, plan.hierarchical_sampler
    if sampler is not None:
        settings = settings.replace(sampler=sampler)
        hierarchical_settings = hierarchical_settings.replace(sampler=sampler)
    priors = load_prior_sets(names, priors_directory)
    inputs = published_inputs(tables, plan)
    primary = _recovery_sizes(inputs, plan.recovery_sizes, tables)
    sensitivity = _recovery_sizes(inputs, plan.recovery_sensitivity_sizes, tables)
    results = _new_results(
        plan, priors, inputs, seed, (settings, hierarchical_settings), primary, sensitivity
    )
    tables_out: dict[str, list[pd.DataFrame]] = {}
    fits: dict[str, Fit] = {}
    passed = True
    for run in _runs(priors, plan, sensitivity):
        fit_name = f"published/{run.name}"
        prior_set = run.prior_set
        hierarchical = any(prior_set[e].family == "hierarchical" for e in ENDPOINTS)
        run_settings = hierarchical_settings if hierarchical else settings
        recovered = primary[0] if run.recovered is None else run.recovered
        endpoint_fits = fit_aggregates(
            _endpoint_data(inputs, plt_as_sd=run.plt_as_sd, recovered=recovered),
            prior_set.blocks,
            arms=inputs.arms,
            seed=derive_seed(seed, fit_name),
            name=fit_name,
            settings=run_settings,
            provenance={
                "prior_set": prior_set.name,
                "prior_hash": prior_set.sha256,
                "plan_hash": plan.sha256,
                "source": "published",
            },
        )
        fits[fit_name] = next(iter(endpoint_fits.values())).fit
        for endpoint, label in run.labels.items():
            endpoint_fit = endpoint_fits[endpoint]
            fragment, endpoint_tables = _ANALYSES[endpoint](endpoint_fit.draws, plan.spec)
            head = _head(run, endpoint, endpoint_fit, fit_name, recovered, primary[1])
            add_analysis(results, endpoint, label, head | fragment)
            diagnostics = endpoint_fit.diagnostics.as_dict() | {
                "fit": fit_name,
                "sampler": endpoint_fit.sampler,
            }
            add_diagnostics(results, f"{endpoint}/{label}", diagnostics)
            passed &= endpoint_fit.passed
            for table_name, table in endpoint_tables.items():
                tables_out.setdefault(f"{endpoint}/{table_name}", []).append(
                    table.assign(analysis=label)[["analysis", *table.columns]]
                )
    tables = {key: pd.concat(frames, ignore_index=True) for key, frames in tables_out.items()}
    return PublishedReanalysis(
        results=results, tables=tables, fits=fits, passed=passed, spec=plan.spec
    )


_ANALYSES = {
    "response": response_analysis,
    "plt": plt_analysis,
    "recovery": recovery_analysis,
    "safety": safety_analysis,
}


def _new_results(plan, priors, inputs, seed, samplers, primary, sensitivity) -> dict:
    """The results document's head: provenance, sampler settings, data and assumptions."""
    primary_counts, primary_label = primary
    settings, hierarchical_settings = samplers
    return new_results(
        source="published",
        seed=seed,
        package_version=__version__,
        synthetic=False,
        ci_level=plan.spec.ci_level,
        software=software_versions(),
        plan={"file": _relative(plan.path), "sha256": plan.sha256},
        prior_sets={
            name: {
                "file": _relative(p.path),
                "sha256": p.sha256,
                "title": p.title,
                "depends_on": dict(p.depends_on),
            }
            for name, p in priors.items()
        },
        sampler=settings.as_dict() | {"hierarchical": hierarchical_settings.as_dict()},
        data={
            "tables": "data/published",
            "arms": list(inputs.arms),
            "patients": inputs.patients.astype(int).to_dict(),
        },
        assumptions=[
            "Table 4: the number after ± is read as a standard error (its size says so); "
            f"sensitivity analysis '<prior set> ({PLT_SD_LABEL})' reads it as an SD.",
            "Table 6: recovery time (mean ± SD) is among an unreported subset of patients. "
            f"Primary: {primary_label} "
            f"({', '.join(f'{a} {int(n)}' for a, n in primary_counts.items())}), the sizes that "
            "reproduce Table 7's intervals and Table 6's F (see the audit). "
            f"Sensitivity '<prior set> ({sensitivity[1]})'.",
            "Aggregate likelihoods: binomial for counts; normal for a reported mean with its "
            "standard error treated as known.",
        ],
    )


def _runs(priors, plan, sensitivity) -> list[_Run]:
    """One run per prior set, and a sensitivity run for the prior sets the plan names."""
    sensitivity_counts, recovery_label = sensitivity
    runs = []
    for name, prior_set in priors.items():
        runs.append(_Run(name, prior_set, {e: name for e in ENDPOINTS}))
        variant = _Run(f"{name} (sensitivity)", prior_set, {})
        if name == plan.plt_sensitivity_prior_set:
            variant.labels["plt"] = f"{name} ({PLT_SD_LABEL})"
            variant.plt_as_sd = True
        if name == plan.recovery_sensitivity_prior_set:
            variant.labels["recovery"] = f"{name} ({recovery_label})"
            variant.recovered = sensitivity_counts
            variant.recovered_label = recovery_label
        if variant.labels:
            runs.append(variant)
    return runs


def _head(run, endpoint, endpoint_fit, fit_name, recovered, primary_label) -> dict:
    """What each analysis entry says of its fit and of the data variant it read."""
    head = {
        "prior_set": run.prior_set.name,
        "prior_family": endpoint_fit.family,
        "fit": fit_name,
        "passed": endpoint_fit.passed,
    }
    if endpoint == "plt":
        head["plusminus_read_as"] = (
            "standard deviation (standard error = ± / sqrt(arm size))"
            if run.plt_as_sd
            else "standard error"
        )
    if endpoint == "recovery":
        head["population"] = RECOVERY_POPULATION
        head["recovery_analysis_sizes"] = {a: int(n) for a, n in recovered.items()}
        head["recovery_analysis_sizes_assumption"] = run.recovered_label or primary_label
    return head


def write_published_reanalysis(
    result: PublishedReanalysis, out_dir: str | Path, *, save_idata: bool = True
) -> dict[str, Path | list[Path]]:
    """Write ``results.json``, ``run.json``, ``summary.md``, figures and (optionally) ``idata/*.nc``.

    Everything goes under ``out_dir``; returns the paths written.

    Examples
    --------
    The results document is checked before anything is written:

    >>> import tempfile
    >>> from cit_bayes.analyses.published import PublishedReanalysis
    >>> from cit_bayes.analyses.published import write_published_reanalysis
    >>> result = PublishedReanalysis(results={"diagnostics": {}}, tables={})
    >>> with tempfile.TemporaryDirectory() as out:
    ...     write_published_reanalysis(result, out)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ResultsSchemaError: results do not follow the layout: missing 'meta' block
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path | list[Path]] = {}
    written["results"] = write_results(result.results, out / "results.json")
    written["run"] = write_run_record(
        out, seed=result.results["meta"]["seed"], fits=fit_times(result.fits)
    )
    written["summary"] = write_summary(result.results, out / "summary.md")
    spec = result.spec
    keys = {}
    if spec is not None:
        keys = {
            "superiority_keys": [f"{a}>{b}" for a, b in spec.focus_pairs],
            "noninferiority_keys": [
                f"{a} vs {b} @ {format_threshold(m)}"
                for a, b in spec.noninferiority_pairs
                for m in spec.noninferiority_margins
            ],
            "margins": spec.noninferiority_margins,
        }
    written["figures"] = write_posterior_figures(result.tables, out / "figures", **keys)
    if save_idata:
        written["idata"] = [
            save_fit(fit, out / "idata" / f"{file_stem(name)}.nc")
            for name, fit in result.fits.items()
        ]
    return written
