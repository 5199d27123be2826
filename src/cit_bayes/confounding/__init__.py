"""How strong an unmeasured confounder would have to be to change the key answers (issue 19).

:mod:`~cit_bayes.confounding.evalue` (E-values, VanderWeele & Ding 2017),
:mod:`~cit_bayes.confounding.bias` (a latent binary confounder U with stated priors: bias-adjusted
posteriors and the tipping-point surface), :mod:`~cit_bayes.confounding.benchmarks` (the measured
covariates' own strengths) and :mod:`~cit_bayes.confounding.summary` (the ``results.json`` block).
"""
