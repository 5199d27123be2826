"""Report sections built from the paper's tables: the audit and the published reanalysis.

Numbers come from ``audit/audit.json`` (document ``"audit"``) and ``published/results.json``
(document ``"published"``) through the :class:`~cit_bayes.report.ledger.Ledger`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from cit_bayes.contrasts import format_threshold
from cit_bayes.report.document import Code, Figure, Heading, Items, Paragraph, Table
from cit_bayes.report.ledger import Ledger, pointer
from cit_bayes.report.render import Section

__all__ = ["audit_section", "prior_sensitivity_blocks", "PUBLISHED_DOC", "AUDIT_DOC"]

PUBLISHED_DOC = "published/results"
AUDIT_DOC = "audit/audit"
VERDICT_ORDER = ("consistent", "rounding", "inconsistent", "decision_error", "not_recomputable")


def _where(record: dict) -> str:
    return f"{record['table']}: {record['row']} ({record['comparison']})"


def _findings_table(flagged: list, titles: list[str]) -> Table:
    """One row per finding: what is wrong and how many flagged records it explains."""
    counts = Counter(r.get("finding") or _where(r) for _, r in flagged)
    return Table(
        ["finding", "what is wrong", "records"],
        [[str(n), title, str(counts[title])] for n, title in enumerate(titles, 1)],
        caption=f"Findings: {len(flagged)} flagged records come from {len(titles)} underlying "
        "errors",
        note="One error can show in several records: a statistic printed in the wrong row fails "
        "its row's recomputation and its own p-value.",
    )


def audit_section(ledger: Ledger) -> Section:
    """The audit: counts by verdict, the findings (underlying errors), then their records.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.sections_published import AUDIT_DOC, audit_section
    >>> records = [{"kind": "check", "verdict": v} for v in ("consistent", "rounding")]
    >>> section = audit_section(Ledger({AUDIT_DOC: records}))
    >>> section.anchor, section.blocks[1].rows[:2]
    ('audit', [['consistent', '1'], ['rounding', '1']])
    """
    records = ledger.documents[AUDIT_DOC]
    checks = [r for r in records if r.get("kind") == "check"]
    notes = [(i, r) for i, r in enumerate(records) if r.get("kind") == "reporting_note"]
    counts = Counter(r["verdict"] for r in checks)
    blocks: list = [
        Paragraph(
            [
                "Every statistic the paper prints that can be recomputed from its own numbers was "
                f"recomputed ({len(checks)} checks, {len(notes)} reporting notes; the full list "
                "with the test identified for each is in ",
                Code("audit/audit.md"),
                ").",
            ]
        ),
        Table(
            ["verdict", "checks"],
            [[verdict, str(counts.get(verdict, 0))] for verdict in VERDICT_ORDER],
            caption="Audit verdicts",
            note=(
                "consistent: the recomputed statistic and p match the printed ones; rounding: "
                "only once the rounding of the printed inputs is allowed for; decision_error: "
                "printed and recomputed p on opposite sides of 0.05."
            ),
        ),
    ]
    flagged = [
        (i, r)
        for i, r in enumerate(records)
        if r.get("kind") == "check" and r["verdict"] in ("decision_error", "inconsistent")
    ]
    titles = list(dict.fromkeys(r.get("finding") or _where(r) for _, r in flagged))
    if flagged:
        blocks.append(_findings_table(flagged, titles))
        rows = []
        for index, record in flagged:
            statistic = (
                ledger.number(AUDIT_DOC, pointer(index, "recomputed_statistic"), "f3")
                if record.get("recomputed_statistic") is not None
                else "—"
            )
            p_value = (
                ledger.number(AUDIT_DOC, pointer(index, "recomputed_p"), "f3")
                if record.get("recomputed_p") is not None
                else "—"
            )
            rows.append(
                [
                    str(titles.index(record.get("finding") or _where(record)) + 1),
                    f"{record['table']}: {record['row']}",
                    record["verdict"].replace("_", " "),
                    f"{record['reported_statistic']} / {record['reported_p'] or '—'}",
                    [statistic, " / ", p_value],
                    record["test"],
                ]
            )
        blocks.append(
            Table(
                [
                    "finding",
                    "where",
                    "verdict",
                    "printed statistic / p",
                    "recomputed statistic / p",
                    "test",
                ],
                rows,
                caption="Decision errors and inconsistencies, by finding",
            )
        )
    if notes:
        blocks.append(Heading(3, "Reporting notes"))
        blocks.append(
            Items(
                [[f"{r['table']}, {r['row']}: ", r["note"].split(". ")[0] + "."] for _, r in notes]
            )
        )
    return Section("audit", "Audit of the paper's statistics", blocks)


def _probability_row(ledger: Ledger, analysis: str, keys: Sequence[tuple[str, str]]) -> list:
    row: list = [analysis]
    for field, key in keys:
        path = pointer("response", analysis, field, key)
        row.append(
            ledger.number(PUBLISHED_DOC, path, "prob") if ledger.has(PUBLISHED_DOC, path) else "—"
        )
    return row


def prior_sensitivity_blocks(ledger: Ledger, *, margin: float, figures: Path | None) -> list:
    """How the published reanalysis's answers move across prior sets (table and figure).

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.sections_published import PUBLISHED_DOC, prior_sensitivity_blocks
    >>> flat = {"prob_superior": {"combination>rhTPO": 0.97}}
    >>> ledger = Ledger({PUBLISHED_DOC: {"response": {"flat": flat}}})
    >>> table = prior_sensitivity_blocks(ledger, margin=0.1, figures=None)[-1]
    >>> [str(cell) for cell in table.rows[0][:3]]
    ['flat', '0.970', '—']
    """
    document = ledger.documents[PUBLISHED_DOC]
    analyses = list(document.get("response", {}))
    m = format_threshold(margin)
    keys = [
        ("prob_superior", "combination>rhTPO"),
        ("prob_superior", "combination>hetrombopag"),
        ("prob_superior", "combination>rhIL-11"),
        ("prob_noninferior", f"hetrombopag vs rhTPO @ {m}"),
        ("prob_noninferior", f"hetrombopag vs rhIL-11 @ {m}"),
    ]
    blocks: list = [
        Heading(3, "Prior sensitivity (published counts)"),
        Paragraph(
            [
                "The paper's response counts (Table 2) reanalysed under each prior set of ",
                Code("models/priors/"),
                ": posterior probabilities that the combination has the higher response rate, "
                f"and that hetrombopag is non-inferior at a margin of {100 * margin:.0f} "
                "percentage points.",
            ]
        ),
        Table(
            [
                "prior set",
                "P(comb > rhTPO)",
                "P(comb > hetrombopag)",
                "P(comb > rhIL-11)",
                f"P(het NI rhTPO, {100 * margin:.0f} pp)",
                f"P(het NI rhIL-11, {100 * margin:.0f} pp)",
            ],
            [_probability_row(ledger, analysis, keys) for analysis in analyses],
            caption="Response: posterior probabilities by prior set",
        ),
    ]
    if figures is not None and (figures / "prior_sensitivity.png").is_file():
        blocks.append(
            Figure(
                figures / "prior_sensitivity.png",
                "Posterior probabilities of superiority and non-inferiority across prior sets "
                "(published counts).",
            )
        )
    return blocks
