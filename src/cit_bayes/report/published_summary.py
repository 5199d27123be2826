"""``summary.md`` of the published reanalysis: the answers in plain words, a table per prior set.

Reads a ``results.json`` document (a dict, see ``docs/results-schema.md``) and formats it; it
computes nothing. One section per endpoint; each opens with the answers in words and then gives a
table per analysis (prior set or sensitivity run); the assumptions and the sampling diagnostics of
every fit close the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["render_summary", "write_summary"]


def _pct(value: float, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f} %"


def _interval(
    item: Mapping, *, percent: bool = False, digits: int = 2, centre: str = "mean"
) -> str:
    if percent:
        return f"{_pct(item[centre])} ({_pct(item['ci_low'])} to {_pct(item['ci_high'])})"
    return (
        f"{item[centre]:.{digits}f} ({item['ci_low']:.{digits}f} to {item['ci_high']:.{digits}f})"
    )


def _points(item: Mapping) -> str:
    """A risk difference in percentage points."""
    return f"{100 * item['mean']:+.1f} ({100 * item['ci_low']:+.1f} to {100 * item['ci_high']:+.1f}) points"


def _words(p: float) -> str:
    if p >= 0.99:
        return "almost certain"
    if p >= 0.95:
        return "very likely"
    if p >= 0.80:
        return "likely"
    if p >= 0.50:
        return "more likely than not"
    if p >= 0.20:
        return "unlikely"
    return "very unlikely"


def _prob(p: float) -> str:
    return f"{_pct(p)} ({_words(p)})"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _response(section: Mapping, level: str) -> list[str]:
    lines = ["## Response (Table 2)", ""]
    for name, analysis in section.items():
        sup = analysis["prob_superior"]
        combination = [k for k in sup if k.startswith("combination>")]
        best = max(analysis["prob_best"], key=analysis["prob_best"].get)
        nis = analysis["prob_noninferior"]
        text = (
            f"- **{name}**: the combination has a higher response rate than "
            + ", ".join(f"{k.split('>')[1]} with probability {_pct(sup[k])}" for k in combination)
            + f"; the arm most likely to be best is {best} ({_pct(analysis['prob_best'][best])})."
        )
        if nis:
            text += " Non-inferiority: " + "; ".join(
                f"{_ni_words(k)} {_pct(p)}" for k, p in nis.items()
            )
            text += "."
        lines.append(text)
    lines.append("")
    lines += ["Prior sensitivity of the main answers (posterior probabilities):", ""]
    names = list(section)
    first = section[names[0]]
    keys = [("prob_superior", k) for k in first["prob_superior"] if k.startswith("combination>")]
    keys += [("prob_noninferior", k) for k in first["prob_noninferior"]]
    rows = []
    for field, key in keys:
        label = (
            f"P({key.replace('>', ' > ')})" if field == "prob_superior" else f"P({_ni_words(key)})"
        )
        rows.append([label] + [_pct(section[n][field].get(key, float("nan"))) for n in names])
    lines += _table(["quantity", *names], rows)
    for name, analysis in section.items():
        lines.append(f"### {name}")
        lines.append("")
        rows = [
            [arm, _interval(item, percent=True), _pct(analysis["prob_best"].get(arm, 0.0))]
            for arm, item in analysis["rate"].items()
        ]
        lines += _table(["arm", f"response rate ({level} CrI)", "P(best)"], rows)
        rows = []
        for key, item in analysis["risk_difference"].items():
            a, b = _split_pair(key, analysis["rate"])
            odds = analysis["odds_ratio"].get(f"{a}/{b}")
            rows.append(
                [
                    f"{a} vs {b}",
                    _points(item),
                    _interval(odds, centre="median") if odds else "",
                    _pct(analysis["prob_superior"].get(f"{a}>{b}", float("nan"))),
                ]
            )
        lines += _table(
            [
                "comparison",
                f"risk difference ({level} CrI)",
                f"odds ratio (median, {level} CrI)",
                "P(A > B)",
            ],
            rows,
        )
        rows = [
            [f"P({_ni_words(key)})", _prob(p)] for key, p in analysis["prob_noninferior"].items()
        ]
        rows += [
            [f"P({_rate_exceeds_words(key, analysis['rate'])})", _prob(p)]
            for key, p in analysis["prob_difference_exceeds"].items()
        ]
        lines += _table(["quantity", "posterior probability"], rows)
    return lines


def _ni_words(key: str) -> str:
    """``"A vs B @ 0.10"`` -> ``"A non-inferior to B at a 10-point margin"`` (rates)."""
    pair, margin = key.split(" @ ")
    arm_a, arm_b = pair.split(" vs ")
    return f"{arm_a} non-inferior to {arm_b} at a {100 * float(margin):.0f}-point margin"


def _exceeds(key: str, arms, *, unit: str) -> tuple[str, str, float]:
    """``"A-B > d"`` -> ``(A, B, d)``."""
    pair, threshold = key.split(" > ")
    arm_a, arm_b = _split_pair(pair, arms)
    return arm_a, arm_b, float(threshold)


def _rate_exceeds_words(key: str, arms) -> str:
    arm_a, arm_b, d = _exceeds(key, arms, unit="points")
    return f"{arm_a}'s rate exceeds {arm_b}'s by more than {100 * d:.0f} points"


def _faster_words(key: str, arms) -> str:
    slower, faster, d = _exceeds(key, arms, unit="days")
    return f"{faster} faster than {slower} by more than {d:g} day{'s' if d != 1 else ''}"


def _split_pair(key: str, arms: Mapping) -> tuple[str, str]:
    for arm in sorted(arms, key=len, reverse=True):
        if key.startswith(arm + "-"):
            return arm, key[len(arm) + 1 :]
    return key, ""


def _plt(section: Mapping, level: str) -> list[str]:
    lines = ["## Platelet count by day (Table 4)", ""]
    for name, analysis in section.items():
        parts = []
        for day, probs in analysis["prob_superior"].items():
            combination = [k for k in probs if k.startswith("combination>")]
            parts.append(
                f"at {day} the combination's mean count is higher than "
                + ", ".join(
                    f"{k.split('>')[1]}'s with probability {_pct(probs[k])}" for k in combination
                )
            )
        lines.append(
            f"- **{name}** (± read as {analysis.get('plusminus_read_as', 'standard error')}): "
            + "; ".join(parts)
            + "."
        )
    lines.append("")
    for name, analysis in section.items():
        lines += [f"### {name}", ""]
        arms = list(next(iter(analysis["mean"].values())))
        rows = [
            [day] + [_interval(values[a], digits=1) for a in arms]
            for day, values in analysis["mean"].items()
        ]
        lines += _table(["day", *[f"{a} (×10⁹/L, {level} CrI)" for a in arms]], rows)
        rows = []
        for day, differences in analysis["difference"].items():
            for key, item in differences.items():
                a, b = _split_pair(key, dict.fromkeys(arms))
                rows.append(
                    [
                        day,
                        f"{a} − {b}",
                        _interval(item, digits=1),
                        _pct(analysis["prob_superior"][day].get(f"{a}>{b}", float("nan"))),
                    ]
                )
        lines += _table(["day", "difference", f"mean ({level} CrI)", "P(A > B)"], rows)
    return lines


def _recovery(section: Mapping, level: str) -> list[str]:
    lines = ["## Time to platelet recovery, among recovered patients only (Table 6)", ""]
    first = next(iter(section.values()))
    lines.append(
        "Table 6 reports the mean time to PLT >= 100 x 10^9/L among the patients who recovered, and "
        "not how many recovered. **Assumption**: the number of patients behind each mean (which "
        "sets its standard error), named in brackets after each analysis below. Population: "
        f"{first.get('population', 'recovered patients only')}. The "
        "probabilities compare means among patients who recovered, a group formed after "
        "treatment: they describe the published numbers and are not causal contrasts."
    )
    lines.append("")
    for name, analysis in section.items():
        faster = analysis["prob_difference_exceeds"]
        parts = [
            f"P({_faster_words(k, analysis['mean_days'])}) = {_pct(p)}" for k, p in faster.items()
        ]
        lines.append(
            f"- **{name}** ({analysis.get('recovery_analysis_sizes_assumption', '')}): "
            + "; ".join(parts)
            + "."
        )
    lines.append("")
    for name, analysis in section.items():
        lines += [f"### {name}", ""]
        counts = analysis.get("recovery_analysis_sizes", {})
        rows = [
            [arm, _interval(item, digits=2), str(counts.get(arm, ""))]
            for arm, item in analysis["mean_days"].items()
        ]
        lines += _table(
            ["arm", f"mean days among recovered ({level} CrI)", "patients (assumed)"], rows
        )
        rows = []
        for key, item in analysis["difference"].items():
            a, b = _split_pair(key, analysis["mean_days"])
            rows.append(
                [
                    f"{a} − {b}",
                    _interval(item, digits=2),
                    _pct(analysis["prob_superior"].get(f"{a}<{b}", float("nan"))),
                ]
            )
        lines += _table(["difference (days)", f"mean ({level} CrI)", "P(A faster than B)"], rows)
    return lines


def _safety(section: Mapping, level: str) -> list[str]:
    lines = ["## Safety: transfusion and adverse events (Tables 8, 9)", ""]
    for name, analysis in section.items():
        arms = list(next(iter(analysis["rate"].values())))
        highest = max(
            (
                (event, key, p)
                for event, probs in analysis["prob_difference_exceeds"].items()
                for key, p in probs.items()
            ),
            key=lambda item: item[2],
        )
        lines.append(
            f"- **{name}**: the largest probability of a harm excess is "
            f"P({_rate_exceeds_words(highest[1], arms)}) = {_pct(highest[2])}, for {highest[0]}."
        )
    lines.append("")
    for name, analysis in section.items():
        lines += [f"### {name}", ""]
        arms = list(next(iter(analysis["rate"].values())))
        rows = [
            [event] + [_interval(values[a], percent=True) for a in arms]
            for event, values in analysis["rate"].items()
        ]
        lines += _table(["event", *arms], rows)
        rows = [
            [event, f"P({_rate_exceeds_words(key, arms)})", _pct(p)]
            for event, probs in analysis["prob_difference_exceeds"].items()
            for key, p in probs.items()
        ]
        lines += _table(["event", "quantity", "posterior probability"], rows)
    return lines


def render_summary(results: Mapping) -> str:
    """Return ``summary.md`` as text, from a results document.

    Examples
    --------
    >>> from cit_bayes.report.published_summary import render_summary
    >>> meta = {"source": "published", "synthetic": False, "seed": 1, "package_version": "0.1"}
    >>> text = render_summary({"meta": meta})
    >>> text.splitlines()[0], "All 0 fits passed." in text
    ('# Bayesian reanalysis of the published tables', True)
    """
    meta = results["meta"]
    level = _pct(meta.get("ci_level", 0.95), 0)
    lines = [
        "# Bayesian reanalysis of the published tables",
        "",
        f"Source: {meta['source']} tables of the paper (aggregates, not patient data). Synthetic: "
        f"{'yes' if meta['synthetic'] else 'no'}. Seed {meta['seed']}; cit_bayes {meta['package_version']} "
        f"(when, and how long each fit took: run.json). Intervals are equal-tailed {level} "
        "credible intervals (CrI); probabilities are posterior probabilities.",
        "",
    ]
    if meta.get("prior_sets"):
        lines += ["Prior sets (declared in `models/priors/`):", ""]
        lines += [
            f"- `{name}`: {info.get('title', '')} (sha256 {info.get('sha256', '')[:12]})"
            for name, info in meta["prior_sets"].items()
        ]
        lines.append("")
    if meta.get("assumptions"):
        lines += ["Assumptions:", ""] + [f"- {text}" for text in meta["assumptions"]] + [""]
    for key, render in (
        ("response", _response),
        ("plt", _plt),
        ("recovery", _recovery),
        ("safety", _safety),
    ):
        if results.get(key):
            lines += render(results[key], level)
    diagnostics = results.get("diagnostics", {})
    failed = [name for name, d in diagnostics.items() if not d.get("passed")]
    lines += ["## Sampling diagnostics", ""]
    lines.append(
        "Gates: R-hat <= 1.01, bulk and tail ESS >= 400, no divergent transition. "
        + (
            f"All {len(diagnostics)} fits passed."
            if not failed
            else f"FAILED: {', '.join(failed)}."
        )
    )
    lines.append("")
    rows = [
        [
            name,
            "n/a" if d["max_rhat"] is None else f"{d['max_rhat']:.4f}",
            "n/a" if d["min_ess_bulk"] is None else f"{d['min_ess_bulk']:.0f}",
            "n/a" if d["min_ess_tail"] is None else f"{d['min_ess_tail']:.0f}",
            str(d["divergences"]),
            "yes" if d["passed"] else "**no**",
        ]
        for name, d in diagnostics.items()
    ]
    lines += _table(
        ["fit", "max R-hat", "min bulk ESS", "min tail ESS", "divergences", "passed"], rows
    )
    return "\n".join(lines)


def write_summary(results: Mapping, path) -> Path:
    """Write ``summary.md`` (UTF-8) and return its path.

    Examples
    --------
    >>> import tempfile
    >>> from cit_bayes.report.published_summary import write_summary
    >>> meta = {"source": "published", "synthetic": False, "seed": 1, "package_version": "0.1"}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     print(write_summary({"meta": meta}, f"{tmp}/published/summary.md").name)
    summary.md
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_summary(results), encoding="utf-8")
    return path
