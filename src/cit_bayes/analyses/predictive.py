"""Posterior predictive checks of the patient-level models: observed vs replicated, per arm.

For each posterior draw (up to :data:`MAX_DRAWS`, evenly spaced) the outcomes of the analysed
patients are replicated from the model, under each patient's own arm and covariates, and a
summary is computed from the replicate exactly as from the data (Gelman, Meng & Stern 1996):

* response: the share of responders per arm;
* PLT trajectory: the mean count per arm on each follow-up day, over the patients with that
  day's count recorded (log counts multivariate normal with the fitted within-patient
  covariance, back on the natural scale);
* recovery: the share of patients per arm seen to recover by day 7 and by the last day, with
  each patient's own follow-up (a patient censored on day c cannot be seen to recover after c;
  the follow-up of one who recovered, not observed, is drawn from the Kaplan-Meier estimate of
  the censoring distribution beyond the recovery day: censoring independent of recovery, as
  the model assumes).

Reported per arm and statistic: the observed value, the median and the 95 % interval of the
replicates, and the two-sided posterior predictive p-value :math:`2\\min(P(T^{rep} \\ge
T^{obs}), P(T^{rep} \\le T^{obs}))`. A model's check fails where any p-value is below
:data:`FAILURE_P` (posterior predictive p-values are conservative, piled up near 1/2 for a
model that fits, so a value this small is a misfit, not chance); a failed check is reported
like a missed gate. The inputs are the fit's own draws and ``constant_data`` (the arrays the
model saw), so the check replicates exactly what was fitted. The safety model is saturated (a
rate per arm and event) and its check is not informative, so it has none.

No library computes these for models whose likelihood is a ``pm.Potential`` (PyMC's
``sample_posterior_predictive`` needs observed random variables), hence this module.

References
----------
Gelman A, Meng X-L, Stern H. Posterior predictive assessment of model fitness via realized
discrepancies. *Stat Sin* 1996;6:733-807.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

from cit_bayes.bayes.correlation import correlation_matrix
from cit_bayes.bayes.trajectory_targets import slope_deviation_terms

__all__ = ["MAX_DRAWS", "FAILURE_P", "predictive_check"]

#: Posterior draws used for the replicates (evenly spaced over the chains).
MAX_DRAWS = 1000
#: A statistic whose two-sided posterior predictive p-value is below this fails the check.
FAILURE_P = 0.01
#: Days at which recovery is checked (those within the horizon), and the last day.
RECOVERY_DAYS = (7,)


def _draws(idata: xr.DataTree, name: str, dims: tuple[str, ...], keep: np.ndarray) -> np.ndarray:
    values = idata["posterior"][name].transpose("chain", "draw", *dims).values
    return values.reshape(-1, *values.shape[2:])[keep]


def _data(idata: xr.DataTree, name: str) -> np.ndarray:
    return np.asarray(idata["constant_data"][name].values)


def _summary(observed: float, replicated: np.ndarray) -> dict:
    upper = float(np.mean(replicated >= observed))
    lower = float(np.mean(replicated <= observed))
    low, median, high = np.quantile(replicated, [0.025, 0.5, 0.975])
    return {
        "observed": float(observed),
        "median": float(median),
        "ppi_low": float(low),
        "ppi_high": float(high),
        "p_value": min(1.0, 2.0 * min(upper, lower)),
    }


def _linear(idata, keep, n: int) -> np.ndarray:
    """Each kept draw's linear predictor beyond the arm: covariates and, with a grouping, the
    patient's group intercept (draw, patient)."""
    design = _data(idata, "design")
    linear = np.zeros((len(keep), n))
    if design.shape[1]:
        linear = linear + _draws(idata, "coefficient", ("covariate",), keep) @ design.T
    if "group_index" in idata["constant_data"]:
        group = _data(idata, "group_index")
        linear = linear + _draws(idata, "group_effect", ("group",), keep)[:, group]
    return linear


