"""What every section of the patient-level report needs: the ledger, the tables, the analyses.

A :class:`ReportContext` wraps the :class:`~cit_bayes.report.ledger.Ledger` of one output (the
report or the methods supplement) with the facts the sections share (the analyses and which is
primary, the arms, the focus arm of the paper's question, the non-inferiority margin) and small
helpers that look numbers up in ``results.json`` and format them. Nothing here computes a
statistic: a helper either returns a ledger :class:`~cit_bayes.report.ledger.Number` or, where the
results document holds a word instead of a number (``"not reached"``), that word.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cit_bayes.cohort.schema import PLT_DAYS
from cit_bayes.contrasts import format_threshold
from cit_bayes.report.ledger import Ledger, Number, pointer

__all__ = ["RESULTS_DOC", "ReportContext", "build_context", "listing"]

#: Name of the run's own results document (``results.json`` beside the report).
RESULTS_DOC = "results"


@dataclass
class ReportContext:
    """The shared state of the report's sections (see the module docstring).

    Attributes
    ----------
    ledger : Ledger
        Records every number printed by the output being built.
    tables : mapping of str to pandas.DataFrame
        ``PatientAnalysis.tables``.
    plan : AnalysisPlan or None
    out_dir, figures : Path
        The report folder and its ``figures/`` folder.
    analyses : list of str
        Analysis names in the order of ``meta.analyses``.
    estimands : dict of str to str
        Estimand of each analysis (``"none"`` when unadjusted).
    primary : str
        Name of the primary analysis (its estimand is ``meta.primary_estimand``).
    arms : list of str
    focus : str
        The arm of the paper's question (the combination).
    noninferiority_pairs : list of (str, str)
    margin_key : str
        The plan's non-inferiority margin as written in result keys (``"0.10"``).
    reference : str
        Reference arm of the hazard ratios.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "adj", "estimand": "ato"}], "data": {"arms": ["A", "B"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"adj": {}}}})
    >>> ctx = build_context(ledger, {}, None, ".")
    >>> ctx.label("adj"), ctx.others(), ctx.num("meta", "seed", style="int")
    ('adj (ATO)', ['B'], '—')
    """

    ledger: Ledger
    tables: Mapping[str, pd.DataFrame]
    plan: object | None
    out_dir: Path
    figures: Path
    analyses: list[str]
    estimands: dict[str, str]
    primary: str
    arms: list[str]
    focus: str
    noninferiority_pairs: list[tuple[str, str]]
    margin_key: str
    reference: str
    figure_files: dict[str, Path] = field(default_factory=dict)

    @property
    def results(self) -> Mapping:
        """The results document."""
        return self.ledger.documents[RESULTS_DOC]

    def has(self, *path) -> bool:
        """Whether the results document has a value at ``path``."""
        return self.ledger.has(RESULTS_DOC, pointer(*path))

    def value(self, *path):
        """The raw value at ``path`` (for words and for decisions, never printed as a number)."""
        return self.ledger.value(RESULTS_DOC, pointer(*path))

    def num(self, *path, style: str) -> Number | str:
        """The number at ``path`` through the ledger; ``"—"`` if absent; a word as it stands."""
        key = pointer(*path)
        if not self.ledger.has(RESULTS_DOC, key):
            return "—"
        value = self.ledger.value(RESULTS_DOC, key)
        if isinstance(value, str):  # "not reached", "not estimable": words, not numbers
            return value
        return self.ledger.number(RESULTS_DOC, key, style)

    def interval(
        self, *path, style: str, centre: str = "mean", low: str = "ci_low", high: str = "ci_high"
    ) -> list:
        """``centre (low to high)`` of the interval object at ``path``, or ``["—"]``."""
        if not self.has(*path):
            return ["—"]
        return [
            self.num(*path, centre, style=style),
            " (",
            self.num(*path, low, style=style),
            " to ",
            self.num(*path, high, style=style),
            ")",
        ]

    @property
    def planned_days(self) -> tuple[int, ...]:
        """The planned days of the counts (``meta.data.planned_days``; the study's by default)."""
        days = self.results["meta"].get("data", {}).get("planned_days")
        return tuple(days) if days else PLT_DAYS

    def level_text(self) -> str:
        """The credible level as printed (``"95%"``), recorded in the ledger."""
        return str(self.num("meta", "ci_level", style="pct0"))

    def label(self, analysis: str) -> str:
        """A reader's name of an analysis: ``"adjusted (ATE)"``, ``"unadjusted"``."""
        estimand = self.estimands.get(analysis, "none")
        if estimand == "none" or estimand.upper() in analysis:
            return analysis
        return f"{analysis} ({estimand.upper()})"

    def adjusted_analyses(self) -> list[str]:
        """The analyses with weights (those with a ``weighting`` entry), primary first."""
        names = [a for a in self.analyses if self.has("weighting", a)]
        return sorted(names, key=lambda a: a != self.primary)

    def others(self) -> list[str]:
        """The arms other than the focus arm."""
        return [a for a in self.arms if a != self.focus]

    def fits(self) -> list[str]:
        """Names of every fit with a diagnostics entry, in the document's order."""
        return list(self.results.get("diagnostics", {}))

    def failed_fits(self) -> list[str]:
        """Names of the fits that missed a gate."""
        return [n for n, d in self.results.get("diagnostics", {}).items() if not d.get("passed")]

    def failed_checks(self) -> list[str]:
        """``"<fit>: <statistics>"`` for every fit whose posterior predictive check failed."""
        return [
            f"{name}: {', '.join(entry['predictive_check'].get('failures', []))}"
            for name, entry in self.results.get("diagnostics", {}).items()
            if not entry.get("predictive_check", {}).get("passed", True)
        ]


def _pairs_from_keys(keys, arms, margin_key: str) -> list[tuple[str, str]]:
    pairs = []
    for key in keys:
        head, _, margin = key.partition(" @ ")
        a, _, b = head.partition(" vs ")
        if margin == margin_key and a in arms and b in arms:
            pairs.append((a, b))
    return pairs


def build_context(
    ledger: Ledger,
    tables: Mapping[str, pd.DataFrame],
    plan,
    out_dir: Path,
) -> ReportContext:
    """The context of one output from the results document in ``ledger`` and the analysis.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["rhTPO", "combination"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}}})
    >>> ctx = build_context(ledger, {}, None, ".")
    >>> ctx.primary, ctx.arms, ctx.focus, ctx.reference, ctx.margin_key
    ('x', ['rhTPO', 'combination'], 'combination', 'rhTPO', '0.10')
    """
    results = ledger.documents[RESULTS_DOC]
    meta = results["meta"]
    analyses = [a["name"] for a in meta.get("analyses", [])]
    estimands = {a["name"]: a.get("estimand", "none") for a in meta.get("analyses", [])}
    primary_estimand = meta.get("primary_estimand")
    primary = next((a for a in analyses if estimands[a] == primary_estimand), analyses[-1])
    arms = list(meta.get("data", {}).get("arms") or results["response"][primary]["rate"])
    spec = getattr(plan, "spec", None)
    focus = getattr(spec, "focus_arm", None) or (
        "combination" if "combination" in arms else arms[0]
    )
    margin_key = format_threshold(float(meta.get("noninferiority_margin", 0.1)))
    keys = results["response"][primary].get("prob_noninferior", {})
    reference = getattr(plan, "recovery_reference", None) or arms[0]
    figures = Path(out_dir) / "figures"
    return ReportContext(
        ledger=ledger,
        tables=tables,
        plan=plan,
        out_dir=Path(out_dir),
        figures=figures,
        analyses=analyses,
        estimands=estimands,
        primary=primary,
        arms=arms,
        focus=focus,
        noninferiority_pairs=_pairs_from_keys(keys, arms, margin_key),
        margin_key=margin_key,
        reference=reference,
    )


def listing(names) -> str:
    """``a, b and c`` (empty for no names).

    Examples
    --------
    >>> listing(["rhTPO", "hetrombopag", "combination"]), listing(["rhTPO"]), listing([])
    ('rhTPO, hetrombopag and combination', 'rhTPO', '')
    """
    names = [str(name) for name in names]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
