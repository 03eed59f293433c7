"""The project's import structure: data flows one way, so imports do too.

Every import of a project module counts, the ones inside functions included (they hide a link, they do
not remove it). No circle among the project's modules, except the ORM model registry (`bot.db` and
`bot.models` name each other by design); no lower layer imports an upper one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "flows", "nlu", "connectors")
# layer -> what it must never import (a name matches the package and everything under it)
FORBIDDEN = {
    "connectors": ("flows", "bot.pipeline", "bot.staff"),
    "flows": ("bot.pipeline", "bot.web", "bot.staff", "connectors"),
    "nlu": ("flows", "bot.pipeline", "bot.web", "bot.staff", "connectors"),
}
Graph = dict[str, set[str]]


def under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_in(source: str, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules a module's source imports anywhere (module level and inside functions)."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # "from bot import handoff" imports the module bot.handoff; "from bot.x import y" imports bot.x
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not under(name, target):  # its own package's __init__: no link
                found.add(target)
    return found


def import_graph() -> Graph:
    modules = project_modules()
    known = set(modules)
    return {name: imports_in(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", known)
            for name, path in modules.items()}


def circles(graph: Graph) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan), but the model registry."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [c for c in found if not all(m == "bot.db" or under(m, "bot.models") for m in c)]


def breaches(graph: Graph) -> list[tuple[str, str]]:
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  for layer, banned in FORBIDDEN.items()
                  if under(a, layer) and any(under(b, p) for p in banned))


def test_no_import_circle_among_the_project_modules() -> None:
    assert circles(import_graph()) == []


def test_no_lower_layer_imports_an_upper_one() -> None:
    assert breaches(import_graph()) == []


KNOWN = {"flows", "flows.engine", "flows.steps", "flows.dialogue", "bot", "bot.handoff", "bot.staff",
         "bot.staff.views", "bot.db", "bot.models", "bot.models.conversation", "connectors",
         "connectors.zalo"}


@pytest.mark.parametrize(("source", "expected"), [
    ("def f():\n    from flows.dialogue import handle_turn\n", {"flows.dialogue"}),  # hidden in a function
    ("import bot.staff.views as v\n", {"bot.staff.views"}),
    ("from bot import handoff\n", {"bot.handoff"}),
    ("from . import engine\n", {"flows.engine"}),
    ("from .steps import Say\n", {"flows.steps"}),
    ("import json\nfrom sqlalchemy import select\n", set()),
])
def test_every_kind_of_import_is_counted(source: str, expected: set[str]) -> None:
    assert imports_in(source, "flows.example", False, KNOWN | {"flows.example"}) == expected


def test_a_circle_or_a_breach_is_caught() -> None:
    graph: Graph = {"flows.engine": {"flows.dialogue"}, "flows.dialogue": {"flows.engine", "bot.staff.views"},
                    "bot.db": {"bot.models"}, "bot.models": {"bot.models.conversation"},
                    "bot.models.conversation": {"bot.db"}, "connectors.zalo": {"bot.db"}}
    assert circles(graph) == [{"flows.engine", "flows.dialogue"}]  # the model registry is allowed
    assert breaches(graph) == [("flows.dialogue", "bot.staff.views")]
