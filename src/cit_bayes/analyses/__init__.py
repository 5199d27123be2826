"""The two analyses the package runs, and the ``results.json`` layout they share.

* :mod:`~cit_bayes.analyses.patient`: the patient-level analysis of a cohort (weights, outcome
  models, contrasts), behind ``cit-bayes fit`` and ``cit-bayes run``;
* :mod:`~cit_bayes.analyses.published`: the Bayesian analysis of the paper's published tables,
  behind ``cit-bayes reanalyse --published``, with its plan (:mod:`.published_plan`);
* :mod:`~cit_bayes.analyses.results`: the results document both write.
"""
