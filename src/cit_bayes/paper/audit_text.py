"""Audit of the paper's prose against its tables.

The p-values and summaries the Abstract and Results state are listed here (``TEXT_CLAIMS``), with
the table cells they refer to; ``text_statements.csv`` holds the text's counts and percentages
but not its p-values.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cit_bayes.exceptions import PublishedDataError
from cit_bayes.paper.audit_rules import ALPHA, AuditRecord

__all__ = ["TEXT_CLAIMS", "TEXT_SUMMARIES", "TextClaim", "text_checks"]


@dataclass(frozen=True)
class TextClaim:
    """A statement of the prose and the table cells it refers to.

    ``printed`` is one value per reference (``"0.009"``) for an equality claim, or a single
    ``"<0.05"`` / ``">0.05"`` that every referenced p must satisfy. A reference is
    ``(file, block, level, arm_a, arm_b)``; empty strings match anything.

    Examples
    --------
    >>> from cit_bayes.paper.audit_text import TextClaim
    >>> claim = TextClaim("Results", "(P = 0.996)", ("0.996",),
    ...                   (("table3_response_pairwise", "response", "", "rhTPO", "hetrombopag"),))
    >>> claim.references[0][0]
    'table3_response_pairwise'
    """

    section: str
    quote: str
    printed: tuple[str, ...]
    references: tuple[tuple[str, str, str, str, str], ...]


_RC, _TH, _RL = ("rhTPO", "combination"), ("hetrombopag", "combination"), ("combination", "rhIL-11")
_RH, _HL = ("rhTPO", "hetrombopag"), ("hetrombopag", "rhIL-11")


def _t3(pair):
    return ("table3_response_pairwise", "response", "", *pair)


def _t5(day, pair):
    return ("table5_plt_pairwise", "plt", day, *pair)


def _t7(block, pair):
    return ("table7_pairwise", block, "", *pair)


_T3_COMBINATION = (_t3(_RC), _t3(_TH), _t3(("rhIL-11", "combination")))
_T9 = tuple(
    ("table9_tests", b, "yes", "", "")
    for b in ("transaminase", "bilirubin", "fatigue", "headache", "any_ae")
)
_T1 = tuple(
    ("table1_tests", b, "", "", "")
    for b in (
        "sex", "age", "bmi", "ecog", "tumor_type", "stage", "hepatic_metastasis",
        "bone_metastasis", "chemo_cycles", "radiotherapy", "targeted_therapy",
    )
)  # fmt: skip

TEXT_CLAIMS: tuple[TextClaim, ...] = (
    TextClaim(
        "Abstract / Results",
        "significantly higher treatment response rate (P<0.05) compared to the other three groups",
        ("<0.05",),
        _T3_COMBINATION,
    ),
    TextClaim(
        "Abstract / Results",
        "superior PLT levels on days 7 and 14 ... (P<0.05)",
        ("<0.05",),
        tuple(_t5(d, p) for d in ("day7", "day14") for p in (_RC, _TH, _RL)),
    ),
    TextClaim(
        "Abstract / Results",
        "a greater increment in PLT post-treatment, and the shortest median time to PLT "
        "recovery ... (P<0.05)",
        ("<0.05",),
        tuple(_t7(b, p) for b in ("delta_plt", "recovery_days") for p in (_RC, _TH, _RL)),
    ),
    TextClaim(
        "Abstract / Results",
        "Hetrombopag monotherapy demonstrated non-inferior PLT dynamics and treatment response "
        "rates compared to rhTPO/rhIL-11 (P>0.05)",
        (">0.05",),
        (_t3(_RH), _t3(_HL)) + tuple(_t5(d, p) for d in ("day7", "day14") for p in (_RH, _HL)),
    ),
    TextClaim(
        "Abstract / Results",
        "The four groups exhibited comparable PLT transfusion rates and a AEs incidence (P>0.05)",
        (">0.05",),
        (("table8_tests", "transfusion", "yes", "", ""),) + _T9,
    ),
    TextClaim(
        "Results / Baseline characteristics",
        "No significant differences were detected in demographic and clinical characteristics "
        "across the four treatment groups (P > 0.05)",
        (">0.05",),
        _T1,
    ),
    TextClaim(
        "Results / Treatment efficacy rate",
        "a significantly higher treatment efficacy rate compared to the monotherapy groups ... "
        "(P<0.05 for all comparisons)",
        ("<0.05",),
        _T3_COMBINATION,
    ),
    TextClaim(
        "Results / Treatment efficacy rate",
        "hetrombopag monotherapy and either rhTPO monotherapy (P = 0.996) or rhIL-11 "
        "monotherapy (P = 0.673)",
        ("0.996", "0.673"),
        (_t3(_RH), _t3(_HL)),
    ),
    TextClaim(
        "Results / Platelet count",
        "On Day (before treatment) and Day 3 post-treatment, there were no significant "
        "differences in platelet counts (PLT) among the four groups (P>0.05)",
        (">0.05",),
        (("table4_tests", "plt", "day0", "", ""), ("table4_tests", "plt", "day3", "", "")),
    ),
    TextClaim(
        "Results / Platelet count",
        "the rhTPO group (P = 0.009, 0.008)",
        ("0.009", "0.008"),
        (_t5("day7", _RC), _t5("day14", _RC)),
    ),
    TextClaim(
        "Results / Platelet count",
        "the hetrombopag group (P = 0.017, 0.004)",
        ("0.017", "0.004"),
        (_t5("day7", _TH), _t5("day14", _TH)),
    ),
    TextClaim(
        "Results / Platelet count",
        "and the rhIL-11 group (P = 0.015, 0.011)",
        ("0.015", "0.011"),
        (_t5("day7", _RL), _t5("day14", _RL)),
    ),
    TextClaim(
        "Results / Platelet count",
        "comparable to both the rhTPO group (P = 0.704, 0.622)",
        ("0.704", "0.622"),
        (_t5("day7", _RH), _t5("day14", _RH)),
    ),
    TextClaim(
        "Results / Platelet count",
        "and the rhIL-11 group (P = 0.845, 0.796)",
        ("0.845", "0.796"),
        (_t5("day7", _HL), _t5("day14", _HL)),
    ),
    TextClaim(
        "Results / Time-to-platelet-recovery",
        "the rhTPO group (9.12 ± 2.66, P = 0.008), the hetrombopag group (9.33 ± 3.24, "
        "P = 0.028), and the rhIL-11 group (9.25 ± 2.86, P = 0.014)",
        ("0.008", "0.028", "0.014"),
        (_t7("recovery_days", _RC), _t7("recovery_days", _TH), _t7("recovery_days", _RL)),
    ),
    TextClaim(
        "Results / Time-to-platelet-recovery",
        "between the hetrombopag monotherapy group and either the rhTPO group (P = 0.836) or the "
        "rhIL-11 group (P = 0.941)",
        ("0.836", "0.941"),
        (_t7("recovery_days", _RH), _t7("recovery_days", _HL)),
    ),
    TextClaim(
        "Results / Time-to-platelet-recovery",
        "P = 0.005 (vs. rhTPO), P = 0.008 (vs. hetrombopag), and P = 0.002 (vs. rhIL-11)",
        ("0.005", "0.008", "0.002"),
        (_t7("delta_plt", _RC), _t7("delta_plt", _TH), _t7("delta_plt", _RL)),
    ),
    TextClaim(
        "Results / Time-to-platelet-recovery",
        "no significant differences in ΔPLT ... either the rhTPO group (P = 0.860) or the "
        "rhIL-11 group (P = 0.825)",
        ("0.860", "0.825"),
        (_t7("delta_plt", _RH), _t7("delta_plt", _HL)),
    ),
    TextClaim(
        "Results / Platelet transfusion rates",
        "did not show significant variation across the four treatment groups (P = 0.842)",
        ("0.842",),
        (("table8_tests", "transfusion", "yes", "", ""),),
    ),
    TextClaim(
        "Results / Incidence of adverse reactions",
        "No statistically significant differences were observed among the treatment groups "
        "(P > 0.05)",
        (">0.05",),
        _T9,
    ),
)

#: Recovery-time summaries quoted in the Results text, with the Table 6 cell they repeat.
TEXT_SUMMARIES = (
    ("combination", "with a mean of 6.69 ± 2.21", "6.69 ± 2.21"),
    ("rhTPO", "the rhTPO group (9.12 ± 2.66", "9.12 ± 2.66"),
    ("hetrombopag", "the hetrombopag group (9.33 ± 3.24", "9.33 ± 3.24"),
    ("rhIL-11", "the rhIL-11 group (9.25 ± 2.86", "9.25 ± 2.86"),
)


def _lookup(tables: dict[str, pd.DataFrame], reference) -> pd.Series:
    stem, block, level, arm_a, arm_b = reference
    rows = tables[stem]
    mask = rows["block"] == block
    if level:
        mask &= rows["level"] == level
    if arm_a:
        forward = (rows["arm_a"] == arm_a) & (rows["arm_b"] == arm_b)
        backward = (rows["arm_a"] == arm_b) & (rows["arm_b"] == arm_a)
        mask &= forward | backward
    else:
        mask &= rows["comparison"] == "overall"
    found = rows[mask]
    if len(found) != 1:
        raise PublishedDataError(f"text reference {reference} matches {len(found)} table rows")
    return found.iloc[0]


def _where(reference) -> str:
    stem, block, level, arm_a, arm_b = reference
    table = stem.split("_")[0].replace("table", "Table ")
    parts = [table, block] + ([level] if level else []) + ([f"{arm_a} vs {arm_b}"] if arm_a else [])
    return " ".join(parts)


def text_checks(tables: dict[str, pd.DataFrame]) -> list[AuditRecord]:
    """The prose's p-values and recovery summaries against the tables they cite.

    Examples
    --------
    >>> from cit_bayes.paper.audit_text import text_checks
    >>> from cit_bayes.paper.tables import load_tables
    >>> records = text_checks(load_tables())
    >>> len(records), records[0].check
    (24, 'text -> table')
    """
    records = []
    for claim in TEXT_CLAIMS:
        rows = [_lookup(tables, reference) for reference in claim.references]
        where = "; ".join(
            f"{_where(ref)}: {row['printed_p']}"
            for ref, row in zip(claim.references, rows, strict=True)
        )
        if len(claim.printed) == 1 and claim.printed[0][0] in "<>":
            below = claim.printed[0].startswith("<")
            significant = [
                (row["p_relation"] == "<" and row["p"] <= ALPHA) or row["p"] < ALPHA for row in rows
            ]
            ok = all(significant) if below else not any(significant)
            verdict = "consistent" if ok else "decision_error"
            recomputed = None
        else:
            if len(claim.printed) != len(rows):
                raise PublishedDataError(f"text claim {claim.quote!r}: one value per reference")
            ok = all(
                float(text) == float(row["p"]) and row["p_relation"] == "="
                for text, row in zip(claim.printed, rows, strict=True)
            )
            verdict = "consistent" if ok else "inconsistent"
            recomputed = float(rows[0]["p"]) if len(rows) == 1 else None
        records.append(
            AuditRecord(
                table="text",
                row=f'{claim.section}: "{claim.quote}"',
                comparison=f"{len(rows)} table value(s)",
                test="text against the table it cites",
                reported_statistic="",
                reported_p=", ".join(claim.printed),
                recomputed_statistic=None,
                recomputed_p=recomputed,
                verdict=verdict,
                note=f"Table values: {where}.",
                check="text -> table",
            )
        )
    cells = tables["table6_recovery_delta"]
    for arm, quote, printed in TEXT_SUMMARIES:
        row = cells[(cells["block"] == "recovery_days") & (cells["arm"] == arm)].iloc[0]
        records.append(
            AuditRecord(
                table="text",
                row=f'Results / Time-to-platelet-recovery: "{quote}"',
                comparison=arm,
                test="text against the table it cites",
                reported_statistic=printed,
                reported_p="",
                recomputed_statistic=float(row["mean"]),
                recomputed_p=None,
                verdict="consistent" if row["printed"] == printed else "inconsistent",
                note=f"Table 6 prints {row['printed']}.",
                check="text -> table",
            )
        )
    return records
