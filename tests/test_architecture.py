"""The package's shape, as docs/architecture.md states it: checked, so that it stays true.

References: issue 14's limits (no module over 500 lines, no function over 100 lines, no import
cycle, one TOML loader). Lines are physical lines of the file (``wc -l``); a function's lines run
from its ``def`` to its last line (``ast``'s ``lineno``/``end_lineno``), less its docstring: the
docstring is documentation, whose ``Examples`` section the same issue asks every public function
for, and counting it would trade examples for lines.
Imports are the module-level ones (inside ``if`` blocks too, such as ``TYPE_CHECKING``);
imports inside functions are deferred on purpose and do not make a cycle at import time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cit_bayes

PACKAGE = Path(cit_bayes.__file__).parent
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 100


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("cit_bayes", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def _module_level_imports(name: str) -> set[str]:
    """The modules of ours that ``name`` imports when it is imported."""
    is_package = MODULES[name].name == "__init__.py"
    found: set[str] = set()
    statements = list(TREES[name].body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.If | ast.Try):
            statements.extend(node.body + node.orelse)
            statements.extend(h for handler in getattr(node, "handlers", []) for h in handler.body)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                found.add(submodule if submodule in MODULES else origin)
    return {module for module in found if module in MODULES}


def test_no_module_over_the_line_limit():
    lengths = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()
    }
    assert lengths["cit_bayes.plan"] > 0
    over = {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES}
    assert over == {}


def _docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        if isinstance(first.value.value, str):
            return first.end_lineno - first.lineno + 1
    return 0


def test_docstring_lines_are_counted_apart():
    tree = ast.parse(
        'def f():\n    """One.\n\n    Two.\n    """\n    return 1\n\ndef g():\n    return 2\n'
    )
    assert [_docstring_lines(node) for node in tree.body] == [4, 0]


def test_no_function_over_the_line_limit():
    over = {}
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1 - _docstring_lines(node)
                if length > MAX_FUNCTION_LINES:
                    over[f"{name}.{node.name}"] = length
    assert over == {}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    graph = {name: _module_level_imports(name) - {name} for name in MODULES}
    assert "cit_bayes.config" in graph["cit_bayes.plan"]
    assert _cycles(graph) == []


def _imported_anywhere(name: str) -> set[str]:
    """Every module ``name`` imports anywhere in its code (ours or not), by top-level name."""
    found = set()
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("parser", ["tomllib", "tomli", "toml"])
def test_one_toml_loader(parser):
    readers = sorted(name for name in MODULES if parser in _imported_anywhere(name))
    assert readers == (["cit_bayes.config"] if parser == "tomllib" else [])


def _exported_without_examples(name: str) -> list[str]:
    """The functions and classes in ``name``'s ``__all__`` defined there without an example
    (named errors and warnings are documented by their names in ``exceptions``)."""
    exported: set[str] = set()
    for node in TREES[name].body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            exported = set(ast.literal_eval(node.value))
    missing = []
    for node in TREES[name].body:
        if not isinstance(node, ast.FunctionDef | ast.ClassDef) or node.name not in exported:
            continue
        if name == "cit_bayes.exceptions":
            continue
        if ">>>" not in (ast.get_docstring(node) or ""):
            missing.append(node.name)
    return missing


def test_every_exported_function_and_class_has_an_example():
    # The examples run as doctests in `make test` (pyproject's --doctest-modules).
    missing = {name: found for name in MODULES if (found := _exported_without_examples(name))}
    assert missing == {}
