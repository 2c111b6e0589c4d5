"""The shape of the code (CONVENTIONS.md): no import circle between the gateway's modules,
counting every import (type-only and function-level ones too), and no layer reaching through
the Gateway for another's parts."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gateway"


def module_name(file: Path) -> str:
    parts = file.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(file: Path) -> set[str]:
    """Every gateway module ``file`` imports, wherever the import statement is."""
    name = module_name(file)
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from . import views`` imports the submodule; ``from .x import y``, module x.
            candidates = [
                f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target
                for alias in node.names
            ]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found |= {c for c in candidates if c in MODULES}
    return found - {name}


MODULES = {module_name(f) for f in PACKAGE.rglob("*.py")}


def graph() -> dict[str, set[str]]:
    return {module_name(f): imports_of(f) for f in PACKAGE.rglob("*.py")}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_circle_not_even_type_only() -> None:
    edges = graph()
    # The package's __init__ only names its public API (imported lazily, by string).
    edges.pop("gateway", None)
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


def test_only_the_composition_root_and_its_entry_points_import_the_gateway() -> None:
    edges = graph()
    edges.pop("gateway", None)  # the public API's lazy re-export
    users = sorted(m for m, targets in edges.items() if "gateway.app" in targets)
    assert users == ["gateway.check", "gateway.server"]
