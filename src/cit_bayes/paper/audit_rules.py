"""The audit's record type and its verdict rules (statcheck-style).

Verdicts of a ``check`` record
------------------------------
A printed value is compared with a recomputed one *at the printed precision*: it "matches" when
the two differ by no more than half a unit in the printed last place (a printed 0.017 matches
any recomputed value in [0.0165, 0.0175]); a printed ``<0.001`` matches any recomputed p below
0.001. A Monte Carlo p matches when the printed p lies within its 99 % Monte Carlo interval
(:math:`\\hat p \\pm 2.576\\,SE`) widened by that half unit.

``consistent``
    The recomputed statistic and p both match the printed ones.
``rounding``
    Not consistent, but consistent once the rounding of the printed *inputs* is allowed for:
    the printed value lies within the range the recomputation takes over the rounding box of
    its inputs (a statistic recomputed from means printed to two decimals; a p recomputed from
    a statistic printed to three decimals), or the printed value follows another rounding
    convention (a percentage truncated instead of rounded).
``decision_error``
    Neither of the above, and the printed p and the recomputed p (its whole range) lie on
    opposite sides of 0.05. Takes precedence over ``inconsistent``.
``inconsistent``
    Neither of the above.
``not_recomputable``
    The printed numbers do not suffice (for example a paired test needs patient-level data);
    the note says why, and what could be checked instead.

A ``reporting_note`` record flags a label or claim that contradicts what the numbers show (an
SD that is a standard error, a "median" that is a mean, non-significance read as
non-inferiority). Its verdict is ``inconsistent`` by definition; ``kind`` separates it from the
checks.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal

from cit_bayes.exceptions import PublishedDataError

__all__ = [
    "ALPHA",
    "KINDS",
    "VERDICTS",
    "AuditRecord",
    "Candidate",
    "tested_record",
    "unrecomputable_record",
    "describe",
    "format_p",
    "half_unit",
    "identify",
    "judge",
    "judge_percentage",
    "matches",
    "p_matches",
]

VERDICTS: tuple[str, ...] = (
    "consistent",
    "rounding",
    "inconsistent",
    "decision_error",
    "not_recomputable",
)
KINDS: tuple[str, ...] = ("check", "reporting_note")
#: Significance level the paper uses ("P < 0.05").
ALPHA = 0.05
#: z multiplier of the Monte Carlo interval used when matching a Monte Carlo p.
MC_Z = 2.576


@dataclass(frozen=True)
class AuditRecord:
    """One audited statement of the paper.

    Attributes
    ----------
    table : str
        ``table1`` ... ``table9`` or ``text`` (abstract and prose).
    row : str
        The paper's row label (or the quoted words of the text).
    comparison : str
        What is compared: ``all four arms``, ``rhTPO vs combination``, ``within rhTPO: day 0 vs
        day 3``, ``n/N``.
    test : str
        The test or calculation that reproduces the printed value (test identification), or the
        one tried when none does.
    reported_statistic, reported_p : str
        The printed statistic (or effect, percentage, interval) and p-value, verbatim; empty
        where the paper prints none.
    recomputed_statistic, recomputed_p : float or None
        The recomputed values (unrounded); None where nothing could be recomputed.
    verdict : str
        One of :data:`VERDICTS` (rules in this module's docstring).
    note : str
        Why: candidates that failed, assumptions, the size of a discrepancy.
    kind : str
        ``check`` or ``reporting_note``.
    check : str
        What was compared (``counts -> statistic and p``, ``printed statistic -> p``, ...).
    p_method : str
        How the recomputed p was obtained (asymptotic, exact enumeration, Monte Carlo with seed
        and standard error).
    assumptions : str
        Assumptions needed for the recomputation.
    candidates : tuple of str
        Every candidate tried, with its values.
    finding : str
        The finding (underlying error) a flagged record or its explaining note is part of;
        empty otherwise (:mod:`cit_bayes.paper.audit_findings`).

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import AuditRecord
    >>> record = AuditRecord("table1", "Sex", "all four arms", "Pearson χ²", "0.745", "0.863",
    ...                      0.7449, 0.8626, "consistent", "")
    >>> record.kind, record.to_dict()["candidates"]
    ('check', [])
    """

    table: str
    row: str
    comparison: str
    test: str
    reported_statistic: str
    reported_p: str
    recomputed_statistic: float | None
    recomputed_p: float | None
    verdict: str
    note: str
    kind: str = "check"
    check: str = ""
    p_method: str = ""
    assumptions: str = ""
    candidates: tuple[str, ...] = field(default_factory=tuple)
    finding: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise PublishedDataError(f"unknown verdict {self.verdict!r}; expected {VERDICTS}")
        if self.kind not in KINDS:
            raise PublishedDataError(f"unknown record kind {self.kind!r}; expected {KINDS}")
        for name in ("recomputed_statistic", "recomputed_p"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, float):
                object.__setattr__(self, name, float(value))
        object.__setattr__(self, "candidates", tuple(self.candidates))

    @property
    def location(self) -> str:
        """Where in the paper: ``"Table 4, Day 3 PLT (all four arms)"``."""
        table = self.table.replace("table", "Table ") if self.table != "text" else "Text"
        return f"{table}, {self.row} ({self.comparison})"

    def to_dict(self) -> dict:
        """Return the record as a JSON-ready dict (``candidates`` as a list)."""
        data = asdict(self)
        data["candidates"] = list(self.candidates)
        for name in ("recomputed_statistic", "recomputed_p"):
            if data[name] is not None and not math.isfinite(data[name]):
                data[name] = None
        return data


def tested_record(best: Candidate, **fields) -> AuditRecord:
    """The record of a check whose best-matching candidate test is ``best`` (the common shape).

    ``test``, ``recomputed_statistic``, ``recomputed_p`` and ``p_method`` come from ``best``;
    every other field of :class:`AuditRecord` is given by keyword.

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import Candidate, tested_record
    >>> best = Candidate("Pearson χ²", 0.7449, 0.8626, p_method="asymptotic χ²(1)")
    >>> record = tested_record(best, table="table1", row="Sex", comparison="all four arms",
    ...     reported_statistic="0.745", reported_p="0.863", verdict="consistent", note="")
    >>> record.test, record.p_method
    ('Pearson χ²', 'asymptotic χ²(1)')
    """
    return AuditRecord(
        test=best.label,
        recomputed_statistic=best.statistic,
        recomputed_p=best.p_value,
        p_method=best.p_method,
        **fields,
    )


def unrecomputable_record(**fields) -> AuditRecord:
    """The record of a check the published numbers cannot recompute (patient-level data needed,
    a count not reported): verdict ``not_recomputable``, no recomputed statistic or p; every
    other field of :class:`AuditRecord` is given by keyword.

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import unrecomputable_record
    >>> record = unrecomputable_record(table="table7", row="ΔPLT", comparison="a vs b",
    ...     test="rank test", reported_statistic="", reported_p="0.03",
    ...     note="needs patient-level data", check="none possible")
    >>> record.verdict, record.recomputed_statistic, record.recomputed_p
    ('not_recomputable', None, None)
    """
    return AuditRecord(
        recomputed_statistic=None, recomputed_p=None, verdict="not_recomputable", **fields
    )


def _number_text(printed: str) -> str:
    text = str(printed).strip().lstrip("<>=").strip().rstrip("*#%").strip()
    try:
        Decimal(text)
    except ArithmeticError as error:
        raise PublishedDataError(f"not a printed number: {printed!r}") from error
    return text


def half_unit(printed: str) -> float:
    """Half a unit in the last printed place: ``"0.017"`` -> 0.0005, ``"43.7"`` -> 0.05.

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import half_unit
    >>> round(half_unit("0.017"), 6), round(half_unit("43.7"), 6)
    (0.0005, 0.05)
    """
    exponent = Decimal(_number_text(printed)).as_tuple().exponent
    return 0.5 * 10.0 ** int(exponent)


def matches(value: float | None, printed: str, *, spread: float = 0.0) -> bool:
    """Whether ``value`` rounds to ``printed`` (within half a unit, plus ``spread``).

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import matches
    >>> matches(0.0168, "0.017"), matches(0.0176, "0.017")
    (True, False)
    """
    if value is None or not math.isfinite(value):
        return False
    target = float(_number_text(printed))
    return abs(value - target) <= half_unit(printed) * (1 + 1e-9) + spread + 1e-12


def _in_range(printed: str, low: float, high: float) -> bool:
    target = float(_number_text(printed))
    slack = half_unit(printed) * (1 + 1e-9) + 1e-12
    return low - slack <= target <= high + slack


def p_matches(value: float | None, printed_p: str, *, monte_carlo_se: float = 0.0) -> bool:
    """Whether a recomputed p agrees with a printed one (``=`` or ``<``), see module docs.

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import p_matches
    >>> p_matches(0.0004, "<0.001"), p_matches(0.02, "0.017")
    (True, False)
    """
    if value is None or not math.isfinite(value):
        return False
    if str(printed_p).strip().startswith("<"):
        return value < float(_number_text(printed_p)) + MC_Z * monte_carlo_se
    return matches(value, printed_p, spread=MC_Z * monte_carlo_se)


def _significant(printed_p: str) -> bool:
    text = str(printed_p).strip()
    bound = float(_number_text(text))
    return bound <= ALPHA if text.startswith("<") else bound < ALPHA


def judge(
    *,
    reported_statistic: str = "",
    reported_p: str = "",
    statistic: float | None = None,
    statistic_range: tuple[float, float] | None = None,
    p_value: float | None = None,
    p_range: tuple[float, float] | None = None,
    monte_carlo_se: float = 0.0,
) -> str:
    """The verdict of one check (rules in the module docstring).

    Parameters
    ----------
    reported_statistic, reported_p : str
        Printed values, verbatim; an empty string is not checked.
    statistic, p_value : float
        Recomputed from the printed inputs as printed.
    statistic_range, p_range : (float, float)
        Range of the recomputation over the rounding of its inputs (default: the point).
    monte_carlo_se : float
        Standard error of a Monte Carlo ``p_value``.

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import judge
    >>> judge(reported_statistic="8.088", reported_p="0.004", statistic=8.0876, p_value=0.0044)
    'consistent'
    >>> judge(reported_p="0.04", p_value=0.06)
    'decision_error'
    """
    check_statistic = bool(str(reported_statistic).strip())
    check_p = bool(str(reported_p).strip())
    if not check_statistic and not check_p:
        raise PublishedDataError("judge needs a printed statistic or a printed p")
    if (check_statistic and statistic is None) or (check_p and p_value is None):
        return "not_recomputable"
    statistic_ok = not check_statistic or matches(statistic, reported_statistic)
    p_ok = not check_p or p_matches(p_value, reported_p, monte_carlo_se=monte_carlo_se)
    if statistic_ok and p_ok:
        return "consistent"
    s_low, s_high = statistic_range or (statistic, statistic)
    p_low, p_high = p_range or (p_value, p_value)
    statistic_ok = not check_statistic or _in_range(reported_statistic, s_low, s_high)
    if check_p:
        p_low_mc = p_low - MC_Z * monte_carlo_se
        p_high_mc = p_high + MC_Z * monte_carlo_se
        if str(reported_p).strip().startswith("<"):
            p_ok = p_low_mc < float(_number_text(reported_p))
        else:
            p_ok = _in_range(reported_p, p_low_mc, p_high_mc)
    if statistic_ok and p_ok:
        return "rounding"
    if check_p:
        printed_significant = _significant(reported_p)
        if printed_significant and p_low - MC_Z * monte_carlo_se >= ALPHA:
            return "decision_error"
        if not printed_significant and p_high + MC_Z * monte_carlo_se < ALPHA:
            return "decision_error"
    return "inconsistent"


def judge_percentage(count: int, total: int, printed: str) -> str:
    """GRIM-style verdict of a printed percentage of ``count`` out of ``total``.

    ``consistent`` if the printed value equals 100 n/N rounded half-up or half-to-even at the
    printed precision; ``rounding`` if it equals the truncated or rounded-up value (another
    rounding convention); ``inconsistent`` otherwise.

    References
    ----------
    Brown NJL, Heathers JAJ (2017). The GRIM test. *Soc Psychol Personal Sci* 8:363-369.

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import judge_percentage
    >>> [judge_percentage(1, 3, printed) for printed in ("33.3", "33.4", "33.5")]
    ['consistent', 'rounding', 'inconsistent']
    """
    if total <= 0 or count < 0 or count > total:
        raise PublishedDataError(f"a percentage needs 0 <= n <= N and N > 0, got {count}/{total}")
    text = _number_text(printed)
    target = Decimal(text)
    quantum = Decimal(1).scaleb(Decimal(text).as_tuple().exponent)
    exact = Decimal(100 * count) / Decimal(total)
    if target in {exact.quantize(quantum, rounding=r) for r in (ROUND_HALF_UP, ROUND_HALF_EVEN)}:
        return "consistent"
    if target in {exact.quantize(quantum, rounding=r) for r in (ROUND_DOWN, ROUND_UP)}:
        return "rounding"
    return "inconsistent"


@dataclass(frozen=True)
class Candidate:
    """One candidate test or calculation for a printed statistic (test identification).

    ``statistic`` is None for a test without a statistic (Fisher's 2x2 test); its p alone is
    compared and it ranks after candidates that reproduce both.

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import Candidate
    >>> Candidate("Pearson χ²", 0.7449, 0.8626).statistic_range is None
    True
    """

    label: str
    statistic: float | None
    p_value: float | None
    statistic_range: tuple[float, float] | None = None
    p_range: tuple[float, float] | None = None
    monte_carlo_se: float = 0.0
    p_method: str = ""


_VERDICT_RANK = {
    "consistent": 0,
    "rounding": 1,
    "inconsistent": 2,
    "decision_error": 2,
    "not_recomputable": 3,
}


def _component_matches(candidate: Candidate, reported_statistic: str, reported_p: str) -> int:
    count = 0
    if reported_statistic and candidate.statistic is not None:
        low, high = candidate.statistic_range or (candidate.statistic, candidate.statistic)
        count += _in_range(reported_statistic, low, high)
    if reported_p and candidate.p_value is not None:
        low, high = candidate.p_range or (candidate.p_value, candidate.p_value)
        spread = MC_Z * candidate.monte_carlo_se
        if str(reported_p).strip().startswith("<"):
            count += low - spread < float(_number_text(reported_p))
        else:
            count += _in_range(reported_p, low - spread, high + spread)
    return count


def identify(
    candidates: list[Candidate], reported_statistic: str, reported_p: str
) -> tuple[Candidate, str, list[str]]:
    """Judge every candidate; return the best, its verdict, and one line per candidate.

    The best candidate has the best verdict (consistent, then rounding), then the most printed
    values reproduced within rounding, then reproduces the statistic as well as the p, then
    comes first in the list.

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import Candidate, identify
    >>> candidates = [Candidate("G²", 9.494, 0.0021), Candidate("Pearson χ²", 8.088, 0.0044)]
    >>> best, verdict, lines = identify(candidates, "8.088", "0.004")
    >>> best.label, verdict, len(lines)
    ('Pearson χ²', 'consistent', 2)
    """
    if not candidates:
        raise PublishedDataError("test identification needs at least one candidate")
    judged = []
    for order, candidate in enumerate(candidates):
        statistic_text = reported_statistic if candidate.statistic is not None else ""
        if not statistic_text and not reported_p:
            verdict = "not_recomputable"
        else:
            verdict = judge(
                reported_statistic=statistic_text,
                reported_p=reported_p,
                statistic=candidate.statistic,
                statistic_range=candidate.statistic_range,
                p_value=candidate.p_value,
                p_range=candidate.p_range,
                monte_carlo_se=candidate.monte_carlo_se,
            )
        rank = (
            _VERDICT_RANK[verdict],
            -_component_matches(candidate, statistic_text, reported_p),
            candidate.statistic is None and bool(reported_statistic),
            order,
        )
        judged.append((rank, candidate, verdict))
    lines = [f"{describe(c)} -> {v}" for _, c, v in judged]
    _, best, verdict = min(judged, key=lambda item: item[0])
    return best, verdict, lines


def describe(candidate: Candidate) -> str:
    """One line: the candidate's label, statistic, p and how the p was obtained.

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import Candidate, describe
    >>> describe(Candidate("Pearson χ²", 8.0876, 0.0044, p_method="asymptotic"))
    'Pearson χ²: statistic 8.088 p 0.0044 [asymptotic]'
    """
    parts = [candidate.label]
    if candidate.statistic is not None:
        parts.append(f"statistic {candidate.statistic:.3f}")
    if candidate.p_value is not None:
        parts.append(f"p {format_p(candidate.p_value)}")
    if candidate.p_method:
        parts.append(f"[{candidate.p_method}]")
    return ", ".join(parts[:1]) + ": " + " ".join(parts[1:]) if len(parts) > 1 else parts[0]


def format_p(p_value: float | None) -> str:
    """A p-value for a note: four decimals, or ``<0.0001``.

    Examples
    --------
    >>> from cit_bayes.paper.audit_rules import format_p
    >>> format_p(0.01234), format_p(0.00001)
    ('0.0123', '<0.0001')
    """
    if p_value is None or not math.isfinite(p_value):
        return "n/a"
    return "<0.0001" if p_value < 0.0001 else f"{p_value:.4f}"
