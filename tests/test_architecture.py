"""The house's layering, read from the source: no import circles, imports only point down.

Every module of ``graph``, ``influence``, ``referral`` and ``api`` is parsed with
:mod:`ast`; every import counts, including those inside functions and under
``TYPE_CHECKING``. The floors (``docs/architecture.md``)::

    api.cli, api.http  ->  api.services  ->  influence | referral  ->  graph

A module may import its own floor and the floors below. ``influence`` and
``referral`` never import each other, ``api.http`` and ``api.cli`` never import each
other, except the one documented crossing: ``koc serve`` (``api.cli.serve``) starts
the server through ``api.http.server``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("graph", "influence", "referral", "api")

#: floor of each package prefix (longest prefix wins); higher floors import lower ones
FLOORS: dict[str, int] = {
    "graph": 0,
    "influence": 1,
    "referral": 1,
    "api.services": 2,
    "api.http": 3,
    "api.cli": 3,
    "api": 3,
}

#: the documented crossings between rooms of one floor: (importer, imported)
ALLOWED_CROSSINGS = {("api.cli.serve", "api.http.server")}


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the four packages."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module ``name`` refers to (the longest existing prefix), or None."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imported_modules(
    module: str, path: Path, modules: dict[str, Path]
) -> Iterator[tuple[str, int]]:
    """(project module, line) of each import in ``path``, wherever it stands in the file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name, modules)
                if target is not None:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, up level - 1
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            for alias in node.names:
                # ``from a.b import c`` imports module a.b.c when it exists, else a.b
                target = _resolve(f"{stem}.{alias.name}", modules)
                if target is not None:
                    yield target, node.lineno


def import_graph(modules: dict[str, Path]) -> dict[str, dict[str, int]]:
    """module -> {imported project module: first line}, self-imports left out."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in imported_modules(module, path, modules):
            if target != module:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        # iterative depth-first search: (node, iterator over its successors)
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def room(module: str) -> str:
    """The package prefix of :data:`FLOORS` a module belongs to (longest match)."""
    best = ""
    for prefix in FLOORS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    return best


def layering_violations(graph: dict[str, dict[str, int]], modules: dict[str, Path]) -> list[str]:
    """One line per import that points up a floor or across to a sibling room."""
    out = []
    for module, edges in sorted(graph.items()):
        src = room(module)
        for target, line in sorted(edges.items()):
            dst = room(target)
            if src == dst or (module, target) in ALLOWED_CROSSINGS:
                continue
            upward = FLOORS[dst] > FLOORS[src]
            sideways = FLOORS[dst] == FLOORS[src]
            if upward or sideways:
                where = modules[module].relative_to(ROOT)
                kind = "up a floor" if upward else "sideways"
                out.append(f"{where}:{line}: {module} imports {target} ({kind}: {src} -> {dst})")
    return out


@pytest.fixture(scope="module")
def modules() -> dict[str, Path]:
    return module_files()


@pytest.fixture(scope="module")
def graph(modules: dict[str, Path]) -> dict[str, dict[str, int]]:
    return import_graph(modules)


def test_architecture_no_import_cycles(graph):
    assert find_cycles(graph) == []


def test_architecture_imports_only_point_down(graph, modules):
    assert layering_violations(graph, modules) == []


def test_architecture_services_import_no_interface(graph):
    bad = [
        (m, t)
        for m, edges in graph.items()
        if room(m) == "api.services"
        for t in edges
        if room(t) in ("api.http", "api.cli")
    ]
    assert bad == []


def test_architecture_cli_reaches_http_only_through_serve(graph):
    crossings = {
        (m, t)
        for m, edges in graph.items()
        if room(m) == "api.cli"
        for t in edges
        if room(t) == "api.http"
    }
    assert crossings == ALLOWED_CROSSINGS  # the serve hook exists and is the only one


def test_architecture_parser_sees_imports_inside_functions(modules):
    # api.http.server imports the app inside serve(): the walk must see it
    targets = {
        t for t, _ in imported_modules("api.http.server", modules["api.http.server"], modules)
    }
    assert "api.http.app" in targets


def test_find_cycles_hand_examples():
    assert find_cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [
        ["a", "b", "c"]
    ]
    assert find_cycles({"a": {"b": 1}, "b": {}}) == []


def test_layering_violations_reports_upward_sideways_and_allows_downward(modules):
    fake = {
        "graph.snapshot": {"influence.pagerank": 3},  # up
        "influence.pagerank": {"referral.ledger": 5, "graph.snapshot": 1},  # sideways, down
        "api.services.ranking": {"api.http.app": 7},  # services -> interface: up
        "api.http.app": {"api.cli.top": 9},  # interface -> interface: sideways
        "api.cli.serve": {"api.http.server": 11},  # the documented crossing
    }
    got = layering_violations(fake, modules)
    assert [line.split(": ", 1)[1].split(" (")[0] for line in got] == [
        "api.http.app imports api.cli.top",
        "api.services.ranking imports api.http.app",
        "graph.snapshot imports influence.pagerank",
        "influence.pagerank imports referral.ledger",
    ]
