"""Cohorts with a known truth: confounded arm assignment and potential outcomes for every arm.

For each patient a daily platelet path (days 0-14) is simulated under *every* arm with common
random numbers, so the patient's potential outcomes differ between arms only through the arm's
declared effect; the observed data take the path of the assigned arm and record the counts on days
0, 3, 7 and 14 and the first day with PLT >= 100. The truth (``SimulatedCohort.truth``, written
beside the cohort as ``FILE.truth.json``) is the sample average, over the simulated patients, of
each arm's potential outcomes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from cit_bayes.cohort.derive import derive_response, derive_time_to_recovery
from cit_bayes.cohort.io import write_table
from cit_bayes.cohort.schema import (
    ARMS,
    BINARY_COVARIATES,
    FOLLOW_UP_DAYS,
    PLT_DAYS,
    RECOVERY_THRESHOLD,
    SAFETY_OUTCOMES,
    STAGES,
    TUMOR_TYPES,
)
from cit_bayes.exceptions import CohortError, PlanError
from cit_bayes.simulate.scenarios import (
    ADVERSE_EVENTS,
    Scenario,
    design_matrix,
    linear_predictor,
    load_scenario,
)

__all__ = ["SimulatedCohort", "simulate_cohort", "write_simulated"]

_DAYS = np.arange(FOLLOW_UP_DAYS + 1)
_SCHEMA = "cit_bayes.simulate/1"


def _categorical(rng: np.random.Generator, probabilities: dict, labels, n: int) -> np.ndarray:
    weights = np.array([float(probabilities.get(str(label), 0.0)) for label in labels])
    if weights.sum() <= 0:
        raise PlanError(f"population probabilities of {list(labels)} must not all be 0")
    return np.asarray(labels, dtype=object)[
        rng.choice(len(labels), size=n, p=weights / weights.sum())
    ]


def _truncated_normal(rng: np.random.Generator, table: dict, n: int) -> np.ndarray:
    mean, sd = float(table["mean"]), float(table["sd"])
    low, high = (float(table["min"]) - mean) / sd, (float(table["max"]) - mean) / sd
    values = stats.truncnorm.rvs(low, high, loc=mean, scale=sd, size=n, random_state=rng)
    return np.round(values, 1)


def _population(rng: np.random.Generator, population: dict, n: int) -> pd.DataFrame:
    tumor = _categorical(rng, population["tumor_type"], TUMOR_TYPES, n)
    male_share = np.array([float(population["male_share_by_tumor_type"][t]) for t in tumor])
    sex = np.where(rng.random(n) < male_share, "M", "F").astype(object)
    age = _truncated_normal(rng, population["age"], n)
    bmi = _truncated_normal(rng, population["bmi"], n)
    ecog_levels = sorted(population["ecog"], key=int)
    ecog = _categorical(rng, population["ecog"], ecog_levels, n).astype(int)
    stage = _categorical(rng, population["stage"], STAGES, n)
    frame = pd.DataFrame(
        {"sex": sex, "age": age, "bmi": bmi, "ecog": ecog, "tumor_type": tumor, "stage": stage}
    )
    stage_iv = stage == "IV"
    for name, share in population["metastasis_if_stage_iv"].items():
        frame[name] = (stage_iv & (rng.random(n) < float(share))).astype(int)
    for name, share in population["binary"].items():
        frame[name] = (rng.random(n) < float(share)).astype(int)
    return frame.loc[:, ["sex", "age", "bmi", "ecog", "tumor_type", "stage", *BINARY_COVARIATES]]


def _propensity(x: pd.DataFrame, assignment: dict, baseline: np.ndarray) -> np.ndarray:
    x = x.assign(log_baseline=np.log(baseline / 50.0))  # an assignment feature (scenarios)
    logits = np.column_stack(
        [
            float(assignment["intercept"][arm])
            + linear_predictor(x, assignment.get("coefficients", {}).get(arm, {}))
            for arm in ARMS
        ]
    )
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class SimulatedCohort:
    """A simulated cohort with its truth.

    Attributes
    ----------
    data : pandas.DataFrame
        The cohort in the input schema (``synthetic`` = 1), exactly what :func:`write_simulated`
        writes; it passes :func:`cit_bayes.cohort.validate_cohort`.
    truth : dict
        Exactly what goes to ``FILE.truth.json``: ``response_rate``, ``plt_day14_mean``,
        ``delta_plt_mean``, ``recovery_curve`` (P(recovered by day d), d = 1..14),
        ``transfusion_rate``, ``adverse_event_rate`` (per arm), plus ``scenario``, ``seed``,
        ``n`` and provenance.
    potential_outcomes : pandas.DataFrame
        One row per patient and arm (long): ``patient_id``, ``arm``, the realised potential
        ``response``, ``plt_day3``/``plt_day7``/``plt_day14``, ``expected_plt_day14`` (the
        noise-free curve), ``delta_plt``, ``recovery_day``, ``time_to_recovery``,
        ``recovered``, ``transfusion`` and the adverse events.
    propensity : pandas.DataFrame
        True assignment probabilities, index ``patient_id``, one column per arm.

    Examples
    --------
    >>> sim = simulate_cohort(20, seed=1)
    >>> len(sim.data), len(sim.potential_outcomes), list(sim.propensity.columns)
    (20, 80, ['rhTPO', 'hetrombopag', 'combination', 'rhIL-11'])
    """

    data: pd.DataFrame
    truth: dict
    potential_outcomes: pd.DataFrame
    propensity: pd.DataFrame


def _paths(
    rng_draws: dict, x: pd.DataFrame, outcome: dict, arm: str
) -> tuple[np.ndarray, np.ndarray]:
    """Daily platelet paths (rounded counts, days 0-14) under one arm, and the day-14 means."""
    arm_table = outcome["arms"][arm]
    modifiers = outcome.get("effect_modifiers", {}).get(arm, {})
    log_amplitude = (
        math.log(float(arm_table["amplitude"]))
        + linear_predictor(x, outcome.get("amplitude_effects", {}))
        + linear_predictor(x, modifiers)
        + float(arm_table.get("amplitude_sd", outcome["amplitude_sd"])) * rng_draws["amplitude"]
    )
    log_t50 = (
        math.log(float(arm_table["t50"]))
        + linear_predictor(x, outcome.get("t50_effects", {}))
        + float(outcome["t50_sd"]) * rng_draws["t50"]
    )
    hill = float(outcome["hill"])
    # soft ceiling: A_max tanh(A / A_max) keeps counts plausible (< 2000) in the far tail
    ceiling = float(outcome["amplitude_max"])
    amplitude = (ceiling * np.tanh(np.exp(log_amplitude) / ceiling))[:, None]
    t50 = np.exp(log_t50)[:, None]
    days = _DAYS[None, :].astype(float)
    rise = amplitude * days**hill / (days**hill + t50**hill)
    sd = float(outcome["day_noise_sd"])
    noise = np.exp(sd * rng_draws["day_noise"] - sd**2 / 2)
    noise[:, 0] = 1.0
    baseline = rng_draws["baseline"][:, None]
    mean_path = baseline + rise
    return np.maximum(np.round(mean_path * noise), 1.0), mean_path[:, FOLLOW_UP_DAYS]


def _potential(paths: np.ndarray) -> dict:
    counts = {day: paths[:, day] for day in PLT_DAYS}
    reached = paths[:, 1:] >= RECOVERY_THRESHOLD
    first = np.where(reached.any(axis=1), reached.argmax(axis=1) + 1.0, np.nan)
    response = derive_response(
        counts[0], counts[3], counts[7], counts[14], "any", recovery_day=first
    )
    time, recovered = derive_time_to_recovery(counts[0], counts[3], counts[7], counts[14], first)
    return {
        "counts": counts,
        "recovery_day": first,
        "response": response,
        "time": time,
        "recovered": recovered,
    }


def simulate_cohort(
    n: int, *, seed: int | np.random.Generator, scenario: str | Path = "paper-like"
) -> SimulatedCohort:
    """Simulate a cohort of ``n`` patients with a known truth.

    Parameters
    ----------
    n : int
        Number of patients (at least 1; the validation needs two arms present).
    seed : int or numpy.random.Generator
        Same seed, same cohort and truth.
    scenario : str or Path
        A bundled scenario name (``list_scenarios()``) or a scenario TOML path.

    Returns
    -------
    SimulatedCohort

    Notes
    -----
    For patient :math:`i` with features :math:`x_i` (``design_matrix``):

    * baseline count :math:`b_i = 10 + 89\\,\\mathrm{expit}(\\mu_b + x_i^\\top\\gamma + \\sigma_b z_i)`;
    * arm: :math:`\\mathrm{softmax}_a(\\alpha_a + x_i^\\top \\beta_a + \\lambda_a \\log(b_i / 50))`
      (:math:`\\lambda_a`: the scenario's ``log_baseline`` coefficient, else 0);
    * under arm :math:`a`, the mean count on day :math:`t` is
      :math:`b_i + A_{ia}\\, t^h / (t^h + T_{ia}^h)` with amplitude
      :math:`A_{ia} = A_{\\max} \\tanh(A_a \\exp(x_i^\\top(\\delta + \\delta_a) + \\sigma_A u_i) / A_{\\max})`
      (a soft ceiling that keeps the far tail plausible) and half-rise day
      :math:`T_{ia} = T_a \\exp(x_i^\\top \\tau + \\sigma_T v_i)`;
    * the recorded count is the mean times mean-one log-normal day noise
      :math:`\\exp(\\sigma_d \\varepsilon_{it} - \\sigma_d^2/2)`, rounded.

    :math:`z_i, u_i, v_i, \\varepsilon_{it}` and the uniforms of the safety outcomes are shared by
    all arms (common random numbers), so the potential outcomes of a patient differ between arms
    only through the arm's parameters. The truth averages each arm's potential outcomes over the
    ``n`` patients (a sample-average estimand; its large-``n`` limit is the population value).

    Examples
    --------
    >>> sim = simulate_cohort(40, seed=7)
    >>> again = simulate_cohort(40, seed=7)  # same seed, same cohort and truth
    >>> sim.data.equals(again.data), sim.truth == again.truth, sim.truth["n"]
    (True, True, 40)

    References
    ----------
    Morris TP, White IR, Crowther MJ. Using simulation studies to evaluate statistical methods.
    Stat Med. 2019;38:2074-2102.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise CohortError(f"n must be a positive whole number of patients, got {n!r}")
    loaded = load_scenario(scenario)
    spec = loaded.spec
    rng = np.random.default_rng(seed)
    seed_record = int(seed) if isinstance(seed, int | np.integer) else None
    n = int(n)
    covariates = _population(rng, spec["population"], n)
    x = design_matrix(covariates)
    outcome = spec["outcome"]
    baseline_table = outcome["baseline"]
    draws = {
        "amplitude": rng.standard_normal(n),
        "t50": rng.standard_normal(n),
        "day_noise": rng.standard_normal((n, FOLLOW_UP_DAYS + 1)),
    }
    eta_b = (
        float(baseline_table["logit_mean"])
        + linear_predictor(x, outcome.get("baseline_effects", {}))
        + float(baseline_table["logit_sd"]) * rng.standard_normal(n)
    )
    draws["baseline"] = np.round(10.0 + 89.0 * expit(eta_b))
    uniform_transfusion = rng.random(n)
    uniform_events = {event: rng.random(n) for event in ADVERSE_EVENTS}
    propensity = _propensity(x, spec["assignment"], draws["baseline"])
    uniform_arm = rng.random(n)
    arm_index = np.minimum(
        (uniform_arm[:, None] > np.cumsum(propensity, axis=1)).sum(axis=1), len(ARMS) - 1
    )

    patient_id = np.array([f"SIM{i + 1:06d}" for i in range(n)], dtype=object)
    safety = spec["safety"]
    per_arm = {}
    for arm in ARMS:
        paths, expected14 = _paths(draws, x, outcome, arm)
        po = _potential(paths)
        transfusion_p = np.where(
            po["response"] == 1,
            float(safety["transfusion"]["if_response"]),
            float(safety["transfusion"]["if_no_response"]),
        )
        po["transfusion"] = (uniform_transfusion < transfusion_p).astype(int)
        for event in ADVERSE_EVENTS:
            rate = float(safety["adverse_events"][event][arm])
            po[event] = (uniform_events[event] < rate).astype(int)
        po["expected_plt_day14"] = expected14
        per_arm[arm] = po

    data = _observed(patient_id, covariates, per_arm, arm_index)
    potential_outcomes = _long(patient_id, per_arm)
    truth = _truth(per_arm, loaded, seed_record, n, propensity, arm_index)
    propensity_frame = pd.DataFrame(
        propensity, columns=list(ARMS), index=pd.Index(patient_id, name="patient_id")
    )
    return SimulatedCohort(
        data=data, truth=truth, potential_outcomes=potential_outcomes, propensity=propensity_frame
    )


def _nullable(values: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.array([pd.NA if np.isnan(v) else int(v) for v in values], dtype="Int64")


def _observed(
    patient_id, covariates: pd.DataFrame, per_arm: dict, arm_index: np.ndarray
) -> pd.DataFrame:
    rows = np.arange(len(patient_id))

    def pick(key, day=None):
        stacked = np.column_stack(
            [per_arm[arm]["counts"][day] if day is not None else per_arm[arm][key] for arm in ARMS]
        )
        return stacked[rows, arm_index]

    data = pd.DataFrame(
        {"patient_id": patient_id, "arm": np.asarray(ARMS, dtype=object)[arm_index]}
    )
    data = pd.concat([data, covariates.reset_index(drop=True)], axis=1)
    for day in PLT_DAYS:
        data[f"plt_day{day}"] = pick(None, day).astype(int)
    data["recovery_day"] = _nullable(pick("recovery_day"))
    for name in SAFETY_OUTCOMES:
        data[name] = pick(name).astype(int)
    data["synthetic"] = 1
    return data


def _long(patient_id, per_arm: dict) -> pd.DataFrame:
    frames = []
    for arm in ARMS:
        po = per_arm[arm]
        frame = pd.DataFrame(
            {
                "patient_id": patient_id,
                "arm": arm,
                "response": po["response"],
                "plt_day3": po["counts"][3],
                "plt_day7": po["counts"][7],
                "plt_day14": po["counts"][14],
                "expected_plt_day14": po["expected_plt_day14"],
                "delta_plt": po["counts"][14] - po["counts"][0],
                "recovery_day": _nullable(po["recovery_day"]),
                "time_to_recovery": po["time"],
                "recovered": po["recovered"],
            }
        )
        for name in SAFETY_OUTCOMES:
            frame[name] = po[name]
        frames.append(frame)
    long = pd.concat(frames, ignore_index=True)
    long["arm"] = pd.Categorical(long["arm"], categories=list(ARMS))
    return long.sort_values(["patient_id", "arm"], kind="stable").reset_index(drop=True)


def _truth(per_arm: dict, scenario: Scenario, seed, n: int, propensity, arm_index) -> dict:
    def by_arm(function) -> dict:
        return {arm: float(function(per_arm[arm])) for arm in ARMS}

    curve = {
        arm: [
            float(np.mean((po["recovered"] == 1) & (po["time"] <= day)))
            for day in range(1, FOLLOW_UP_DAYS + 1)
        ]
        for arm, po in per_arm.items()
    }
    return {
        "schema": _SCHEMA,
        "scenario": scenario.name,
        "scenario_sha256": scenario.sha256,
        "seed": seed,
        "n": n,
        "arms": list(ARMS),
        "response_rule": "any",
        "estimand": (
            "sample average over the n simulated patients of each arm's potential outcome "
            "(common random numbers across arms)"
        ),
        "response_rate": by_arm(lambda po: po["response"].mean()),
        "plt_day14_mean": by_arm(lambda po: po["counts"][14].mean()),
        "delta_plt_mean": by_arm(lambda po: (po["counts"][14] - po["counts"][0]).mean()),
        "recovery_curve": curve,
        "transfusion_rate": by_arm(lambda po: po["transfusion"].mean()),
        "adverse_event_rate": {
            event: {arm: float(per_arm[arm][event].mean()) for arm in ARMS}
            for event in ADVERSE_EVENTS
        },
        "assignment": {
            "n_by_arm": {arm: int((arm_index == k).sum()) for k, arm in enumerate(ARMS)},
            "mean_propensity": {arm: float(propensity[:, k].mean()) for k, arm in enumerate(ARMS)},
        },
    }


def write_simulated(sim: SimulatedCohort, path: str | Path) -> tuple[Path, Path]:
    """Write the cohort (format by extension) and its truth to ``path + ".truth.json"``.

    Neither file may exist already unless cit-bayes wrote it (:func:`cit_bayes.output.claimed_files`).

    Returns
    -------
    (Path, Path)
        The cohort file and the truth file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = write_simulated(simulate_cohort(10, seed=0), Path(folder) / "sim.csv")
    ...     [path.name for path in paths]
    ['sim.csv', 'sim.csv.truth.json']
    """
    from cit_bayes.output import claimed_files

    path = Path(path)
    truth_path = path.with_name(path.name + ".truth.json")
    with claimed_files(path.parent, [path.name, truth_path.name]):
        write_table(sim.data, path)
        truth_path.write_text(json.dumps(sim.truth, indent=2) + "\n", encoding="utf-8")
    return path, truth_path
