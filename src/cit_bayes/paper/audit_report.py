"""Writing the audit: ``audit.json``, ``audit.csv``, ``audit.md`` and the terminal summary.

Formatting only; every number comes from the records.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path
from typing import TextIO

import pandas as pd

from cit_bayes import __version__
from cit_bayes.exceptions import PublishedDataError
from cit_bayes.paper.audit_findings import FLAGGED, findings
from cit_bayes.paper.audit_rules import KINDS, VERDICTS, AuditRecord

__all__ = ["VERDICT_RULES", "print_summary", "records_frame", "render_markdown", "write_audit"]

VERDICT_RULES = """\
A printed value *matches* a recomputed one when they differ by at most half a unit in the printed
last place (0.017 matches 0.0165-0.0175; a printed `<0.001` matches any p below 0.001). A Monte
Carlo p matches when the printed p lies within its 99 % Monte Carlo interval widened by that half
unit.

- **consistent**: the recomputed statistic and p both match the printed ones.
- **rounding**: consistent only once the rounding of the printed *inputs* is allowed for (a
  statistic recomputed from means printed to two decimals; a p recomputed from a statistic
  printed to three decimals; the printed value lies within the range the recomputation takes
  over the rounding of its inputs), or the printed value follows another rounding convention
  (a truncated percentage).
- **decision_error**: neither, and the printed p and the recomputed p lie on opposite sides of
  0.05. Takes precedence over *inconsistent*.
- **inconsistent**: neither of the above.
- **not_recomputable**: the printed numbers do not suffice; the note says why and what could be
  checked instead.

