"""The audit's findings: one per underlying error, with the records it explains.

A record is one recomputed statistic; a finding is one thing wrong in the paper. One error
often shows in several records: a χ² statistic printed in the wrong row is an inconsistency
(the statistic does not fit the row's data) and a decision error (printed statistic and p on
opposite sides of 0.05) in every row it touches. Counting records would count it several
times, so the audit's summary counts findings:

* the flagged records (``decision_error``, ``inconsistent``) of one table row and comparison
  are one finding (the statistic and the p of one test);
* rows whose statistics are shifted between them (Table 4's χ² column: each printed statistic
  is the one recomputed for another row, while the printed p-values fit their own rows;
  :func:`~cit_bayes.paper.audit_notes.shifted_statistics`) are one finding, with the reporting
  note that explains them.

Records that are consistent, consistent within rounding or not recomputable belong to no
finding.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from cit_bayes.paper.audit_notes import SHIFTED_NOTE_ROW, shifted_statistics
from cit_bayes.paper.audit_rules import AuditRecord

__all__ = ["FLAGGED", "Finding", "assign_findings", "findings"]

#: Verdicts that make a record part of a finding.
FLAGGED = ("decision_error", "inconsistent")
_SEVERITY = {"decision_error": 0, "inconsistent": 1}


@dataclass(frozen=True)
class Finding:
    """One underlying error: its title and the positions of its records in the audit.

    Examples
    --------
    >>> Finding("Table 6, F", records=(3, 4), verdicts={"inconsistent": 2}).size
    2
    """

    title: str
    records: tuple[int, ...] = ()
    verdicts: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """How many records the finding explains."""
        return len(self.records)


def assign_findings(records: list[AuditRecord]) -> list[AuditRecord]:
    """The records with ``finding`` set: the title of the finding each flagged record is part of.

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import AuditRecord
    >>> make = lambda verdict, test: AuditRecord("table6", "F", "all four arms", test, "3.029",
    ...                                          "0.035", 3.0, 0.03, verdict, "")
    >>> out = assign_findings([make("inconsistent", "F"), make("decision_error", "p"),
    ...                        make("consistent", "H")])
    >>> [r.finding for r in out]
    ['Table 6, F (all four arms)', 'Table 6, F (all four arms)', '']
    """
    shifted = {(r.table, r.row) for r in shifted_statistics(records)}
    shifted_title = ""
    if shifted:
        days = ", ".join(row.split(" PLT")[0] for _, row in sorted(shifted, key=_day_order))
        shifted_title = (
            f"Table 4, χ² column: the statistics of {days} are shifted between rows (the printed "
            "p-values fit their own rows)"
        )
    out = []
    for record in records:
        title = ""
        if record.kind == "check" and record.verdict in FLAGGED:
            in_shift = (record.table, record.row) in shifted
            title = shifted_title if in_shift and record.comparison == "all four arms" else ""
            title = title or record.location
        elif record.kind == "reporting_note" and record.row == SHIFTED_NOTE_ROW and shifted:
            title = shifted_title
        out.append(replace(record, finding=title))
    return out


def _day_order(key: tuple[str, str]) -> int:
    digits = "".join(ch for ch in key[1].split(" PLT")[0] if ch.isdigit())
    return int(digits) if digits else 0


def findings(records: list[AuditRecord]) -> list[Finding]:
    """The findings of records that went through :func:`assign_findings`, worst first.

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import AuditRecord
    >>> record = AuditRecord("table6", "F", "all four arms", "F", "3.029", "0.035", 3.0, 0.03,
    ...                      "inconsistent", "", finding="Table 6, F (all four arms)")
    >>> [(f.title, f.records, f.verdicts) for f in findings([record])]
    [('Table 6, F (all four arms)', (0,), {'inconsistent': 1})]
    """
    members: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        if record.finding:
            members.setdefault(record.finding, []).append(index)
    out = []
    for title, indices in members.items():
        verdicts = Counter(records[i].verdict for i in indices if records[i].kind == "check")
        out.append(Finding(title, tuple(indices), dict(verdicts)))
    return sorted(out, key=lambda f: min(_SEVERITY.get(v, 9) for v in f.verdicts or {"": 0}))
