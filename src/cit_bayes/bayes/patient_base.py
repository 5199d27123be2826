"""The shared base of the patient-level outcome models: arrays in, checked; weights; caching.

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

Models are built once per structure (model kind, sizes, labels) and kept, like the aggregate
models, so that a second analysis of the same cohort (another estimand, the unadjusted one)
changes only ``pm.Data`` and re-uses nutpie's compiled sampler.

References
----------
Kish L. *Survey Sampling*. Wiley, 1965 (section 11.7, the design effect of weighting).
Savitsky TD, Toth D. Bayesian estimation under informative sampling. *Electron J Stat*
2016;10:1677-1708.
Williams MR, Savitsky TD. Uncertainty estimation for pseudo-Bayesian inference under complex
sampling. *Int Stat Rev* 2021;89:72-107.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from cit_bayes.bayes.sampling import Diagnostics, Fit, SamplerSettings, fingerprint, sample
from cit_bayes.bayes.sufficient import merge_identical_rows
from cit_bayes.config import check_fields
from cit_bayes.exceptions import ModelError

__all__ = [
    "SCALE",
    "check_fixed_arm_sd",
    "check_prior",
    "PatientData",
    "PatientFit",
    "ModelInputs",
    "WEIGHT_SCALES",
    "arm_size_rescale",
    "kish_rescale",
    "cached_model",
    "fit_cached_model",
    "group_intercept",
    "group_values",
    "likelihood_rows",
    "positive",
    "row_data",
    "zero_sum_basis",
]

#: How many built models are kept per process (oldest dropped first).
MODEL_CACHE_SIZE = 16
#: What an arm's likelihood weights may be rescaled to sum to (:attr:`PatientData.weight_scale`).
WEIGHT_SCALES: tuple[str, ...] = ("kish", "arm size")

_MODELS: OrderedDict[tuple, pm.Model] = OrderedDict()


def zero_sum_basis(k: int) -> np.ndarray:
    """Orthonormal basis (k, k - 1) of the vectors of length k that sum to zero (Helmert).

    With :math:`u \\sim N(0, I_{k-1})`, :math:`H u` has the distribution of k independent
    standard normals centred at their mean, :math:`N(0, I_k - J_k / k)` (PyMC's
    ``ZeroSumNormal``), as a plain matrix product. The models use it for arm effects: every
    difference between two arms has the prior of a difference of independent N(0, 1) effects,
    while the overall level belongs to the intercept alone (no ridge between the intercept and
    the mean of the arm effects; see the models' Notes).

    Examples
    --------
    >>> from cit_bayes.bayes.patient_base import zero_sum_basis
    >>> basis = zero_sum_basis(3)
    >>> basis.shape, bool(np.allclose(basis.sum(axis=0), 0.0))
    ((3, 2), True)
    """
    if k < 2:
        raise ModelError(f"a zero-sum basis needs at least 2 levels, got {k}")
    basis = np.zeros((k, k - 1))
    for j in range(1, k):
        basis[:j, j - 1] = 1.0
        basis[j, j - 1] = -float(j)
        basis[:, j - 1] /= np.sqrt(j * (j + 1.0))
    return basis


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


def group_intercept(
    groups: Sequence[str], n: int, scale, rows: bool = False
) -> pt.TensorVariable | float:
    """Inside a model's context: each patient's random intercept of their group, or 0.0.

    :math:`u_{g_i} = \\sigma_g z_{g_i}`, :math:`z \\sim \\mathrm{ZeroSumNormal}(1)`,
    :math:`\\sigma_g \\sim \\mathrm{HalfNormal}(s_g)` (variables ``group_sd``, ``group_z``
    and the deterministic ``group_effect``, dims ``group``; the patients' groups are the
    ``pm.Data`` ``group_index``). Non-centred: a grouping has few levels and little data in
    some, where the centred form makes the funnel NUTS diverges in (Betancourt & Girolami
    2015). Zero-sum: the arms' own intercepts carry the level, so the mean of the group effects
    would otherwise trade off against every arm's intercept along a ridge (measured on 400
    simulated patients, 5 groups, 4 x 1000 draws: smallest bulk ESS 452 and R-hat 1.0099 with
    independent normal z; 870 and 1.0044 zero-sum). :math:`\\sigma_g` is then the SD of the effects about their mean
    (each effect's prior SD is :math:`\\sigma_g \\sqrt{1 - 1/G}` for G groups). Groups
    (tumour types, centres) are exchangeable units, unlike the arms, so they share
    :math:`\\sigma_g`. The models add it to the linear predictor, so their g-computation
    predicts every patient in their own group: the marginal quantities stay those of the
    cohort's patients. With ``rows``, the intercepts are indexed by the likelihood's merged
    rows (``pm.Data`` ``row_group_index``, :func:`row_data`), and ``group_index`` stays for
    the g-computation.

    Examples
    --------
    >>> with pm.Model() as model:
    ...     shift = group_intercept(("lung", "breast"), n=3, scale=1.0)
    >>> sorted(model.named_vars), list(model.coords["group"])
    (['group_effect', 'group_index', 'group_sd', 'group_z'], ['lung', 'breast'])
    >>> group_intercept((), n=3, scale=1.0)
    0.0
    """
    if not groups:
        return 0.0
    model = pm.modelcontext(None)
    model.add_coord("group", list(groups))
    index = pm.Data("group_index", np.zeros(n, dtype="int64"), dims="patient")
    if rows:
        index = pm.Data("row_group_index", np.zeros(1, dtype="int64"))
    group_sd = pm.HalfNormal("group_sd", scale)
    group_z = pm.ZeroSumNormal("group_z", 1.0, dims="group")
    effect = pm.Deterministic("group_effect", group_sd * group_z, dims="group")
    return effect[index]


def row_data(columns: Mapping[str, np.ndarray]) -> dict[str, pt.TensorVariable]:
    """Inside a model's context: the ``pm.Data`` of the likelihood's merged rows.

    One ``pm.Data`` ``row_<name>`` per column (the given array fixes its dtype and number of
    dimensions, not its length) and ``row_weight``; their values come from
    :func:`likelihood_rows`. The models keep each patient's own arrays beside them for the
    g-computation and the predictive checks.

    Examples
    --------
    >>> with pm.Model() as model:
    ...     row = row_data({"arm_index": np.zeros(1, dtype="int64")})
    >>> sorted(row), sorted(model.named_vars)
    (['arm_index', 'weight'], ['row_arm_index', 'row_weight'])
    """
    row = {name: pm.Data(f"row_{name}", value) for name, value in columns.items()}
    return row | {"weight": pm.Data("row_weight", np.ones(1))}


def likelihood_rows(values: Mapping[str, np.ndarray], columns: Sequence[str]) -> dict:
    """The values of :func:`row_data`: the patients with identical likelihood inputs merged.

    The rows of ``values[c]`` for c in ``columns`` (and ``group_index`` when present) that are
    identical are merged, their ``weight`` summed, and rows of weight 0 left out
    (:func:`~cit_bayes.bayes.sufficient.merge_identical_rows`): the weighted log-likelihood is
    the same, exactly.

    Examples
    --------
    >>> values = {"arm_index": np.array([0, 0, 1]), "weight": np.array([1.0, 2.0, 0.0])}
    >>> rows = likelihood_rows(values, ["arm_index"])
    >>> rows["row_arm_index"].tolist(), rows["row_weight"].tolist()
    ([0], [3.0])
    """
    names = [*columns, *(["group_index"] if "group_index" in values else [])]
    merged, summed = merge_identical_rows({k: values[k] for k in names}, values["weight"])
    if not len(summed):
        raise ModelError("no patient contributes to the likelihood (every weight is 0)")
    return {f"row_{name}": value for name, value in merged.items()} | {"row_weight": summed}


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


def cached_model(key: tuple, build: Callable[[], pm.Model]) -> pm.Model:
    """Return the model built for ``key`` in this process, building it on first use.

    Examples
    --------
    >>> from cit_bayes.bayes.patient_base import cached_model
    >>> model = cached_model(("example", 1), pm.Model)
    >>> cached_model(("example", 1), pm.Model) is model
    True
    """
    model = _MODELS.get(key)
    if model is None:
        model = build()
        _MODELS[key] = model
        while len(_MODELS) > MODEL_CACHE_SIZE:
            _MODELS.popitem(last=False)
    else:
        _MODELS.move_to_end(key)
    return model


@dataclass(frozen=True)
class ModelInputs:
    """A patient-level model with the data of one fit, before sampling (inside ``bayes/``).

    Attributes
    ----------
    model : pymc.Model
        The cached model of this data's shape (:func:`cached_model`); its ``pm.Data`` are set
        from ``values`` by :func:`fit_cached_model`.
    values : dict of str to numpy.ndarray
        The ``pm.Data`` values.
    derived : callable
        The g-computation of the reported quantities on draws (``derived(posterior)``).
    provenance : dict
        Attributes the fit records beside the caller's (the parametrisation chosen).
    """

    model: pm.Model
    values: Mapping[str, np.ndarray]
    derived: Callable[[xr.Dataset], Mapping[str, xr.DataArray]]
    provenance: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PatientFit:
    """A patient-level model fitted to one analysis's data.

    Attributes
    ----------
    endpoint : str
        ``"response"``, ``"plt"``, ``"recovery"`` or ``"safety"``.
    fit : Fit
        The sampler run: ArviZ DataTree (posterior, sample_stats, constant_data with the weights,
        design and outcomes), diagnostics, settings, seed, timings, provenance.
    draws : mapping of str to xarray.DataArray
        The reported quantities, dims ``(chain, draw, ...)`` with labelled ``arm`` (and ``day``
        or ``event``) coordinates.

    Examples
    --------
    >>> from cit_bayes.bayes.sampling import Diagnostics, Fit, SamplerSettings
    >>> checks = Diagnostics(1.002, 850.0, 790.0, divergences=0, passed=True)
    >>> fit = Fit("response/ATE", xr.DataTree(), checks, SamplerSettings(), seed=7)
    >>> PatientFit("response", fit, draws={}).passed
    True
    """

    endpoint: str
    fit: Fit
    draws: Mapping[str, xr.DataArray]

    @property
    def name(self) -> str:
        """The fit's name."""
        return self.fit.name

    @property
    def idata(self) -> xr.DataTree:
        """The fit's draws (ArviZ DataTree)."""
        return self.fit.idata

    @property
    def diagnostics(self) -> Diagnostics:
        """The fit's diagnostics (gates over every posterior variable)."""
        return self.fit.diagnostics

    @property
    def passed(self) -> bool:
        """Whether every gate was met."""
        return self.fit.passed


def fit_cached_model(
    model: pm.Model,
    values: Mapping[str, np.ndarray],
    *,
    endpoint: str,
    reported: Sequence[str],
    seed: int | np.random.Generator,
    name: str,
    settings: SamplerSettings | None,
    provenance: Mapping[str, str | int | float] | None,
    derived: Callable[[xr.Dataset], Mapping[str, xr.DataArray]] | None = None,
) -> PatientFit:
    """Set the model's data, sample it through :func:`~cit_bayes.bayes.sampling.sample`.

    ``derived`` computes quantities from the stored draws after sampling (the g-computation;
    see :func:`~cit_bayes.bayes.sampling.sample`). The gates cover every posterior variable
    (parameters, derived and reported quantities). The
    ``model_data_fingerprint`` provenance attribute hashes the arrays the model saw; the caller
    may pass ``data_fingerprint`` (the cohort's) in ``provenance``.

    Examples
    --------
    Sampling takes seconds; the arguments are checked first:

    >>> fit_cached_model(pm.Model(), {}, endpoint="response", reported=("rate",), seed=1,
    ...                  name="", settings=None, provenance=None)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: a fit needs a non-empty name
    """
    pm.set_data(dict(values), model=model)
    extra = {"model": endpoint, "model_data_fingerprint": fingerprint(dict(values))}
    fit = sample(
        model,
        seed=seed,
        settings=settings,
        name=name,
        provenance=extra | dict(provenance or {}),
        derived=derived,
    )
    draws = {
        key: fit.idata["posterior"][key].transpose("chain", "draw", ...).copy() for key in reported
    }
    return PatientFit(endpoint=endpoint, fit=fit, draws=draws)
