r"""Synthetic pseudo-cohorts that reproduce every published summary of the paper (issue 5).

No patient-level data of the study are public. :func:`reconstruct_cohort` builds 187 synthetic
patients in the cohort schema whose per-arm summaries reproduce Tables 1, 2, 4, 6, 8 and 9, so
that the patient-level pipeline runs out of the box and a reader can see what the published
numbers are compatible with. Every row carries ``synthetic = 1``.

The algorithm (for a methods reviewer)
--------------------------------------
Each arm is reconstructed separately from its published summaries, and every choice the paper
leaves open is fixed in a declarative plan (``models/reconstruction.toml``). (1) Baseline
characteristics receive exactly the printed Table 1 counts, tied together by a one-factor
Gaussian copula (a latent "disease burden" with stated loadings; latent correlations at most
0.25) and two rules of clinical logic (hepatic and bone metastases only in stage IV;
gynaecological and breast cancers only in women); ages (whole years, 18-80) and BMI (one
decimal) are drawn from beta distributions with the printed mean and SD, placed by the same
latent order, and adjusted by one-unit moves until each arm's mean and SD equal Table 1 to the
printed two decimals (and, where reachable, the pooled age quartiles equal the text's 52, 60,
66). (2) A prognostic score is a weighted sum of characteristics whose weights are the plan's
log odds ratios (by default modest, e.g. -0.5 for stage IV and for bone metastasis; all zero
in the no-prognostic plan). (3) Exactly the printed number of responders is drawn by
conditional Poisson sampling (independent logistic inclusion given the score, conditioned on
the printed total), then among the responders the plan's number of recovered patients (which
the paper does not print) the same way; their recovery days are a whole-day sample with the
Table 6 mean and SD, handed out in order of score plus Gumbel noise. (4) Integer platelet
counts on days 0, 3, 7 and 14 are generated conditional on each patient's class: baselines
normal with the Table 4 day-0 moments (all below 100), ΔPLT values from a quantile function
through the Table 6 quartiles whose exponential tails match the Table 4 day-14 mean and SD (the
Table 4 ± read as a standard error, SD = ± x sqrt(n)) and are matched to patients within the
range their class allows, a smooth log-scale path per patient that crosses 100 during its
recovery day, and a rank-preserving logistic stretch of the day-7 and day-3 values, inside each
patient's feasible range, to the Table 4 moments. A guided local search then moves single counts
or mean-preserving pairs until every arm mean is within 0.3 %, every SD within 3 % and every
ΔPLT quartile (SPSS definition) within 1.5 x10^9/L of its target; a move is kept only if the
patient's class, recovery day and the stated plausibility rules still hold (baseline 10-99;
consecutive recorded counts changing by at most a factor 1.3 per day up and 0.85 per day down;
counts before the recovery day below 100 and from it on at least 100; the recovery day within
two days of the log-linear crossing of 100) and if the mismatch plus a small penalty on the
distance from the generated paths does not grow. Classes never change, so the responder counts
(recomputed with the package's response rule) and the recovery-day moments stay exact. (5)
Transfusions go to the printed number of non-responders (the paper transfuses on "treatment
ineffectiveness"), likelier at lower counts; adverse events get their printed counts, the
surplus of events over patients with any event going to patients who already have one
(bilirubin with transaminase first). The finished table must pass the package's cohort
validation, and a fidelity report recomputes every target from it; a cohort that misses a gate
is reported as failed. Draw k of base seed S uses ``numpy.random.SeedSequence(S).spawn(k)[k-1]``.

What such a cohort can and cannot support: it reproduces the published marginal summaries per
arm and is a valid input for exercising the pipeline and for showing how much conclusions vary
across cohorts compatible with the paper. Any association between characteristics and outcomes
within an arm is the plan's assumption, not evidence, and patient-level quantities the paper does
not summarise (for example the shape of individual trajectories) carry no information.

``reconstruct_cohort``
~~~~~~~~~~~~~~~~~~~~~~
See the module docstring for the algorithm. The same seed, draw and plan give an identical
table.

References
----------
Chen, X.-H., Dempster, A. P. & Liu, J. S. (1994). Weighted finite population sampling to
maximize entropy. *Biometrika* 81(3), 457-469 (conditional Poisson sampling).
Hyndman, R. J. & Fan, Y. (1996). Sample quantiles in statistical packages. *The American
Statistician* 50(4), 361-365 (definition 6, SPSS's quartiles).
Nelsen, R. B. (2006). *An Introduction to Copulas*, 2nd ed. Springer (Gaussian copula).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cit_bayes.cohort import Cohort, validate_cohort
from cit_bayes.cohort.provenance import sidecar_path, write_provenance
from cit_bayes.cohort.schema import INPUT_COLUMNS
from cit_bayes.exceptions import CohortError, PlanError, ReconstructionError
from cit_bayes.output import claimed_files
from cit_bayes.reconstruct.baseline import draw_baseline
from cit_bayes.reconstruct.fidelity import fidelity_report, format_fidelity
from cit_bayes.reconstruct.outcomes import (
    assign_adverse_events,
    assign_outcome_classes,
    assign_transfusions,
    draw_recovery_days,
    prognostic_score,
)
from cit_bayes.reconstruct.plan import ReconstructionPlan, load_reconstruction_plan
from cit_bayes.reconstruct.platelets import generate_arm_platelets
from cit_bayes.reconstruct.repair import repair_arm_platelets
from cit_bayes.reconstruct.rules import RECOVERED, TrajectoryChecker, response_table
from cit_bayes.reconstruct.targets import ArmTargets, PublishedTargets, published_targets

__all__ = [
    "DEFAULT_SEED",
    "OUTPUT_COLUMNS",
    "ReconstructedCohort",
    "draw_seed",
    "reconstruct_cohort",
    "reconstruct_cohorts",
    "write_reconstruction",
]

#: Base seed of the shipped cohort (the Makefile's SEED).
DEFAULT_SEED: int = 20250101

#: Columns written for a reconstructed cohort: the input schema (no ``response``, which the
#: package derives) with ``synthetic`` = 1.
OUTPUT_COLUMNS: tuple[str, ...] = tuple(
    c for c in INPUT_COLUMNS if c not in ("response", "recovery_after")
)

_PLT = ("plt_day0", "plt_day3", "plt_day7", "plt_day14")


@dataclass(frozen=True)
class ReconstructedCohort:
    """One synthetic pseudo-cohort and its fidelity report.

    Attributes
    ----------
    data : pandas.DataFrame
        The cohort in the input schema (``OUTPUT_COLUMNS``), exactly what is written to CSV.
    cohort : Cohort
        The same table after the package's validation (derived ``response`` etc.).
    fidelity : pandas.DataFrame
        The fidelity report (see :func:`~cit_bayes.reconstruct.fidelity.fidelity_report`).
    seed : int
        The base seed.
    draw : int
        Which draw of the base seed (1-based).
    plan_name, plan_hash : str
        The plan used.
    attempts : dict of str to int
        Attempts the platelet search needed per arm.
    seconds : float
        Wall-clock time of the reconstruction.

    Examples
    --------
    >>> import pandas as pd
    >>> fidelity = pd.DataFrame({"gate": [True, True, False], "passed": [True, True, False]})
    >>> result = ReconstructedCohort(pd.DataFrame(), None, fidelity, seed=1, draw=2,
    ...     plan_name="demo", plan_hash="0" * 64, attempts={}, seconds=0.0)
    >>> result.passed, result.header().split(": ")[1]
    (True, "seed 1, draw 2, plan 'demo' (sha256 000000000000)")
    """

    data: pd.DataFrame
    cohort: Cohort
    fidelity: pd.DataFrame
    seed: int
    draw: int
    plan_name: str
    plan_hash: str
    attempts: dict[str, int]
    seconds: float
    assumptions: dict | None = None
    plan_file: str = ""
    drawn: dict | None = None

    @property
    def passed(self) -> bool:
        """Whether every gated fidelity check passed."""
        gates = self.fidelity[self.fidelity["gate"]]
        return bool(gates["passed"].all())

    def header(self) -> str:
        """First line of every report on this cohort: it is synthetic."""
        return (
            f"SYNTHETIC pseudo-cohort reconstructed from published summaries (not patient data): "
            f"seed {self.seed}, draw {self.draw}, plan {self.plan_name!r} "
            f"(sha256 {self.plan_hash[:12]})"
        )

    def provenance(self) -> dict:
        """The cohort's provenance sidecar (:mod:`cit_bayes.cohort.provenance`): plan, seed,
        draw, the assumptions it rests on and, only for a draw of the reconstruction's
        uncertainty, ``drawn``: which priors they were drawn from; no row of the data.

        Examples
        --------
        >>> from cit_bayes.reconstruct import reconstruct_cohort
        >>> reconstruct_cohort(draw=1).provenance()["assumptions"]["recovered"]["combination"]
        30
        """
        from cit_bayes import __version__

        return {
            "kind": "reconstruction",
            "synthetic": True,
            "plan": {"name": self.plan_name, "sha256": self.plan_hash, "file": self.plan_file},
            "seed": self.seed,
            "draw": self.draw,
            "assumptions": self.assumptions or {},
            "fidelity_passed": self.passed,
            "data_fingerprint": self.cohort.fingerprint,
            "package_version": __version__,
        } | ({} if self.drawn is None else {"drawn": self.drawn})

    def fidelity_text(self) -> str:
        """The fidelity report as plain text, headed by the synthetic statement."""
        return format_fidelity(self.fidelity, header=self.header())


def draw_seed(seed: int, draw: int) -> np.random.SeedSequence:
    """The seed sequence of draw ``draw`` (1-based) of base seed ``seed``.

    Equal to ``numpy.random.SeedSequence(seed).spawn(m)[draw - 1]`` for any ``m >= draw``, so
    draw k is the same cohort whatever the number of draws requested.

    Examples
    --------
    >>> import numpy as np
    >>> sequence = draw_seed(20250101, 3)
    >>> same = np.random.SeedSequence(20250101).spawn(5)[2]
    >>> sequence.spawn_key, bool((sequence.generate_state(4) == same.generate_state(4)).all())
    ((2,), True)
    """
    if draw < 1:
        raise ReconstructionError(f"draw must be >= 1, got {draw}")
    if seed < 0:
        raise ReconstructionError(f"seed must be >= 0, got {seed}")
    return np.random.SeedSequence(int(seed), spawn_key=(int(draw) - 1,))


def _arm_outcomes(baseline: pd.DataFrame, target: ArmTargets, plan, checker, sequence):
    """Classes, recovery days and platelet counts of one arm (retrying with fresh streams)."""
    score = prognostic_score(baseline, plan)
    tol = plan.tolerances
    last_error = None
    for attempt, child in enumerate(sequence.spawn(plan.max_attempts), start=1):
        rng = np.random.default_rng(child)
        try:
            outcome = assign_outcome_classes(
                score, target.responders, plan.recovered[target.arm], rng
            )
            recovered = np.flatnonzero(outcome == RECOVERED)
            days = draw_recovery_days(
                len(recovered),
                target.recovery_mean,
                target.recovery_sd,
                earliest=plan.trajectory.earliest_recovery_day,
                rng=rng,
                aim_mean=tol.aim_fraction * tol.recovery_mean,
                aim_sd=tol.aim_fraction * tol.recovery_sd,
            )
            noise = plan.order_noise * rng.gumbel(size=len(score))
            recovery_day = np.zeros(len(score), dtype=int)
            recovery_day[recovered[np.argsort(-(score + noise)[recovered], kind="stable")]] = days
            order_score = score + plan.order_noise * rng.gumbel(size=len(score))
            counts = generate_arm_platelets(
                outcome, recovery_day, order_score, target.platelets, checker, rng
            )
            counts, converged = repair_arm_platelets(
                counts,
                outcome,
                recovery_day,
                target.platelets,
                checker,
                rng,
                max_moves=plan.max_moves,
                distance_weight=plan.distance_weight,
            )
        except ReconstructionError as error:
            last_error = error
            continue
        if converged:
            return outcome, recovery_day, counts, attempt
    raise ReconstructionError(
        f"{target.arm}: no attempt of {plan.max_attempts} met the platelet targets"
        + (f" (last error: {last_error})" if last_error else "")
    )


def reconstruct_cohort(
    seed: int = DEFAULT_SEED,
    *,
    draw: int = 1,
    plan: ReconstructionPlan | str | Path | None = None,
    targets: PublishedTargets | None = None,
) -> ReconstructedCohort:
    """Reconstruct one synthetic pseudo-cohort consistent with every published table.

    Parameters
    ----------
    seed : int
        Base seed (default ``DEFAULT_SEED``, the shipped cohort).
    draw : int
        Which draw of the base seed (1-based); see :func:`draw_seed`.
    plan : ReconstructionPlan or path, optional
        The plan (default ``models/reconstruction.toml``).
    targets : PublishedTargets, optional
        The published targets (read from ``data/published`` with the plan's tolerances when
        omitted).

    Returns
    -------
    ReconstructedCohort
        The cohort, its validated form and its fidelity report. Check ``.passed``: a cohort
        that misses a gate is returned (and reported as failed), not hidden.

    Raises
    ------
    ReconstructionError
        If some arm cannot be built within the plan's attempts, or the finished table fails the
        cohort validation.
    PlanError
        If the plan is invalid or contradicts the published counts.

    Notes
    -----
    The method, its conventions and its references: the module docstring.

    Examples
    --------
    >>> reconstructed = reconstruct_cohort()  # the shipped cohort's seed and plan
    >>> reconstructed.passed, len(reconstructed.data), int(reconstructed.data["synthetic"].min())
    (True, 187, 1)
    """
    start = time.perf_counter()
    if not isinstance(plan, ReconstructionPlan):
        plan = load_reconstruction_plan(plan)
    targets = targets if targets is not None else published_targets(tolerances=plan.tolerances)
    for arm, target in targets.arms.items():
        if plan.recovered[arm] > target.responders:
            raise PlanError(
                f"{plan.source}: [outcomes] recovered.{arm} = {plan.recovered[arm]} exceeds the "
                f"{target.responders} responders of Table 2 (every recovered patient responds)"
            )
    sequence = draw_seed(seed, draw)
    baseline_seq, events_seq, shuffle_seq, *arm_seqs = sequence.spawn(3 + len(targets.arms))
    baseline = draw_baseline(targets, plan, np.random.default_rng(baseline_seq))
    checker = TrajectoryChecker(plan.trajectory, response_table(plan.trajectory))
    events_rng = np.random.default_rng(events_seq)
    shuffle_rng = np.random.default_rng(shuffle_seq)
    parts, attempts = [], {}
    for (arm, target), arm_seq in zip(targets.arms.items(), arm_seqs, strict=True):
        part = baseline[baseline["arm"] == arm].reset_index(drop=True)
        outcome, recovery_day, counts, attempts[arm] = _arm_outcomes(
            part, target, plan, checker, arm_seq
        )
        for column, values in zip(_PLT, counts.T, strict=True):
            part[column] = values.astype(int)
        part["recovery_day"] = pd.array(
            [int(r) if r > 0 else pd.NA for r in recovery_day], dtype="Int64"
        )
        part["transfusion"] = assign_transfusions(
            counts, outcome, target.transfusions, plan, events_rng
        )
        events = assign_adverse_events(part, target, plan, events_rng)
        for column in events.columns:
            part[column] = events[column].to_numpy()
        parts.append(part.iloc[shuffle_rng.permutation(len(part))])
    data = pd.concat(parts, ignore_index=True)
    data["patient_id"] = [f"SYN-{draw:03d}-{k:04d}" for k in range(1, len(data) + 1)]
    data["synthetic"] = 1
    data = data.loc[:, list(OUTPUT_COLUMNS)]
    source = f"synthetic reconstruction (seed {seed}, draw {draw})"
    try:
        cohort = validate_cohort(data, source=source)
    except CohortError as error:
        problems = "; ".join(str(p) for p in error.problems[:5])
        raise ReconstructionError(
            f"the reconstructed table fails the cohort validation: {error} {problems}"
        ) from error
    fidelity = fidelity_report(cohort.data, targets, plan, validated=True)
    return ReconstructedCohort(
        data=data,
        cohort=cohort,
        fidelity=fidelity,
        seed=int(seed),
        draw=int(draw),
        plan_name=plan.name,
        plan_hash=plan.plan_hash,
        attempts=attempts,
        seconds=time.perf_counter() - start,
        assumptions=plan.assumptions(),
        plan_file=plan.source,
    )


def reconstruct_cohorts(
    seed: int = DEFAULT_SEED,
    draws: int = 1,
    *,
    plan: ReconstructionPlan | str | Path | None = None,
) -> list[ReconstructedCohort]:
    """Reconstruct draws 1..``draws`` of a base seed (see :func:`reconstruct_cohort`).

    Examples
    --------
    >>> reconstruct_cohorts(draws=0)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ReconstructionError: draws must be >= 1, got 0
    """
    if draws < 1:
        raise ReconstructionError(f"draws must be >= 1, got {draws}")
    if not isinstance(plan, ReconstructionPlan):
        plan = load_reconstruction_plan(plan)
    targets = published_targets(tolerances=plan.tolerances)
    return [
        reconstruct_cohort(seed, draw=k, plan=plan, targets=targets) for k in range(1, draws + 1)
    ]


def _csv_frame(data: pd.DataFrame) -> pd.DataFrame:
    out = data.copy()
    out["bmi"] = [f"{value:.1f}" for value in out["bmi"]]
    return out


def write_reconstruction(results: list[ReconstructedCohort], out: str | Path) -> dict[str, Path]:
    """Write cohorts, the fidelity table and the fidelity text beside them.

    Parameters
    ----------
    results : list of ReconstructedCohort
        One or more draws of the same base seed and plan.
    out : str or Path
        The cohort file (``.csv``). With several draws, draw k goes to ``<stem>_draw<k>.csv``.
        The fidelity table goes to ``fidelity.csv`` and its text to ``fidelity.txt`` in the same
        folder (with the draw and seed as columns), and each cohort's provenance beside it
        (``<stem>.provenance.json``, :meth:`ReconstructedCohort.provenance`, which
        :func:`cit_bayes.cohort.read_cohort` picks up). None of these files may exist already
        unless cit-bayes wrote it (:func:`cit_bayes.output.claimed_files`).

    Returns
    -------
    dict of str to Path
        ``"cohorts"`` (first cohort file), ``"fidelity"``, ``"fidelity_text"``, and one
        ``"draw<k>"`` entry per cohort.

    Examples
    --------
    >>> write_reconstruction([], "cohort.csv")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ReconstructionError: nothing to write
    """
    if not results:
        raise ReconstructionError("nothing to write")
    path = Path(out)
    if path.suffix.lower() != ".csv":
        raise ReconstructionError(f"the cohort file must end in .csv, got {path.name}")
    targets = {
        result.draw: path
        if len(results) == 1
        else path.with_name(f"{path.stem}_draw{result.draw:03d}.csv")
        for result in results
    }
    fidelity_path = path.with_name("fidelity.csv")
    text_path = path.with_name("fidelity.txt")
    sidecars = {draw: sidecar_path(target) for draw, target in targets.items()}
    names = [p.name for p in targets.values()] + [fidelity_path.name, text_path.name]
    names += [p.name for p in sidecars.values()]
    written: dict[str, Path] = {}
    with claimed_files(path.parent, names, make_folder=True):
        tables, texts = [], []
        for result in results:
            target = targets[result.draw]
            _csv_frame(result.data).to_csv(target, index=False, lineterminator="\n")
            written[f"draw{result.draw}"] = target
            write_provenance(target, result.provenance())
            table = result.fidelity.copy()
            table.insert(0, "draw", result.draw)
            table.insert(0, "seed", result.seed)
            table.insert(0, "synthetic", 1)
            tables.append(table)
            texts.append(result.fidelity_text())
        pd.concat(tables, ignore_index=True).to_csv(
            fidelity_path, index=False, lineterminator="\n", float_format="%.6g"
        )
        text_path.write_text("\n\n".join(texts) + "\n", encoding="utf-8")
    written["cohorts"] = next(iter(written.values()))
    written["fidelity"] = fidelity_path
    written["fidelity_text"] = text_path
    return written