def _response(idata, arms, keep, rng) -> dict:
    arm = _data(idata, "arm_index")
    y = _data(idata, "response").astype(float)
    logit = _draws(idata, "arm_logit", ("arm",), keep)[:, arm] + _linear(idata, keep, len(arm))
    replicate = rng.random(logit.shape) < expit(logit)
    return {
        "rate": {
            name: _summary(y[arm == j].mean(), replicate[:, arm == j].mean(axis=1))
            for j, name in enumerate(arms)
            if np.any(arm == j)
        }
    }


def _plt(idata, arms, keep, rng) -> dict:
    arm = _data(idata, "arm_index")
    baseline = _data(idata, "log_baseline_centred")
    log_plt, observed = _data(idata, "log_plt"), _data(idata, "observed").astype(bool)
    days = [str(d) for d in idata["posterior"]["arm_day_effect"]["day"].values]
    n_days = len(days)
    mu = _draws(idata, "arm_day_effect", ("arm", "day"), keep)[:, arm, :]
    mu = mu + _draws(idata, "baseline_slope", ("day",), keep)[:, None, :] * baseline[None, :, None]
    mu = mu + _linear(idata, keep, len(arm))[:, :, None]
    if "coefficient_deviation" in idata["posterior"]:  # arm-specific slopes
        mu = mu + slope_deviation_terms(
            _draws(idata, "coefficient_deviation", ("arm", "covariate"), keep),
            _draws(idata, "baseline_slope_deviation", ("arm", "day"), keep),
            _data(idata, "design"), baseline, arm,
        )  # fmt: skip
    sd = _draws(idata, "residual_sd", ("arm", "day"), keep)  # (draw, arm, day)
    if n_days > 1:
        correlation = correlation_matrix(
            _draws(idata, "residual_correlation", ("day_pair",), keep), n_days
        )
    else:
        correlation = np.ones((len(sd), 1, 1))
    # residual ~ N(0, diag(s_a) R diag(s_a)): correlated standard normals, scaled by the arm's SDs
    noise = rng.standard_normal(mu.shape)
    correlated = np.einsum("sde,sne->snd", np.linalg.cholesky(correlation), noise)
    replicate = np.exp(mu + sd[:, arm, :] * correlated)
    counts = np.exp(log_plt)
    out: dict[str, dict] = {}
    for k, day in enumerate(days):
        for j, name in enumerate(arms):
            rows = (arm == j) & observed[:, k]
            if rows.any():
                out.setdefault(day, {})[name] = _summary(
                    counts[rows, k].mean(), replicate[:, rows, k].mean(axis=1)
                )
    return out


def _censoring_hazard(time: np.ndarray, recovered: np.ndarray, horizon: int) -> np.ndarray:
    """Daily hazard of censoring (Kaplan-Meier of the follow-up, recoveries censoring it).

    A patient not recovered with follow-up c < horizon was censored on day c; one recovered
    on day t was still followed on day t (a recovery and a censoring on one day: the recovery
    first). No censoring on the last day (the end of follow-up is not a dropout).
    """
    hazard = np.zeros(horizon)
    for t in range(1, horizon):
        at_risk = np.sum(time >= t)
        dropped = np.sum((recovered == 0) & (time == t))
        hazard[t - 1] = dropped / at_risk if at_risk else 0.0
    return hazard


