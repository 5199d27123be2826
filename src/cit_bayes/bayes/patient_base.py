"""The shared base of the patient-level outcome models: arrays in, checked; weights.

The four models (:mod:`~cit_bayes.bayes.response`, :mod:`~cit_bayes.bayes.trajectory`,
:mod:`~cit_bayes.bayes.recovery`, :mod:`~cit_bayes.bayes.safety`) take plain arrays, never a
file or a :class:`~cit_bayes.cohort.Cohort`:

* :class:`PatientData`: each patient's arm (integer code), the covariate design (one row per
  patient, already encoded and standardised by the caller), the weights of the analysis and the
  tilting ``h`` that defines its target population (g-computation averages over patients with
  weights ``h``);
* the model's outcome arrays.

Weight rescaling (:func:`kish_rescale`)
---------------------------------------
A weighted log-likelihood :math:`\\sum_i w_i \\log p(y_i \\mid \\theta)` treats a patient of
weight 3 as three patients. Balancing weights are scaled to sum to the target population's
size in every arm, which would let an arm of 36 patients speak for 187; and weights that vary a
lot carry less information than as many equal weights. The rule used everywhere here: within
each arm :math:`a`, the weights are rescaled to sum to the arm's Kish effective sample size

.. math::  \\tilde w_i = w_i \\, \\frac{n^{\\mathrm{eff}}_a}{\\sum_{j \\in a} w_j},\\qquad
           n^{\\mathrm{eff}}_a = \\frac{(\\sum_{j \\in a} w_j)^2}{\\sum_{j \\in a} w_j^2},

so the pseudo-likelihood of arm a carries about the information of :math:`n^{\\mathrm{eff}}_a`
independent patients (the variance of a weighted mean is that of a plain mean of
:math:`n^{\\mathrm{eff}}_a` observations; Kish 1965). With unit weights nothing changes. The
rescaling is within arm, so every weighted arm still represents the same target population
(relative weights within an arm are untouched). It is an approximation: the pseudo-posterior of
a weighted likelihood is not a proper posterior and its spread is only approximately right
(Savitsky & Toth 2016; Williams & Savitsky 2021, who give an exact correction at more cost).
A robustness variant (``weight_scale="arm size"``) rescales instead to the arm's size
:math:`n_a`, which lets weights that vary a lot speak with the full arm's information.

The building blocks the models add to their PyMC model (the zero-sum basis of arm effects, a
grouping's random intercept, the merged likelihood rows) are in
:mod:`~cit_bayes.bayes.patient_blocks`; the model cache and the fit of a built model in
:mod:`~cit_bayes.bayes.patient_fit`.

References
----------
Kish L. *Survey Sampling*. Wiley, 1965 (section 11.7, the design effect of weighting).
Savitsky TD, Toth D. Bayesian estimation under informative sampling. *Electron J Stat*
2016;10:1677-1708.
Williams MR, Savitsky TD. Uncertainty estimation for pseudo-Bayesian inference under complex
sampling. *Int Stat Rev* 2021;89:72-107.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cit_bayes.config import check_fields
from cit_bayes.exceptions import ModelError

__all__ = [
    "SCALE",
    "check_fixed_arm_sd",
    "check_prior",
    "PatientData",
    "WEIGHT_SCALES",
    "arm_size_rescale",
    "kish_rescale",
    "group_values",
    "positive",
]

#: What an arm's likelihood weights may be rescaled to sum to (:attr:`PatientData.weight_scale`).
WEIGHT_SCALES: tuple[str, ...] = ("kish", "arm size")

#: The limits of a prior scale (an SD, a shape): a finite number above zero.
SCALE = {"low": 0.0, "open_low": True}


def check_prior(prior) -> None:
    """Check a prior dataclass's settings against their types and :func:`~cit_bayes.config.setting`
    limits (the same rules as when a plan file gives them); :class:`ModelError` names the field.

    Examples
    --------
    >>> from cit_bayes.bayes.safety import SafetyPrior
    >>> SafetyPrior(a=0.0)  # its __post_init__ calls check_prior
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: SafetyPrior: a: 0.0 is outside (0, inf]
    """
    try:
        check_fields(prior)
    except ValueError as error:
        raise ModelError(f"{type(prior).__name__}: {error}") from None


def check_fixed_arm_sd(prior) -> None:
    """``arm_sd_fixed`` fixes the SD of pooled arms: it needs ``pool_arms``.

    Examples
    --------
    >>> from cit_bayes.bayes.response import ResponsePrior
    >>> ResponsePrior(arm_sd_fixed=True)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: ResponsePrior: arm_sd_fixed fixes the between-arm SD of pooled arms: it needs pool_arms = true
    """
    if prior.arm_sd_fixed and not prior.pool_arms:
        raise ModelError(
            f"{type(prior).__name__}: arm_sd_fixed fixes the between-arm SD of pooled arms: it "
            "needs pool_arms = true"
        )


def positive(value: float, name: str) -> float:
    """Return ``value`` as float if finite and > 0, else raise :class:`ModelError`.

    Examples
    --------
    >>> positive(2, "horizon")
    2.0
    >>> positive(0, "horizon")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: horizon must be a finite positive number, got 0.0
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ModelError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ModelError(f"{name} must be a finite positive number, got {value!r}")
    return value


