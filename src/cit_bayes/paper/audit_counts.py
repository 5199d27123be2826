"""Audit checks of the paper's count tables: Tables 1 (categorical rows), 2, 3, 8, 9, and every
printed percentage (tables and text).

Each function takes the tables from :func:`~cit_bayes.paper.load_tables` and returns a list
of :class:`~cit_bayes.paper.audit_rules.AuditRecord`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
from scipy import stats

from cit_bayes.paper.audit_rules import (
    AuditRecord,
    Candidate,
    format_p,
    identify,
    judge,
    judge_percentage,
    tested_record,
)
from cit_bayes.paper.effect_sizes import odds_ratio_woolf
from cit_bayes.paper.statistics import contingency_tests
from cit_bayes.paper.tables import count_table

__all__ = [
    "count_table_checks",
    "odds_ratio_checks",
    "pairwise_response_checks",
    "percentage_checks",
]

#: Test rows of these files are tests of count tables; their cells are in the paired file.
COUNT_TEST_FILES = {
    "table1_tests": "table1_baseline",
    "table2_tests": "table2_response",
    "table8_tests": "table8_transfusion",
    "table9_tests": "table9_adverse_events",
}

LABELS = {
    "pearson_chi2": "Pearson χ² (asymptotic p)",
    "fisher_freeman_halton": "Fisher-Freeman-Halton exact test (SPSS statistic, exact p)",
    "pearson_chi2_exact": "Pearson χ² (exact p)",
    "likelihood_ratio_g2": "likelihood-ratio G² (asymptotic p)",
    "likelihood_ratio_g2_exact": "likelihood-ratio G² (exact p)",
    "pearson_chi2_yates": "χ² with Yates continuity correction (asymptotic p)",
    "fisher_exact": "Fisher's exact test (2x2, two-sided)",
}
_ORDER = list(LABELS)


def _p_method(row: pd.Series) -> str:
    if row["p_method"] == "asymptotic":
        return f"asymptotic χ²({row['df']:g})"
    if row["p_method"] == "exact":
        return f"exact (complete enumeration of {int(row['n_tables']):,} tables)"
    return (
        f"Monte Carlo ({int(row['n_tables']):,} tables, Patefield; seed {int(row['seed'])}; "
        f"SE {row['monte_carlo_se']:.4f})"
    )


def _candidates(results: pd.DataFrame) -> list[Candidate]:
    results = results.assign(order=results["test"].map(_ORDER.index)).sort_values("order")
    out = []
    for _, row in results.iterrows():
        statistic = None if np.isnan(row["statistic"]) else float(row["statistic"])
        out.append(
            Candidate(
                LABELS[row["test"]],
                statistic,
                float(row["p_value"]),
                monte_carlo_se=float(row["monte_carlo_se"]),
                p_method=_p_method(row),
            )
        )
    return out


def _child_seed(seed: int, stream: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(stream)]).generate_state(1)[0])


def _sparse_note(counts: np.ndarray) -> tuple[str, float]:
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / counts.sum()
    small = int((expected < 5).sum())
    share = small / expected.size
    text = (
        f"{small} of {expected.size} cells have an expected count below 5 "
        f"(smallest {expected.min():.2f})"
    )
    return text, share


def count_table_checks(
    tables: dict[str, pd.DataFrame], *, seed: int, monte_carlo_samples: int
) -> list[AuditRecord]:
    """Identify and check the test behind every printed statistic of Tables 1, 2, 8 and 9.

    Candidates: Pearson χ² (asymptotic and exact p), G² (asymptotic and exact p) and the
    Fisher-Freeman-Halton test with the statistic SPSS prints and its exact p (complete
    enumeration where feasible, else a Monte Carlo p with its own seed, derived from ``seed``).

    Examples
    --------
    >>> from cit_bayes.paper.audit_counts import count_table_checks
    >>> from cit_bayes.paper.tables import load_tables
    >>> records = count_table_checks(load_tables(), seed=1, monte_carlo_samples=1000)
    >>> len(records), records[0].check
    (16, 'counts -> statistic and p')
    """
    records = []
    stream = 0
    for tests_stem, cells_stem in COUNT_TEST_FILES.items():
        for row in tables[tests_stem].itertuples():
            cells = tables[cells_stem]
            if cells.loc[cells["block"] == row.block, "count"].isna().any():
                continue  # a continuous block (age, BMI): checked with the summary statistics
            counts = count_table(cells, row.block).to_numpy()
            stream += 1
            results = contingency_tests(
                counts,
                seed=_child_seed(seed, stream),
                monte_carlo_samples=monte_carlo_samples,
            )
            candidates = _candidates(results)
            best, verdict, lines = identify(candidates, row.printed_statistic, row.printed_p)
            df = int((counts.shape[0] - 1) * (counts.shape[1] - 1))
            sparse, share = _sparse_note(counts)
            notes = [f"Reproduced best by {best.label}.{_ties(lines, best)}"]
            if best.label.startswith("Fisher-Freeman-Halton"):
                naive = next(c for c in candidates if c.label.startswith("Pearson χ² (asym"))
                notes.append(
                    f"The column is headed {row.statistic_label!r} but the value is the SPSS "
                    f"Fisher-Freeman-Halton statistic with its exact p; read as χ²({df}) it "
                    f"would give p = {format_p(float(stats.chi2.sf(row.statistic, df)))} "
                    f"(Pearson χ² is {naive.statistic:.3f})."
                )
            notes.append(sparse + ".")
            if best.p_method.startswith("asymptotic") and share > 0.2:
                exact = next(c for c in candidates if c.label.startswith("Fisher-Freeman"))
                same = (exact.p_value < 0.05) == (best.p_value < 0.05)
                notes.append(
                    "With so many sparse cells an exact test was called for: the "
                    f"Fisher-Freeman-Halton p is {format_p(exact.p_value)} ({exact.p_method}); "
                    + ("the conclusion is unchanged." if same else "the conclusion changes.")
                )
            records.append(
                tested_record(
                    best,
                    table=row.table,
                    row=row.label,
                    comparison="all four arms",
                    reported_statistic=row.printed_statistic,
                    reported_p=row.printed_p,
                    verdict=verdict,
                    note=" ".join(notes),
                    check="counts -> statistic and p",
                    assumptions="counts as printed; arms as columns",
                    candidates=tuple(lines),
                )
            )
    return records


def _ties(lines: list[str], best: Candidate) -> str:
    """Other candidates that reproduce the printed values as well (a tie in identification)."""
    verdict = next(line.rsplit(" -> ", 1)[1] for line in lines if line.startswith(best.label))
    others = [
        line.split(":", 1)[0]
        for line in lines
        if not line.startswith(best.label)
        and line.endswith(f" -> {verdict}")
        and ("statistic " in line) == (best.statistic is not None)  # like for like
    ]
    if not others:
        return ""
    return f" Equally reproduced by {', '.join(others)}: these values cannot tell them apart."


def _pair_counts(tables: dict[str, pd.DataFrame], arm_a: str, arm_b: str) -> np.ndarray:
    response = count_table(tables["table2_response"], "response")
    return response[[arm_a, arm_b]].to_numpy().T  # rows: the two arms; columns: yes / no


def pairwise_response_checks(tables: dict[str, pd.DataFrame]) -> list[AuditRecord]:
    """Table 3: the pairwise χ² of response, with and without Yates' correction, G², Fisher.

    Examples
    --------
    >>> from cit_bayes.paper.audit_counts import pairwise_response_checks
    >>> from cit_bayes.paper.tables import load_tables
    >>> records = pairwise_response_checks(load_tables())
    >>> len(records), {r.verdict for r in records}
    (6, {'consistent'})
    """
    records = []
    for row in tables["table3_response_pairwise"].itertuples():
        counts = _pair_counts(tables, row.arm_a, row.arm_b)
        candidates = _candidates(contingency_tests(counts).iloc[:4])
        best, verdict, lines = identify(candidates, row.printed_statistic, row.printed_p)
        yates = next(c for c in candidates if "Yates" in c.label)
        records.append(
            tested_record(
                best,
                table=row.table,
                row=row.label,
                comparison=f"{row.arm_a} vs {row.arm_b}",
                reported_statistic=row.printed_statistic,
                reported_p=row.printed_p,
                verdict=verdict,
                note=(
                    f"Reproduced best by {best.label}.{_ties(lines, best)} With Yates' "
                    "correction the values would "
                    f"be {yates.statistic:.3f}, p = {format_p(yates.p_value)}."
                ),
                check="counts -> statistic and p",
                assumptions="responders / non-responders from Table 2",
                candidates=tuple(lines),
            )
        )
    return records


def odds_ratio_checks(tables: dict[str, pd.DataFrame]) -> list[AuditRecord]:
    """Table 3: odds ratios of response with Woolf 95% CIs, orientation identified.

    Examples
    --------
    >>> from cit_bayes.paper.audit_counts import odds_ratio_checks
    >>> from cit_bayes.paper.tables import load_tables
    >>> odds_ratio_checks(load_tables())[0].check
    'counts -> odds ratio and 95% CI'
    """
    records = []
    for row in tables["table3_response_pairwise"].itertuples():
        counts = _pair_counts(tables, row.arm_a, row.arm_b)
        as_labelled = odds_ratio_woolf(counts)
        reversed_ = odds_ratio_woolf(counts[::-1])
        verdicts = {}
        for name, result in (("as labelled", as_labelled), ("reversed", reversed_)):
            verdicts[name] = [
                judge(reported_statistic=text, statistic=value)
                for text, value in zip(
                    _effect_parts(row.printed_effect),
                    (result["odds_ratio"], result["ci_low"], result["ci_high"]),
                    strict=True,
                )
            ]
        chosen = (
            "as labelled"
            if _worst(verdicts["as labelled"]) <= _worst(verdicts["reversed"])
            else "reversed"
        )
        result = as_labelled if chosen == "as labelled" else reversed_
        numerator, denominator = (
            (row.arm_a, row.arm_b) if chosen == "as labelled" else (row.arm_b, row.arm_a)
        )
        verdict = max(verdicts[chosen], key=_VERDICT_ORDER.index)
        note = (
            f"Odds of response in {numerator} over {denominator}: "
            f"{result['odds_ratio']:.3f} ({result['ci_low']:.3f}, {result['ci_high']:.3f})."
        )
        if chosen == "reversed":
            note += (
                f" The row is labelled '{row.arm_a} vs {row.arm_b}', but in that orientation the "
                f"OR is {as_labelled['odds_ratio']:.3f} ({as_labelled['ci_low']:.3f}, "
                f"{as_labelled['ci_high']:.3f}); the printed value is its reciprocal (see the "
                "reporting note)."
            )
        records.append(
            AuditRecord(
                table=row.table,
                row=row.label,
                comparison=f"{row.arm_a} vs {row.arm_b}",
                test=f"odds ratio with Woolf 95% CI, {numerator} over {denominator}",
                reported_statistic=row.printed_effect,
                reported_p="",
                recomputed_statistic=result["odds_ratio"],
                recomputed_p=None,
                verdict=verdict,
                note=note,
                check="counts -> odds ratio and 95% CI",
                assumptions=f"orientation {chosen}; normal approximation on the log scale",
                candidates=tuple(f"{name}: {'; '.join(v)}" for name, v in verdicts.items()),
            )
        )
    return records


_VERDICT_ORDER = ["consistent", "rounding", "inconsistent", "decision_error", "not_recomputable"]


def _worst(verdicts: list[str]) -> int:
    return max(_VERDICT_ORDER.index(v) for v in verdicts)


def _effect_parts(printed: str) -> list[str]:
    """``"8.758 (1.875,40.910)"`` -> ``["8.758", "1.875", "40.910"]``."""
    head, _, tail = printed.partition("(")
    return [head.strip(), *[part.strip() for part in tail.rstrip(")").split(",")]]


def percentage_checks(tables: dict[str, pd.DataFrame]) -> list[AuditRecord]:
    """GRIM-style check of every printed n (%) cell (one record per block) and of the text.

    Examples
    --------
    >>> from cit_bayes.paper.audit_counts import percentage_checks
    >>> from cit_bayes.paper.tables import load_tables
    >>> percentage_checks(load_tables())[0].test
    'percentage = 100 n / N (GRIM-style)'
    """
    records = []
    block_labels = {
        row.block: row.label for stem in COUNT_TEST_FILES for row in tables[stem].itertuples()
    }
    for stem in (
        "table1_baseline",
        "table2_response",
        "table8_transfusion",
        "table9_adverse_events",
    ):
        cells = tables[stem].dropna(subset=["percent"])
        for block, rows in cells.groupby("block", sort=False):
            results = []
            for row in rows.itertuples():
                printed = row.printed.split("(")[1].rstrip(")").strip()
                verdict = judge_percentage(int(row.count), int(row.n_arm), printed)
                results.append((row, printed, verdict))
            worst = max((v for _, _, v in results), key=_VERDICT_ORDER.index)
            offending = [(r, p, v) for r, p, v in results if v != "consistent"]
            if offending:
                note = " ".join(
                    f"{r.arm}, {r.level or block}: {int(r.count)}/{int(r.n_arm)} = "
                    f"{100 * int(r.count) / int(r.n_arm):.3f} %, printed {p} ({v}: rounded "
                    f"half-up it is {_round_half_up(100 * int(r.count) / int(r.n_arm), p)})."
                    for r, p, v in offending
                )
                note += f" The other {len(results) - len(offending)} cells round correctly."
            else:
                note = f"All {len(results)} percentages equal n/N rounded to the printed places."
            first = offending[0] if offending else None
            records.append(
                AuditRecord(
                    table=rows["table"].iloc[0],
                    row=block_labels.get(block, block),
                    comparison="n/N per arm",
                    test="percentage = 100 n / N (GRIM-style)",
                    reported_statistic=(first[0].printed if first else f"{len(results)} cells"),
                    reported_p="",
                    recomputed_statistic=(
                        100 * int(first[0].count) / int(first[0].n_arm) if first else None
                    ),
                    recomputed_p=None,
                    verdict=worst,
                    note=note,
                    check="n and N -> percentage",
                    assumptions="N = the arm size printed in the header",
                )
            )
    records.extend(_text_percentages(tables))
    return records


def _round_half_up(value: float, printed: str) -> str:
    places = len(printed.split(".")[1]) if "." in printed else 0
    return str(Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _text_percentages(tables: dict[str, pd.DataFrame]) -> list[AuditRecord]:
    text = tables["text_statements"]
    baseline = tables["table1_baseline"]
    sex = count_table(baseline, "sex").sum(axis=1)
    tumour = count_table(baseline, "tumor_type").sum(axis=1)
    response = count_table(tables["table2_response"], "response")
    adverse = tables["table9_adverse_events"]
    total = int(sex.sum())
    targets: dict[tuple[str, str], tuple[int, int, str]] = {
        ("percent_male", ""): (int(sex["male"]), total, "100 males of 187"),
        ("percent_female", ""): (int(sex["female"]), total, "87 females of 187"),
        ("percent_tumor_gastrointestinal", ""): (int(tumour["gastrointestinal"]), total, "Table 1"),
        ("percent_tumor_gynecological", ""): (int(tumour["gynecological"]), total, "Table 1"),
        ("percent_tumor_lung", ""): (int(tumour["lung"]), total, "Table 1"),
        ("percent_tumor_top3", ""): (
            int(tumour[["gastrointestinal", "gynecological", "lung"]].sum()),
            total,
            "Table 1, three largest tumour types",
        ),
    }
    for arm in response.columns:
        targets[("percent_response", arm)] = (
            int(response.loc["effective", arm]),
            int(response[arm].sum()),
            "Table 2",
        )
    for block in ("transaminase", "bilirubin"):
        rows = adverse[adverse["block"] == block]
        share = rows["count"].astype(int) / rows["n_arm"].astype(int)
        low, high = rows.loc[share.idxmin()], rows.loc[share.idxmax()]
        targets[(f"percent_{block}_min", "")] = (
            int(low["count"]),
            int(low["n_arm"]),
            f"Table 9, {low['arm']}",
        )
        targets[(f"percent_{block}_max", "")] = (
            int(high["count"]),
            int(high["n_arm"]),
            f"Table 9, {high['arm']}",
        )
    records = []
    for row in text.itertuples():
        key = (row.quantity, row.arm)
        if key not in targets:
            continue
        count, size, source = targets[key]
        printed = row.printed.rstrip("%").strip()
        verdict = judge_percentage(count, size, printed)
        exact = 100 * count / size
        note = f"{count}/{size} = {exact:.3f} % ({source}); printed {printed}."
        if verdict == "rounding":
            note += (
                f" Rounded half-up it is {_round_half_up(exact, printed)}; the printed value is "
                "truncated (another rounding convention)."
            )
        elif verdict == "inconsistent":
            note += f" Rounded half-up it is {_round_half_up(exact, printed)}."
        records.append(
            AuditRecord(
                table="text",
                row=f'{row.section}: "{row.quote}"',
                comparison="n/N" + (f" ({row.arm})" if row.arm else ""),
                test="percentage = 100 n / N (GRIM-style)",
                reported_statistic=row.printed,
                reported_p="",
                recomputed_statistic=exact,
                recomputed_p=None,
                verdict=verdict,
                note=note,
                check="n and N -> percentage",
            )
        )
    return records
