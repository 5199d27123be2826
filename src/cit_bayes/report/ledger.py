"""Every number a report prints, traced to the results document it came from.

A report never computes: it looks each number up in a results document (``results.json`` of the
run, or the published reanalysis's) by its JSON pointer (RFC 6901), formats it with a named
style, and records the triple (document, pointer, text) in a :class:`Ledger`. The HTML report
wraps each number in ``<span data-doc=... data-key=...>`` and the ledger is written beside the
reports as ``tables/report_numbers.csv``, so that a test — or a reviewer — can check that every
printed number equals the value in the JSON file on disk.
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Cell", "Ledger", "Number", "STYLES", "format_value", "pointer", "resolve"]


def _percent(digits: int):
    def fmt(value: float) -> str:
        return f"{100 * value:.{digits}f}%"

    return fmt


def _probability(value: float) -> str:
    if value > 0.999:
        return "> 0.999"
    if value < 0.001:
        return "< 0.001"
    return f"{value:.3f}"


def _fixed(digits: int):
    def fmt(value: float) -> str:
        return f"{value:.{digits}f}"

    return fmt


def _signed_points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _percentage_points(value: float) -> str:
    return f"{100 * value:.0f}"


#: Named number styles. A style is a pure function of the value, so a printed number can be
#: re-derived from the JSON document alone.
STYLES = {
    "pct1": _percent(1),
    "pct0": _percent(0),
    "points": _signed_points,
    "pp0": _percentage_points,
    "prob": _probability,
    "f0": _fixed(0),
    "f1": _fixed(1),
    "f2": _fixed(2),
    "f3": _fixed(3),
    "int": lambda value: f"{int(round(value))}",
    # four decimals: the gate is 1.01, and 1.0104 (a failure) must not print as 1.010
    "rhat": _fixed(4),
}


def format_value(value, style: str) -> str:
    """Format ``value`` with the named ``style`` (``"—"`` for a missing value).

    Examples
    --------
    >>> from cit_bayes.report.ledger import format_value
    >>> format_value(0.1234, "pct1"), format_value(-0.004, "f1"), format_value(None, "f2")
    ('12.3%', '0.0', '—')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    try:
        formatter = STYLES[style]
    except KeyError as error:
        raise KeyError(f"unknown number style {style!r}; known: {sorted(STYLES)}") from error
    text = formatter(float(value))
    # a value that rounds to zero prints without a sign: -0.004 reads "0.0", not "-0.0"
    if text[:1] in "+-" and not any(ch in "123456789" for ch in text):
        text = text[1:]
    return text


def pointer(*parts) -> str:
    """JSON pointer (RFC 6901) of a path of keys: ``pointer("plt", "mean", "day7")``.

    Examples
    --------
    >>> from cit_bayes.report.ledger import pointer
    >>> pointer("recovery", "adjusted", "hazard_ratio", "combination/rhTPO")
    '/recovery/adjusted/hazard_ratio/combination~1rhTPO'
    """
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "/" + "/".join(escaped)


def resolve(document: Mapping, json_pointer: str):
    """Return the value at ``json_pointer`` in ``document``; ``KeyError`` naming the path if absent.

    Examples
    --------
    >>> from cit_bayes.report.ledger import resolve
    >>> resolve({"plt": {"mean": [110, 150]}}, "/plt/mean/1")
    150
    """
    if json_pointer in ("", "/"):
        return document
    node = document
    for raw in json_pointer.lstrip("/").split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(key)]
        elif isinstance(node, Mapping) and key in node:
            node = node[key]
        else:
            raise KeyError(f"no {json_pointer!r} in the results document (missing {key!r})")
    return node


@dataclass(frozen=True)
class Number:
    """One printed number: where it came from and how it reads.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Number
    >>> number = Number("results", "/meta/seed", "int", "42")
    >>> str(number), number.html()
    ('42', '<span class="num" data-doc="results" data-key="/meta/seed" data-style="int">42</span>')
    """

    document: str
    key: str
    style: str
    text: str

    def html(self) -> str:
        """The number wrapped in a span that names its source."""
        return (
            f'<span class="num" data-doc="{html.escape(self.document)}" '
            f'data-key="{html.escape(self.key)}" data-style="{self.style}">'
            f"{html.escape(self.text)}</span>"
        )

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Cell:
    """One printed cell of a tidy table written beside the report (``tables/<name>.csv``).

    For descriptive tables that are not part of a results document (the weighted Table 1): the
    text is the cell as written in the CSV, and the HTML span names the file, the data row
    (0-based, header excluded) and the column, so the cell can be checked against the file.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Cell
    >>> cell = Cell("tables/table_one.csv", 0, "A: weighted", "12.5")
    >>> str(cell), cell.row, cell.column
    ('12.5', 0, 'A: weighted')
    """

    table: str
    row: int
    column: str
    text: str

    def html(self) -> str:
        """The cell wrapped in a span that names its file, row and column."""
        return (
            f'<span class="cell" data-table="{html.escape(self.table)}" '
            f'data-row="{self.row}" data-column="{html.escape(self.column)}">'
            f"{html.escape(self.text)}</span>"
        )

    def __str__(self) -> str:
        return self.text


class Ledger:
    """Look numbers up in named results documents and remember every one printed.

    Parameters
    ----------
    documents : mapping of str to mapping
        The results documents by name, as written to disk (for example ``{"results": ...,
        "published": ...}``); the names are the files' stems relative to the report folder.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> ledger = Ledger({"results": {"response": {"rate": 0.4567}}})
    >>> str(ledger.number("results", "/response/rate", "pct1")), ledger.has("results", "/plt")
    ('45.7%', False)
    >>> [(entry.key, entry.text) for entry in ledger.entries]
    [('/response/rate', '45.7%')]
    """

    def __init__(self, documents: Mapping[str, Mapping]):
        self.documents = dict(documents)
        self.entries: list[Number] = []

    def has(self, document: str, key: str) -> bool:
        """Whether ``key`` exists in ``document``."""
        try:
            resolve(self.documents[document], key)
        except (KeyError, IndexError, ValueError):
            return False
        return True

    def value(self, document: str, key: str):
        """The raw value at ``key`` (not recorded: use :meth:`number` for printed numbers)."""
        return resolve(self.documents[document], key)

    def number(self, document: str, key: str, style: str) -> Number:
        """Look up, format and record one number."""
        value = resolve(self.documents[document], key)
        entry = Number(document, key, style, format_value(value, style))
        self.entries.append(entry)
        return entry

    def write_csv(self, path: str | Path, *, synthetic: bool = False) -> Path:
        """Write the ledger (document, key, style, text) as CSV; for a synthetic cohort's
        report with a last column ``synthetic`` = 1 on every row."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = [1] if synthetic else []
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(
                ["document", "key", "style", "text"] + (["synthetic"] if synthetic else [])
            )
            for entry in self.entries:
                writer.writerow([entry.document, entry.key, entry.style, entry.text, *extra])
        return path
