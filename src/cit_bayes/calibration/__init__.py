"""Calibration of the analyses: interval coverage over simulated cohorts with a known truth.

``cit-bayes calibrate`` simulates cohorts under the simulator's scenarios, runs the plan's
unadjusted, fixed-weight and design-uncertainty analyses on each, and measures how often their
credible intervals cover the truth of the plan's primary estimand. The modules:

:mod:`~cit_bayes.calibration.truth`
    The true marginal quantities of a simulated cohort for an estimand (ATE, ATO, ATT).
:mod:`~cit_bayes.calibration.replicate`
    One replicate: simulate, weight, fit, and compare each interval with the truth.
:mod:`~cit_bayes.calibration.store`
    The output folder: one file per replicate, so that an interrupted calibration resumes.
:mod:`~cit_bayes.calibration.engine`
    Running the replicates: in this process or on Dask workers (a local cluster or a scheduler).
:mod:`~cit_bayes.calibration.summary`
    Coverage, bias and decision rates with their Monte Carlo errors.
:mod:`~cit_bayes.calibration.sbc`
    Simulation-based calibration replicates (:mod:`cit_bayes.bayes.sbc`) and their uniformity.
:mod:`~cit_bayes.calibration.report_block`
    The calibration a ``cit-bayes run`` report shows (``results.json``'s ``calibration``).

This package imports nothing heavy itself: Dask workers import
:mod:`cit_bayes.calibration.workers` before PyTensor, to give each worker its compile directory.
"""
