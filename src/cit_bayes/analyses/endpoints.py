"""One analysis's four outcome models: fitted, compared, and their fragments and tables collected.

:class:`EndpointRunner` is the working part of :mod:`cit_bayes.analyses.patient`: for each
analysis of the plan (unadjusted, or adjusted with an estimand's weights) it fits the response,
platelet-trajectory, recovery and safety models on the same compiled graphs (only ``pm.Data``
change), then turns their draws into results fragments (:mod:`cit_bayes.analyses.fragments`)
beside the frequentist cross-checks (weighted shares, weighted Kaplan-Meier and Cox; the
model-free numbers and the unweighted and Cox cross-checks are computed in
:mod:`cit_bayes.analyses.observed`). Patients whose outcome is not determined are left out of
that endpoint's model only, and counted (``n_analysed``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from cit_bayes.analyses.fragments import (
    frequentist_response_fragment,
    plt_fragment,
    response_analysis,
    safety_analysis,
)
from cit_bayes.analyses.observed import (
    baseline_means,
    cox_or_note,
    event_counts,
    observed_plt,
    plain_outcomes,
)
from cit_bayes.analyses.predictive import predictive_check
from cit_bayes.analyses.recovery_fragments import (
    frequentist_recovery_fragment,
    recovery_fragment,
    recovery_population,
)
from cit_bayes.analyses.results import (
    add_analysis,
    add_diagnostics,
)
from cit_bayes.bayes import derive_seed
from cit_bayes.bayes.conjugate import EXACT
from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.patient_fit import PatientFit
from cit_bayes.bayes.recovery import fit_recovery_model
from cit_bayes.bayes.response import fit_response_model
from cit_bayes.bayes.safety import fit_safety_model
from cit_bayes.bayes.trajectory import fit_trajectory_model
from cit_bayes.cohort import Cohort
from cit_bayes.exceptions import ModelError
from cit_bayes.plan import Analysis, AnalysisPlan
from cit_bayes.weighting.cohort_weights import (
    OutcomeDesign,
    WeightedAnalysis,
    outcome_design,
    weighted_outcomes,
)
from cit_bayes.weighting.survival import km_medians, weighted_kaplan_meier

__all__ = ["EndpointRunner", "Progress", "arm_counts", "endpoint_runner", "fit_name"]

Progress = Callable[[str], None]


def fit_name(endpoint: str, analysis: str) -> str:
    """The name of a fit (and of its diagnostics entry): ``"<endpoint>/<analysis>"``.

    Examples
    --------
    >>> from cit_bayes.analyses.endpoints import fit_name
    >>> fit_name("recovery", "adjusted (ATO)")
    'recovery/adjusted (ATO)'
    """
    return f"{endpoint}/{analysis}"


def _subset(data: PatientData, keep: np.ndarray) -> PatientData:
    """The patients in ``keep``; every other field (arms, covariates, weight scale) kept."""
    return dataclasses.replace(
        data,
        arm_codes=data.arm_codes[keep],
        design=data.design[keep],
        weights=data.weights[keep],
        tilt=data.tilt[keep],
        group_codes=None if data.group_codes is None else data.group_codes[keep],
    )


def _without_baseline(data: PatientData) -> PatientData:
    """The data without the log baseline count: the trajectory model has its own baseline term
    (a slope per day on the centred log baseline count), so the column would enter twice."""
    keep = [j for j, name in enumerate(data.covariates) if name != "log_plt_day0"]
    covariates = tuple(data.covariates[j] for j in keep)
    return dataclasses.replace(data, design=data.design[:, keep], covariates=covariates)


def arm_counts(codes: np.ndarray, arms) -> dict[str, int]:
    """Patients per arm, from arm codes (positions in ``arms``).

    Examples
    --------
    >>> from cit_bayes.analyses.endpoints import arm_counts
    >>> arm_counts(np.array([0, 1, 1, 2]), ("rhTPO", "hetrombopag", "combination"))
    {'rhTPO': 1, 'hetrombopag': 2, 'combination': 1}
    """
    return {arm: int(np.sum(codes == j)) for j, arm in enumerate(arms)}


def _tag(tables: dict, endpoint: str, analysis: str, into: dict) -> None:
    for name, table in tables.items():
        frame = table.copy()
        frame.insert(0, "analysis", analysis)
        into.setdefault(f"{endpoint}/{name}", []).append(frame)


class EndpointRunner:
    """Fits one analysis's four models and collects fragments, tables and fits.

    Examples
    --------
    Building a runner fits nothing:

    >>> from cit_bayes.cohort import validate_cohort
    >>> from cit_bayes.plan import load_plan
    >>> from cit_bayes.simulate import simulate_cohort
    >>> cohort = validate_cohort(simulate_cohort(60, seed=1).data)
    >>> runner = EndpointRunner(cohort, load_plan(), seed=1, progress=print)
    >>> runner.arms, runner.outcomes()["plt"].shape
    (('rhTPO', 'hetrombopag', 'combination', 'rhIL-11'), (60, 3))
    """

    def __init__(
        self,
        cohort: Cohort,
        plan: AnalysisPlan,
        seed: int,
        progress: Progress,
        design: OutcomeDesign | None = None,
    ):
        self.cohort, self.plan, self.seed, self.progress = cohort, plan, seed, progress
        self.data = cohort.data.reset_index(drop=True)
        self.arms = tuple(a for a in plan.arms if a in set(self.data["arm"]))
        self.codes = np.array([self.arms.index(a) for a in self.data["arm"]], dtype="int64")
        covariates = plan.cohort_covariates(cohort)  # checks the cohort against the plan
        self.design = outcome_design(covariates, plan) if design is None else design
        self.groups = plan.cohort_groups(cohort)
        self.fits: dict[str, PatientFit] = {}
        self.tables: dict[str, list] = {}
        self.timings: dict[str, float] = {}
        self.provenance = {
            "plan_hash": plan.sha256,
            "data_fingerprint": cohort.fingerprint,
            "synthetic": int(cohort.synthetic),
        }

    def patient_data(self, weighted: WeightedAnalysis | None) -> PatientData:
        n = len(self.codes)
        data = PatientData(
            arms=self.arms,
            arm_codes=self.codes,
            design=self.design.matrix,
            covariates=self.design.columns,
            weights=np.ones(n) if weighted is None else weighted.weights,
            tilt=np.ones(n) if weighted is None else weighted.tilt,
            groups=() if self.groups is None else self.groups[0],
            group_codes=None if self.groups is None else self.groups[1],
        )
        return data if weighted is not None else data.unadjusted()

    def _fit(self, endpoint: str, analysis: Analysis, call, endpoints=None) -> PatientFit | None:
        if endpoints is not None and endpoint not in endpoints:
            return None
        name = fit_name(endpoint, analysis.name)
        self.progress(f"fitting {name}")
        start = time.perf_counter()
        fit = call(
            seed=derive_seed(self.seed, name),
            name=name,
            settings=self.plan.sampler_for(endpoint),
            provenance=self.provenance
            | {"analysis": analysis.name, "estimand": analysis.estimand or "none"},
        )
        self.timings[name] = time.perf_counter() - start
        self.fits[name] = fit
        return fit

    def _common(self, analysis: Analysis, fit: PatientFit) -> dict:
        return {
            "estimand": analysis.estimand or "none",
            "adjusted": analysis.adjusted,
            "fit": fit.name,
            "passed": bool(fit.passed),
        }

    def outcomes(self) -> dict[str, np.ndarray]:
        """The outcome arrays of the four models (in patient order)."""
        frame, plan = self.data, self.plan
        return {
            "response": frame["response"].to_numpy(dtype=float),
            "plt": frame[[f"plt_{d}" for d in plan.days]].to_numpy(dtype=float),
            "day0": frame["plt_day0"].to_numpy(dtype=float),
            "time": frame["time_to_recovery"].to_numpy(dtype=float),
            "recovered": frame["recovered"].to_numpy(dtype=float),
            "after": frame["recovery_after"].to_numpy(dtype=float),
            "events": frame[list(plan.safety_events)].to_numpy(dtype=float),
        }

    def fit(
        self,
        analysis: Analysis,
        weighted: WeightedAnalysis | None,
        endpoints: tuple[str, ...] = ("response", "plt", "recovery", "safety"),
        *,
        data: PatientData | None = None,
        priors: dict | None = None,
        adjust_baseline: bool | None = None,
    ) -> None:
        """Fit the models of one analysis (default all four; each fit kept under its name).

        ``data``, ``priors`` and ``adjust_baseline`` replace what the analysis implies (the
        robustness variants of :mod:`cit_bayes.analyses.robustness`).
        """
        plan, y = self.plan, self.outcomes()
        data = self.patient_data(weighted) if data is None else data
        priors = plan.priors if priors is None else priors
        baseline = analysis.adjusted if adjust_baseline is None else adjust_baseline
        keep = np.isfinite(y["response"])
        self._fit(
            "response",
            analysis,
            lambda **kw: fit_response_model(
                y["response"][keep], _subset(data, keep), prior=priors["response"], **kw
            ),
            endpoints,
        )
        self._fit(
            "plt",
            analysis,
            lambda **kw: fit_trajectory_model(
                y["day0"],
                y["plt"],
                _without_baseline(data),
                days=plan.days,
                prior=priors["plt"],
                adjust_baseline=baseline,
                **kw,
            ),
            endpoints,
        )
        keep = np.isfinite(y["time"]) & np.isfinite(y["recovered"])
        self._fit(
            "recovery",
            analysis,
            lambda **kw: fit_recovery_model(
                y["time"][keep],
                y["recovered"][keep],
                _subset(data, keep),
                horizon=plan.horizon,
                prior=priors["recovery"],
                after=y["after"][keep],
                **kw,
            ),
            endpoints,
        )
        self._fit(
            "safety",
            analysis,
            lambda **kw: fit_safety_model(
                y["events"], data, event_names=plan.safety_events, prior=priors["safety"], **kw
            ),
            endpoints,
        )

    def compare(self, analysis: Analysis, weighted: WeightedAnalysis | None, results: dict) -> None:
        """Posterior comparisons and frequentist cross-checks of one fitted analysis."""
        fits = {
            e: self.fits[fit_name(e, analysis.name)]
            for e in ("response", "plt", "recovery", "safety")
        }
        y = self.outcomes()
        self._store("response", analysis, *self._response(analysis, fits, weighted, y), results)
        self._store("plt", analysis, *self._plt(analysis, fits, weighted, y), results)
        self._store("recovery", analysis, *self._recovery(analysis, fits, weighted, y), results)
        self._store("safety", analysis, *self._safety(analysis, fits, y), results)

    def _response(self, analysis: Analysis, fits, weighted, y):
        """The response's fragment and tables: posterior rates and contrasts, and the weighted
        (or plain) frequentist cross-check."""
        spec = self.plan.spec
        keep = np.isfinite(y["response"])
        fragment, tables = response_analysis(fits["response"].draws["rate"], spec)
        fragment = self._common(analysis, fits["response"]) | fragment
        fragment["n_analysed"] = arm_counts(self.codes[keep], self.arms)
        fragment["n_events"] = event_counts(y["response"], self.codes, self.arms)
        if weighted is None:
            outcome = plain_outcomes(
                y["response"][keep], self.codes[keep], self.arms, spec.ci_level
            )
        elif keep.all():
            outcome = weighted_outcomes(
                weighted,
                y["response"],
                plan=self.plan,
                seed=derive_seed(self.seed, "bootstrap", analysis.name),
            )
        else:  # said, not silently left out: the bootstrap refits the weights on every patient
            missing = int(np.sum(~keep))
            fragment["frequentist"] = {
                "method": f"not computed: {missing} patient(s) without a determinable response; "
                "the weighted bootstrap refits the weights on resamples of every patient and "
                "needs each one's outcome (the posterior uses the patients with one)"
            }
            return fragment, tables
        fragment["frequentist"] = frequentist_response_fragment(outcome, spec.pairs)
        tables["frequentist"] = outcome
        return fragment, tables

    def _plt(self, analysis: Analysis, fits, weighted, y):
        """The platelet trajectory's fragment and tables, with the observed means per day."""
        fit = fits["plt"]
        baseline = baseline_means(y["day0"], self.patient_data(weighted), analysis.adjusted)
        fragment, tables = plt_fragment(
            fit.draws["mean"], fit.draws["delta_plt"], baseline, self.plan.spec
        )
        fragment = self._common(analysis, fit) | fragment
        recorded = np.isfinite(y["plt"])
        fragment["n_analysed"] = arm_counts(self.codes[recorded.any(axis=1)], self.arms)
        tables["observed"] = observed_plt(
            y["day0"], y["plt"], self.codes, self.arms, self.plan.days
        )
        return fragment, tables

    def _recovery(self, analysis: Analysis, fits, weighted, y):
        """The recovery's fragment and tables: posterior contrasts, and the weighted Kaplan-Meier
        and Cox cross-checks."""
        plan, spec, fit = self.plan, self.plan.spec, fits["recovery"]
        keep = np.isfinite(y["time"]) & np.isfinite(y["recovered"])
        fragment, tables = recovery_fragment(
            fit.draws["cumulative_recovery"],
            fit.draws["rmtr"],
            fit.draws["arm_effect"],
            spec,
            reference=plan.recovery_reference,
            horizon=plan.horizon,
            arm_log_hazard=fit.draws["arm_log_hazard"],
            population=recovery_population(analysis.estimand, plan.horizon, int((~keep).sum())),
        )
        fragment = self._common(analysis, fit) | fragment
        fragment["n_analysed"] = arm_counts(self.codes[keep], self.arms)
        weights = None if weighted is None else weighted.weights[keep]
        labels = self.data["arm"].to_numpy()[keep]
        km = weighted_kaplan_meier(
            y["time"][keep],
            y["recovered"][keep],
            labels,
            weights,
            arms=self.arms,
            horizon=plan.horizon,
            ci_level=spec.ci_level,
        )
        cox = cox_or_note(
            y["time"][keep],
            y["recovered"][keep],
            labels,
            weights,
            arms=self.arms,
            reference=plan.recovery_reference,
            ci_level=spec.ci_level,
        )
        medians = km_medians(km)
        fragment["frequentist"] = frequentist_recovery_fragment(
            km, medians, cox, spec.pairs, spec.ci_level
        )
        tables |= {"kaplan_meier": km, "kaplan_meier_median": medians, "cox": cox}
        return fragment, tables

    def _safety(self, analysis: Analysis, fits, y):
        """The safety events' fragment and tables, with the patients recorded per event."""
        fit, events = fits["safety"], self.plan.safety_events
        fragment, tables = safety_analysis(fit.draws["rate"], self.plan.spec)
        fragment = self._common(analysis, fit) | fragment
        fragment["n_recorded"] = {
            event: arm_counts(self.codes[np.isfinite(y["events"][:, e])], self.arms)
            for e, event in enumerate(events)
        }
        fragment["n_events"] = {
            event: event_counts(y["events"][:, e], self.codes, self.arms)
            for e, event in enumerate(events)
        }
        return fragment, tables

    def store_diagnostics(self, fit: PatientFit, results: dict, extra: dict | None = None) -> None:
        """Add a fit's gates, sampler and target acceptance to ``results["diagnostics"]``."""
        exact = fit.fit.sampler == EXACT
        add_diagnostics(
            results,
            fit.name,
            fit.diagnostics.as_dict()
            | (extra or {})
            | {
                "fit": fit.name,
                "sampler": fit.fit.sampler,
                "target_accept": None if exact else fit.fit.settings.target_accept,
            },
        )

    def _store(self, endpoint, analysis, fragment, tables, results) -> None:
        fit = self.fits[fit_name(endpoint, analysis.name)]
        check, table = predictive_check(
            endpoint, fit.idata, seed=derive_seed(self.seed, "predictive", fit.name)
        )
        extra = {}
        if check is not None:
            fragment["predictive_check"] = check
            tables["predictive_check"] = table
            extra = {"predictive_check": {k: check[k] for k in ("passed", "failures")}}
        add_analysis(results, endpoint, analysis.name, fragment)
        self.store_diagnostics(fit, results, extra)
        _tag(tables, endpoint, analysis.name, self.tables)


def endpoint_runner(cohort, plan, seed, progress, design=None) -> EndpointRunner:
    """The runner of a cohort and plan under a checked master seed (default: the plan's);
    ``design``: the outcome models' design when it is not the cohort's own (one encoding shared
    by every imputation, :func:`cit_bayes.analyses.imputed.shared_designs`).

    Examples
    --------
    >>> from cit_bayes.cohort import validate_cohort
    >>> from cit_bayes.plan import load_plan
    >>> from cit_bayes.simulate import simulate_cohort
    >>> cohort = validate_cohort(simulate_cohort(60, seed=1).data)
    >>> endpoint_runner(cohort, load_plan(), -1, None)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: seed must be a non-negative integer, got -1
    """
    seed = plan.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ModelError(f"seed must be a non-negative integer, got {seed!r}")
    runner = EndpointRunner(cohort, plan, int(seed), progress or (lambda message: None), design)
    if len(runner.arms) < 2:
        raise ModelError(f"need at least two arms, got {runner.arms}")
    return runner