@dataclass(frozen=True)
class PatientData:
    """What every patient-level model needs besides its outcome, as checked arrays.

    Attributes
    ----------
    arms : tuple of str
        Arm labels (at least two, distinct); ``arm_codes`` index into them.
    arm_codes : numpy.ndarray of int, shape (n,)
    design : numpy.ndarray of float, shape (n, p)
        Covariate design (standardised numeric columns, 0/1 indicators), the same rows as
        ``arm_codes``. An unadjusted analysis passes zeros (see :meth:`unadjusted`).
    covariates : tuple of str
        Names of the design columns (coordinates of the ``covariate`` dimension).
    weights : numpy.ndarray of float, shape (n,)
        The analysis's weights (non-negative; each arm needs a positive total). Rescaled within
        arm by the models (:func:`kish_rescale`).
    tilt : numpy.ndarray of float, shape (n,)
        The target population's tilting h_i >= 0 (1 for ATE; see the analysis layer): the
        g-computation averages patient-level predictions with these weights.
    weight_scale : {"kish", "arm size"}
        What each arm's weights are rescaled to sum to in the likelihood
        (:meth:`likelihood_weights`): its Kish effective sample size (default), or its number
        of patients (a robustness variant).
    groups : tuple of str
        Labels of a grouping of the patients (tumour type, centre) that the models give a
        random intercept (:func:`group_intercept`); empty (default) for none.
    group_codes : numpy.ndarray of int, shape (n,), optional
        Each patient's group (positions in ``groups``); required with ``groups``.

    Examples
    --------
    >>> from cit_bayes.bayes.patient_base import PatientData
    >>> data = PatientData(("a", "b"), [0, 0, 1], np.ones((3, 1)), ("age",), [1, 2, 1], [1, 1, 1])
    >>> data.n, data.n_arms, data.unadjusted().weights.tolist()
    (3, 2, [1.0, 1.0, 1.0])
    """

    arms: tuple[str, ...]
    arm_codes: np.ndarray
    design: np.ndarray
    covariates: tuple[str, ...]
    weights: np.ndarray
    tilt: np.ndarray
    weight_scale: str = "kish"
    groups: tuple[str, ...] = ()
    group_codes: np.ndarray | None = None

    def __post_init__(self):
        if self.weight_scale not in WEIGHT_SCALES:
            raise ModelError(
                f"weight_scale must be one of {WEIGHT_SCALES}, got {self.weight_scale!r}"
            )
        self._check_groups(np.asarray(self.arm_codes).size)
        arms = tuple(str(a) for a in self.arms)
        if len(set(arms)) != len(arms):
            raise ModelError(f"need distinct arm labels, got {arms}")
        if len(arms) < 2:
            raise ModelError(f"the models compare arms: need at least two arms, got {arms}")
        codes = np.asarray(self.arm_codes)
        if codes.ndim != 1 or codes.size == 0:
            raise ModelError("arm_codes must be a non-empty one-dimensional array")
        if not np.issubdtype(codes.dtype, np.integer):
            if not np.all(np.isfinite(codes)) or np.any(codes % 1 != 0):
                raise ModelError("arm_codes must be whole numbers")
        codes = codes.astype("int64")
        if codes.min() < 0 or codes.max() >= len(arms):
            raise ModelError(f"arm_codes must lie in 0..{len(arms) - 1}")
        absent = [arms[j] for j in range(len(arms)) if not np.any(codes == j)]
        if absent:
            raise ModelError(f"no patient in arm(s) {absent}")
        n = codes.size
        design = np.asarray(self.design, dtype=float)
        if design.ndim != 2 or design.shape[0] != n:
            raise ModelError(f"design must have shape (n={n}, p), got {design.shape}")
        if not np.all(np.isfinite(design)):
            raise ModelError("design has missing or non-finite values")
        covariates = tuple(str(c) for c in self.covariates)
        if len(covariates) != design.shape[1] or len(set(covariates)) != len(covariates):
            raise ModelError(
                f"need {design.shape[1]} distinct covariate names, got {list(covariates)}"
            )
        weights = self._vector(self.weights, "weights", n)
        totals = np.bincount(codes, weights=weights, minlength=len(arms))
        empty = [arms[j] for j in range(len(arms)) if totals[j] <= 0]
        if empty:
            raise ModelError(f"the weights of arm(s) {empty} sum to zero")
        tilt = self._vector(self.tilt, "tilt", n)
        if tilt.sum() <= 0:
            raise ModelError("the target-population tilt sums to zero")
        object.__setattr__(self, "arms", arms)
        object.__setattr__(self, "arm_codes", codes)
        object.__setattr__(self, "design", design)
        object.__setattr__(self, "covariates", covariates)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "tilt", tilt)

    def _check_groups(self, n: int) -> None:
        groups = tuple(str(g) for g in self.groups)
        if not groups:
            if self.group_codes is not None:
                raise ModelError("group_codes given without groups (their labels)")
            return
        if len(set(groups)) != len(groups) or len(groups) < 2:
            raise ModelError(f"a grouping needs at least two distinct labels, got {groups}")
        codes = np.asarray(self.group_codes if self.group_codes is not None else [])
        if codes.shape != (n,) or not np.issubdtype(codes.dtype, np.integer):
            raise ModelError(f"group_codes must be {n} whole numbers, one per patient")
        if codes.min() < 0 or codes.max() >= len(groups):
            raise ModelError(f"group_codes must lie in 0..{len(groups) - 1}")
        object.__setattr__(self, "groups", groups)
        object.__setattr__(self, "group_codes", codes.astype("int64"))

    @staticmethod
    def _vector(values, name: str, n: int) -> np.ndarray:
        array = np.asarray(values, dtype=float)
        if array.shape != (n,):
            raise ModelError(f"{name} must have shape ({n},), got {array.shape}")
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ModelError(f"{name} must be finite and non-negative")
        return array

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.arm_codes.size)

    @property
    def n_arms(self) -> int:
        """Number of arms."""
        return len(self.arms)

    def likelihood_weights(self, mask: np.ndarray | None = None) -> np.ndarray:
        """The weights the likelihood uses: rescaled within arm as ``weight_scale`` says.

        Parameters
        ----------
        mask : array of bool, shape (n,), optional
            Patients who contribute to the likelihood (see :func:`kish_rescale`).

        Examples
        --------
        >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.ones((4, 1)), ("x",), [1, 3, 2, 2],
        ...                    [1, 1, 1, 1])
        >>> data.likelihood_weights().round(3).tolist()
        [0.4, 1.2, 1.0, 1.0]
        >>> import dataclasses
        >>> data = dataclasses.replace(data, weight_scale="arm size")
        >>> data.likelihood_weights().round(3).tolist()
        [0.5, 1.5, 1.0, 1.0]
        """
        if self.weight_scale == "kish":
            return kish_rescale(self.weights, self.arm_codes, self.n_arms, mask)
        return arm_size_rescale(self.weights, self.arm_codes, self.n_arms, mask)

    def unadjusted(self) -> PatientData:
        """The same patients with a zero design, unit weights and unit tilt, and without the
        grouping (no adjustment)."""
        return PatientData(
            arms=self.arms,
            arm_codes=self.arm_codes,
            design=np.zeros_like(self.design),
            covariates=self.covariates,
            weights=np.ones(self.n),
            tilt=np.ones(self.n),
        )


