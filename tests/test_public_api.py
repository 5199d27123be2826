"""Pin the public API, so that nothing becomes public (or stops being public) by accident."""

from __future__ import annotations

import importlib
import inspect

import pytest

import cit_bayes

EXPECTED_TOP_LEVEL = {"__version__"}

EXPECTED_SUBPACKAGES = {
    "cit_bayes.bayes": {
        "AggregateFit",
        "CountData",
        "DEFAULT_SAMPLER",
        "Diagnostics",
        "EndpointPrior",
        "Fit",
        "MeanData",
        "PriorSet",
        "SAMPLERS",
        "SamplerSettings",
        "available_prior_sets",
        "compute_diagnostics",
        "derive_seed",
        "fingerprint",
        "fit_aggregates",
        "fit_plt",
        "fit_recovery",
        "fit_response",
        "fit_safety",
        "load_prior_set",
        "load_prior_sets",
        "sample",
    },
    "cit_bayes.contrasts": {
        "ArmDraws",
        "all_pairs",
        "as_draws",
        "format_threshold",
        "interval_fragment",
        "pairs_against",
        "pairwise",
        "prob_best",
        "prob_exceeds",
        "prob_noninferior",
        "prob_superior",
        "probability_fragment",
        "summarise",
    },
    "cit_bayes.analyses.results": {
        "ENDPOINT_KEYS",
        "REQUIRED_META_KEYS",
        "ResultsSchemaError",
        "SCHEMA_VERSION",
        "TOP_LEVEL_KEYS",
        "SOFTWARE",
        "add_analysis",
        "add_diagnostics",
        "file_stem",
        "load_idata",
        "new_results",
        "read_results",
        "save_fit",
        "software_versions",
        "to_jsonable",
        "validate_results",
        "validation_problems",
        "write_results",
    },
    "cit_bayes.analyses.published": {
        "PublishedInputs",
        "PublishedReanalysis",
        "ReanalysisPlan",
        "load_reanalysis_plan",
        "published_inputs",
        "run_published_reanalysis",
        "write_published_reanalysis",
    },
    "cit_bayes.plan": {
        "Analysis",
        "AnalysisPlan",
        "ESTIMANDS",
        "MODELS",
        "WeightingPlan",
        "load_plan",
        "prior_class",
    },
    "cit_bayes.analyses.patient": {
        "PatientAnalysis",
        "compare_arms",
        "fit_models",
        "fit_name",
        "run_patient_analysis",
        "weight_cohort",
        "write_fit_draws",
        "write_fit_outputs",
    },
    "cit_bayes.weighting.survival": {"km_medians", "weighted_kaplan_meier"},
    "cit_bayes.weighting.cox": {"weighted_cox"},
    "cit_bayes.pipeline": {"BUNDLED_COHORT", "PipelineResult", "STEPS", "Steps", "run_pipeline"},
    "cit_bayes.cohort": {
        "ARMS",
        "BASELINE_COVARIATES",
        "Cohort",
        "Problem",
        "read_cohort",
        "validate_cohort",
    },
    "cit_bayes.weighting": {
        "ESTIMANDS",
        "BalancingWeights",
        "CovariateDesign",
        "PropensityWeighting",
        "balance_summary",
        "balance_table",
        "effective_sample_size",
        "encode_covariates",
        "estimand_weights",
        "propensity_overlap",
        "weight_summary",
        "weighted_outcome",
    },
    "cit_bayes.simulate": {
        "FEATURES",
        "Scenario",
        "SimulatedCohort",
        "design_matrix",
        "list_scenarios",
        "load_scenario",
        "scenarios_dir",
        "simulate_cohort",
        "write_simulated",
    },
    "cit_bayes.paper": {
        "ARM_SIZES",
        "AuditRecord",
        "audit_frame",
        "count_table",
        "implied_recovery_analysis_sizes",
        "load_tables",
        "parse_printed_cell",
        "parse_printed_p",
        "run_audit",
        "write_audit",
    },
    "cit_bayes.reconstruct": {
        "DEFAULT_SEED",
        "ReconstructedCohort",
        "ReconstructionPlan",
        "fidelity_report",
        "load_reconstruction_plan",
        "published_targets",
        "reconstruct_cohort",
        "reconstruct_cohorts",
        "write_reconstruction",
    },
}


def test_top_level_all_is_pinned():
    assert set(cit_bayes.__all__) == EXPECTED_TOP_LEVEL


@pytest.mark.parametrize("module_name", sorted(EXPECTED_SUBPACKAGES))
def test_subpackage_all_is_pinned(module_name):
    module = importlib.import_module(module_name)
    assert set(module.__all__) == EXPECTED_SUBPACKAGES[module_name]
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name} is listed but missing"


def test_exceptions_are_named_and_rooted():
    from cit_bayes import exceptions

    for name in exceptions.__all__:
        obj = getattr(exceptions, name)
        assert issubclass(obj, exceptions.CitBayesError | exceptions.CitBayesWarning)


def _without_examples(module_name: str) -> list[str]:
    """The pinned functions and classes of ``module_name`` whose docstring has no example
    (exceptions and warnings are named in ``exceptions`` and documented there by their names)."""
    module = importlib.import_module(module_name)
    missing = []
    for name in sorted(EXPECTED_SUBPACKAGES[module_name]):
        obj = getattr(module, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue
        if ">>>" not in (inspect.getdoc(obj) or ""):
            missing.append(name)
    return missing


@pytest.mark.parametrize("module_name", sorted(EXPECTED_SUBPACKAGES))
def test_public_api_has_examples(module_name):
    # The examples run as doctests in `make test` (pyproject's --doctest-modules).
    assert _without_examples(module_name) == []


def test_a_public_function_without_an_example_is_found(monkeypatch):
    from cit_bayes import contrasts

    monkeypatch.setattr(contrasts.prob_best, "__doc__", "P(best) per arm; no example.")
    assert _without_examples("cit_bayes.contrasts") == ["prob_best"]