def _recovery(idata, arms, keep, rng) -> dict:
    arm = _data(idata, "arm_index")
    time, recovered = _data(idata, "time_to_recovery"), _data(idata, "recovered")
    log_hazard = _draws(idata, "arm_log_hazard", ("day", "arm"), keep)  # (draw, day, arm)
    horizon = log_hazard.shape[1]
    linear = _linear(idata, keep, len(arm))
    censoring = _censoring_hazard(time, recovered, horizon)
    days = np.arange(1, horizon + 1)
    first = np.empty((len(keep), len(arm)), dtype=int)  # replicated recovery day (draw, patient)
    followed = np.empty((len(keep), len(arm)), dtype=int)  # follow-up of the replicate
    for start in range(0, len(keep), 100):  # in chunks of draws: (draw, patient, day) arrays
        part = slice(start, start + 100)
        eta = np.transpose(log_hazard[part], (0, 2, 1))[:, arm, :] + linear[part, :, None]
        event = rng.random(eta.shape) < -np.expm1(-np.exp(eta))
        first[part] = np.where(event.any(axis=2), event.argmax(axis=2) + 1, horizon + 1)
        # a recovered patient's follow-up is not observed: drawn from the censoring
        # distribution beyond the recovery day; a censored patient's is the observed one
        drop = (rng.random(eta.shape) < censoring[None, None, :]) & (
            days[None, None, :] >= time[None, :, None]
        )
        drawn = np.where(drop.any(axis=2), drop.argmax(axis=2) + 1, horizon)
        followed[part] = np.where(recovered[None, :] == 1, drawn, time[None, :])
    out: dict[str, dict] = {}
    for day in sorted({d for d in (*RECOVERY_DAYS, horizon) if d <= horizon}):
        seen = first <= np.minimum(day, followed)
        observed = (recovered == 1) & (time <= day)
        for j, name in enumerate(arms):
            rows = arm == j
            if rows.any():
                out.setdefault(f"day{day}", {})[name] = _summary(
                    observed[rows].mean(), seen[:, rows].mean(axis=1)
                )
    return out


_STATISTICS = {
    "response": ("share of responders", _response),
    "plt": ("mean count (x10^9/L) on the day, patients with the count recorded", _plt),
    "recovery": ("share seen to recover by the day, each patient's own follow-up", _recovery),
}


def predictive_check(
    endpoint: str, idata: xr.DataTree, *, seed: int
) -> tuple[dict, pd.DataFrame] | tuple[None, None]:
    """The posterior predictive check of one fit: a results fragment and a tidy table.

    Parameters
    ----------
    endpoint : {"response", "plt", "recovery", "safety"}
    idata : xarray.DataTree
        The fit's draws with its ``constant_data`` (as sampled, before anything is dropped).
    seed : int
        Seed of the replicates and of the choice of draws.

    Returns
    -------
    fragment : dict or None
        ``statistic`` (in words), ``values`` (block -> arm -> observed, median, ppi_low,
        ppi_high, p_value), ``passed`` and ``failures``; None for safety (module docstring).
    table : pandas.DataFrame or None
        One row per block and arm.

    Examples
    --------
    >>> posterior = xr.Dataset({"arm_logit": (("chain", "draw", "arm"), np.zeros((2, 50, 2))),
    ...                         "coefficient": (("chain", "draw", "covariate"), np.zeros((2, 50, 0)))})
    >>> data = xr.Dataset({"arm_index": ("patient", [0] * 10 + [1] * 10),
    ...                    "design": (("patient", "covariate"), np.zeros((20, 0))),
    ...                    "response": ("patient", [1] * 10 + [0] * 10)})
    >>> idata = xr.DataTree.from_dict({"posterior": posterior, "constant_data": data})
    >>> idata["posterior"] = idata["posterior"].to_dataset().assign_coords(arm=["a", "b"])
    >>> fragment, table = predictive_check("response", idata, seed=1)
    >>> fragment["passed"], fragment["failures"]  # rate 1/2 cannot make 10/10 or 0/10
    (False, ['rate a', 'rate b'])
    """
    if endpoint not in _STATISTICS:
        return None, None
    statistic, replicate = _STATISTICS[endpoint]
    rng = np.random.default_rng(seed)
    posterior = idata["posterior"]
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    keep = np.unique(np.linspace(0, total - 1, min(MAX_DRAWS, total)).round().astype(int))
    arms = tuple(str(a) for a in posterior["arm"].values)
    values = replicate(idata, arms, keep, rng)
    failures = [
        f"{block} {arm}"
        for block, by_arm in values.items()
        for arm, entry in by_arm.items()
        if entry["p_value"] < FAILURE_P
    ]
    fragment = {
        "statistic": statistic,
        "values": values,
        "draws": int(len(keep)),
        "failure_p": FAILURE_P,
        "passed": not failures,
        "failures": failures,
    }
    table = pd.DataFrame(
        [
            {"block": block, "arm": arm, **entry}
            for block, by_arm in values.items()
            for arm, entry in by_arm.items()
        ]
    )
    return fragment, table
