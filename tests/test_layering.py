"""The import graph reads top-down: akig_cli → dashboards.server → the apps and their parts → akig_data.

Read from the source (every `import`, at module level or inside a function), so a forbidden import
fails here with the importing module, the line and the imported module named, before anyone runs it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("akig_data", "dashboards", "akig_cli")
UI_LIBRARIES = ("panel", "bokeh", "holoviews", "geoviews", "param")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        path = self.importer.replace(".", "/")
        return f"{path}.py:{self.line} imports {self.imported}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    """Each import of `name`, resolved to the most precise module it names (`from a import b` is an
    import of `a.b` when that is a module, else of `a`); external modules are kept by their top name."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(name, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append(Import(name, full if full in known else base, node.lineno))
    return found


def graph() -> list[Import]:
    mods = modules()
    known = set(mods)
    return [imp for name, path in mods.items() for imp in imports_of(name, path, known)]


def within(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_source_tree_is_found():
    mods = modules()
    assert {"akig_data.reads.registry", "dashboards.server.app", "akig_cli.main"} <= set(mods)


def test_the_data_layer_imports_no_app_no_command_and_no_ui_library():
    bad = [str(i) for i in graph() if within(i.importer, "akig_data")
           and within(i.imported, "dashboards", "akig_cli", *UI_LIBRARIES)]
    assert not bad, "akig_data must stay usable without Panel or a server:\n" + "\n".join(bad)


def test_the_apps_never_import_the_server():
    bad = [str(i) for i in graph() if within(i.importer, "dashboards") and not within(i.importer, "dashboards.server")
           and within(i.imported, "dashboards.server", "akig_cli")]
    assert not bad, "apps, parts and widgets must not know the server (it imports them):\n" + "\n".join(bad)


def test_the_server_never_imports_the_command_line():
    bad = [str(i) for i in graph() if within(i.importer, "dashboards") and within(i.imported, "akig_cli")]
    assert not bad, "\n".join(bad)


def cycles(edges: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each a circle of imports."""
    succ: dict[str, set[str]] = {}
    for e in edges:
        succ.setdefault(e.importer, set()).add(e.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(succ.get(v, ())):
            if w not in succ:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(succ):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_in_a_circle():
    edges = [e for e in graph() if within(e.imported, *PACKAGES)]
    circles = cycles(edges)
    detail = []
    for circle in circles:
        members = set(circle)
        detail += [str(e) for e in edges if e.importer in members and e.imported in members]
    assert not circles, "import circles:\n" + "\n".join(detail)


def test_the_circle_finder_finds_a_circle():
    """The check above can fail: two modules importing each other are reported with both lines."""
    edges = [Import("a.x", "a.y", 3), Import("a.y", "a.x", 7), Import("a.y", "a.z", 8)]
    assert cycles(edges) == [["a.x", "a.y"]]
    assert cycles(edges[1:]) == []


@pytest.mark.parametrize("source, expected", [
    ("from dashboards.server import auth\n", "dashboards.server.auth"),
    ("from dashboards.server.app import APPS\n", "dashboards.server.app"),
    ("def f():\n    import dashboards.server.api\n", "dashboards.server.api"),
])
def test_a_forbidden_import_is_named(tmp_path, source, expected):
    """An app importing the server, at module level or inside a function, is found with its line."""
    path = tmp_path / "bad_app.py"
    path.write_text(source)
    found = imports_of("dashboards.apps.bad_app", path, set(modules()))
    assert [i.imported for i in found] == [expected]
    assert within(found[0].imported, "dashboards.server")
