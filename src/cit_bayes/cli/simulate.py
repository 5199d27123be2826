"""``cit-bayes simulate``: write a simulated cohort with a known truth.

Writes FILE (format by extension) in the cohort schema, marked synthetic, and ``FILE.truth.json``
with the true per-arm response rates, day-14 means and recovery curves over the simulated
patients' potential outcomes.
"""

from __future__ import annotations

from cit_bayes.simulate import list_scenarios, simulate_cohort, write_simulated

__all__ = ["register", "run_simulate"]


def register(subparsers) -> None:
    """Add the ``simulate`` sub-command."""
    parser = subparsers.add_parser(
        "simulate",
        help="write a simulated cohort with confounded arms and a known truth",
        description=(
            "Simulate N patients under a scenario (models/scenarios/*.toml): arms assigned by "
            "baseline characteristics, daily platelet paths under every arm. Writes FILE "
            "(.csv, .xlsx, .sav, .dta or .parquet) and FILE.truth.json."
        ),
    )
    parser.add_argument("--n", type=int, required=True, metavar="N", help="number of patients")
    parser.add_argument("--seed", type=int, required=True, metavar="S", help="random seed")
    parser.add_argument("--out", required=True, metavar="FILE", help="output cohort file")
    parser.add_argument(
        "--scenario",
        default="paper-like",
        metavar="NAME",
        help="bundled scenario (" + ", ".join(list_scenarios()) + ") or a scenario TOML path; "
        "default paper-like",
    )
    parser.set_defaults(func=run_simulate)


def run_simulate(args) -> int:
    """Simulate and write; print what was written (counts only)."""
    sim = simulate_cohort(args.n, seed=args.seed, scenario=args.scenario)
    cohort_path, truth_path = write_simulated(sim, args.out)
    counts = ", ".join(f"{arm} {n}" for arm, n in sim.truth["assignment"]["n_by_arm"].items())
    print(f"wrote {cohort_path.name}: {args.n} simulated patients ({counts})")
    print(f"wrote {truth_path.name}: scenario {sim.truth['scenario']}, seed {args.seed}")
    rates = ", ".join(f"{arm} {100 * p:.1f}%" for arm, p in sim.truth["response_rate"].items())
    print(f"true response rates: {rates}")
    return 0