Records of kind **reporting_note** flag a label or claim that contradicts what the numbers show;
their verdict is *inconsistent* by definition. Where several tests could have produced a printed
value, each record names the one that reproduces it (`test`) and lists every candidate tried
(`candidates`), with the assumptions needed (`assumptions`)."""

_FINDING_SECTIONS = (
    ("rounding", "Consistent only within rounding"),
    ("not_recomputable", "Not recomputable"),
)


def records_frame(records: list[AuditRecord]) -> pd.DataFrame:
    """Records as a tidy DataFrame (``candidates`` joined with `` | ``).

    Examples
    --------
    >>> from cit_bayes.paper.audit_report import records_frame
    >>> records_frame([]).columns.tolist()[:4]
    ['table', 'row', 'comparison', 'test']
    """
    columns = [f.name for f in dataclasses.fields(AuditRecord)]
    frame = pd.DataFrame([r.to_dict() for r in records], columns=columns)
    frame["candidates"] = frame["candidates"].map(lambda items: " | ".join(items))
    for name in ("recomputed_statistic", "recomputed_p"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    frame["verdict"] = pd.Categorical(frame["verdict"], categories=VERDICTS, ordered=True)
    frame["kind"] = pd.Categorical(frame["kind"], categories=KINDS, ordered=True)
    return frame


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _number(value) -> str:
    if value is None or pd.isna(value):
        return ""
    return f"{value:.4g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.2e}"


def _printed(record: AuditRecord) -> str:
    parts = []
    if record.reported_statistic:
        parts.append(record.reported_statistic)
    if record.reported_p:
        parts.append(f"P {record.reported_p}")
    return ", ".join(parts)


def _recomputed(record: AuditRecord) -> str:
    parts = []
    if record.recomputed_statistic is not None:
        parts.append(_number(record.recomputed_statistic))
    if record.recomputed_p is not None:
        parts.append(f"p {_number(record.recomputed_p)}")
    return ", ".join(parts)


def _record_line(r: AuditRecord) -> str:
    recomputed = _recomputed(r)
    return (
        f"- **{r.location}** — printed {_printed(r) or '(nothing)'}"
        + (f"; recomputed {recomputed}" if recomputed else "")
        + f" [{r.test}]. {r.note}"
    )


def _findings_lines(records: list[AuditRecord], found) -> list[str]:
    """The findings, each with the records it explains (checks, then explaining notes)."""
    if not found:
        return []
    lines = [f"## Findings ({len(found)})", ""]
    for number, finding in enumerate(found, 1):
        verdicts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in finding.verdicts.items())
        count = sum(finding.verdicts.values())
        noted = " (and the reporting note that explains them)" if count < finding.size else ""
        lines += [
            f"### {number}. {finding.title}",
            "",
            f"{count} record{'s' if count != 1 else ''}{noted}: {verdicts}.",
            "",
        ]
        for index in finding.records:
            r = records[index]
            if r.kind == "check":
                lines.append(_record_line(r))
            else:
                lines.append(f"- **Note: {r.location}** — {r.note}")
        lines.append("")
    return lines


def render_markdown(records: list[AuditRecord], metadata: dict | None = None) -> str:
    """The readable audit: rules, summary, findings (each with its records), then every check.

    Examples
    --------
    >>> from cit_bayes.paper.audit_report import render_markdown
    >>> render_markdown([]).splitlines()[0]
    '# Audit of the reported statistics'
    """
    metadata = metadata or {}
    checks = [r for r in records if r.kind == "check"]
    notes = [r for r in records if r.kind == "reporting_note"]
    counts = Counter(r.verdict for r in checks)
    found = findings(records)
    lines = [
        "# Audit of the reported statistics",
        "",
        "Paper: *Hetrombopag for chemotherapy-induced thrombocytopenia in solid tumours: a "
        "retrospective cohort study* (Tables 1-9 and text). Every value is recomputed from the "
        "paper's own printed numbers (`data/published/`); no patient-level data are used.",
        "",
        f"Generated by cit-bayes {__version__}"
        + "".join(f"; {key} {value}" for key, value in metadata.items())
        + ".",
        "",
        "## How to read the verdicts",
        "",
        VERDICT_RULES,
        "",
        "## Summary",
        "",
        "| verdict | checks |",
        "|---|---|",
        *[f"| {verdict} | {counts.get(verdict, 0)} |" for verdict in VERDICTS],
        f"| **all checks** | {len(checks)} |",
        f"| reporting notes | {len(notes)} |",
        "",
        f"The {sum(counts.get(v, 0) for v in FLAGGED)} decision errors and inconsistencies come "
        f"from **{len(found)} findings** (underlying errors): one error can show in several "
        "records (a statistic printed in the wrong row fails its row's recomputation and its "
        "own p-value), so the findings, not the records, count what is wrong.",
        "",
    ]
    lines += _findings_lines(records, found)
    for verdict, title in _FINDING_SECTIONS:
        chosen = [r for r in checks if r.verdict == verdict]
        if not chosen:
            continue
        lines += [f"## {title} ({len(chosen)})", ""]
        lines += [_record_line(r) for r in chosen] + [""]
    if notes:
        lines += [f"## Reporting notes ({len(notes)})", ""]
        for r in notes:
            lines.append(f"- **{r.location}** — label: {r.reported_statistic}. {r.note}")
        lines.append("")
    lines += [
        "## Every check",
        "",
        "| table | row | comparison | test | printed | recomputed | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in checks:
        lines.append(
            "| "
            + " | ".join(
                _cell(x)
                for x in (
                    r.table,
                    r.row,
                    r.comparison,
                    r.test,
                    _printed(r),
                    _recomputed(r),
                    r.verdict,
                )
            )
            + " |"
        )
    lines += [
        "",
        "Full details (notes, candidates, assumptions, p-value methods) are in `audit.csv` and "
        "`audit.json`.",
        "",
    ]
    return "\n".join(lines)


def write_audit(
    records: list[AuditRecord], out_dir: str | Path, *, metadata: dict | None = None
) -> dict[str, Path]:
    """Write ``audit.json``, ``audit.csv`` and ``audit.md`` into ``out_dir`` (created if needed).

    Parameters
    ----------
    records : list of AuditRecord
    out_dir : str or Path
    metadata : dict, optional
        Run parameters stated in ``audit.md`` (for example seed and Monte Carlo samples).

    Returns
    -------
    dict of str to Path
        ``{"json": ..., "csv": ..., "md": ...}``.

    Examples
    --------
    >>> import tempfile
    >>> from cit_bayes.paper.audit_report import write_audit
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     sorted(write_audit([], folder))
    ['csv', 'json', 'md']
    """
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PublishedDataError(f"cannot create the output folder {folder}: {error}") from error
    if not folder.is_dir():
        raise PublishedDataError(f"output path {folder} is not a folder")
    paths = {"json": folder / "audit.json", "csv": folder / "audit.csv", "md": folder / "audit.md"}
    paths["json"].write_text(
        json.dumps([r.to_dict() for r in records], ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    records_frame(records).to_csv(paths["csv"], index=False, encoding="utf-8")
    paths["md"].write_text(render_markdown(records, metadata), encoding="utf-8")
    return paths


def print_summary(records: list[AuditRecord], stream: TextIO | None = None) -> None:
    """Print the verdict counts and every finding (not consistent) as a table.

    Uses rich when the stream is a terminal, plain text otherwise.

    Examples
    --------
    >>> from cit_bayes.paper.audit_report import print_summary
    >>> print_summary([])  # doctest: +NORMALIZE_WHITESPACE
    Audit: 0 checks (0 consistent, 0 rounding, 0 inconsistent, 0 decision_error,
    0 not_recomputable), 0 reporting notes; 0 findings (underlying errors).
    """
    stream = stream or sys.stdout
    checks = [r for r in records if r.kind == "check"]
    counts = Counter(r.verdict for r in checks)
    listed = [r for r in records if r.kind == "reporting_note" or r.verdict != "consistent"]
    header = (
        f"Audit: {len(checks)} checks ("
        + ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)
        + f"), {len(records) - len(checks)} reporting notes; "
        + f"{len(findings(records))} findings (underlying errors)."
    )
    rows = [
        (
            r.table,
            r.row if len(r.row) <= 48 else r.row[:47] + "…",
            r.comparison,
            _printed(r),
            _recomputed(r),
            r.verdict if r.kind == "check" else "reporting note",
        )
        for r in listed
    ]
    if stream.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=header, show_lines=False)
        for name in ("table", "row", "comparison", "printed", "recomputed", "verdict"):
            table.add_column(name)
        for row in rows:
            table.add_row(*row)
        Console(file=stream).print(table)
        return
    print(header, file=stream)
    for row in rows:
        print("  " + " | ".join(row), file=stream)