def kish_rescale(
    weights: np.ndarray, arm_codes: np.ndarray, n_arms: int, mask: np.ndarray | None = None
) -> np.ndarray:
    """Rescale weights within each arm to sum to the arm's Kish effective sample size.

    Parameters
    ----------
    weights : array, shape (n,)
        Non-negative weights.
    arm_codes : array of int, shape (n,)
    n_arms : int
    mask : array of bool, shape (n,), optional
        Patients who contribute to the likelihood (others get weight 0 and do not count in
        the effective sample size); default all.

    Returns
    -------
    numpy.ndarray
        :math:`\\tilde w_i = w_i\\, n^{\\mathrm{eff}}_a / \\sum_{j \\in a} w_j` (module docstring).
        An arm with no contributing weight keeps zeros.

    Examples
    --------
    >>> from cit_bayes.bayes.patient_base import kish_rescale
    >>> kish_rescale([1.0, 3.0, 2.0, 2.0], [0, 0, 1, 1], n_arms=2).round(3).tolist()
    [0.4, 1.2, 1.0, 1.0]
    """
    return _rescale_within_arms(
        weights, arm_codes, n_arms, mask, lambda w: w.sum() ** 2 / (w**2).sum()
    )


def arm_size_rescale(
    weights: np.ndarray, arm_codes: np.ndarray, n_arms: int, mask: np.ndarray | None = None
) -> np.ndarray:
    """Rescale weights within each arm to sum to the arm's number of contributing patients.

    The robustness variant beside :func:`kish_rescale`: the same relative weights, but each
    arm's pseudo-likelihood carries the information of all its patients however much the
    weights vary (so its posterior is narrower than the Kish rule's).

    Examples
    --------
    >>> arm_size_rescale([1.0, 3.0, 2.0, 2.0], [0, 0, 1, 1], n_arms=2).tolist()
    [0.5, 1.5, 1.0, 1.0]
    """
    return _rescale_within_arms(weights, arm_codes, n_arms, mask, len)


def _rescale_within_arms(weights, arm_codes, n_arms: int, mask, target) -> np.ndarray:
    """Each arm's contributing weights scaled to sum to ``target(their weights)``; others 0."""
    weights = np.asarray(weights, dtype=float)
    codes = np.asarray(arm_codes, dtype=int)
    keep = np.ones(len(weights), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    out = np.zeros(len(weights))
    for j in range(n_arms):
        rows = (codes == j) & keep
        total = weights[rows].sum()
        if total > 0:
            out[rows] = weights[rows] * target(weights[rows]) / total
    return out


def group_values(data: PatientData) -> dict[str, np.ndarray]:
    """The ``pm.Data`` of :func:`group_intercept` for these patients (empty without groups).

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 1, 1], np.zeros((3, 0)), (), np.ones(3), np.ones(3),
    ...                    groups=("x", "y"), group_codes=[1, 0, 1])
    >>> group_values(data)["group_index"].tolist(), group_values(data.unadjusted())
    ([1, 0, 1], {})
    """
    return {} if not data.groups else {"group_index": data.group_codes}
