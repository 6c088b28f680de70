"""The scripts outside the packages (benchmarks, the docs' generators and screenshot script, the
notebooks' code cells) import names that exist: a module moved or a name renamed fails here, not the
next time someone runs a benchmark."""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OURS = ("akig_data", "dashboards", "akig_cli", "bench", "tests")


def sources() -> dict[str, str]:
    found = {str(p.relative_to(REPO)): p.read_text() for folder in ("bench", "docs")
             for p in sorted((REPO / folder).rglob("*.py"))}
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        found[str(notebook.relative_to(REPO))] = "\n".join(
            line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))
    return found


def our_imports(source: str) -> list[tuple[int, str, str | None]]:
    """(line, module, name or None) for each import of one of our packages."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] in OURS]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] in OURS:
            found += [(node.lineno, node.module, a.name) for a in node.names]
    return found


@pytest.mark.parametrize("path", sorted(sources()))
def test_every_import_of_a_script_resolves(path):
    missing = []
    for line, module, name in our_imports(sources()[path]):
        try:
            imported = importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"{path}:{line}: {module} ({exc})")
            continue
        if name is not None and not hasattr(imported, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{path}:{line}: {module} has no {name}")
    assert not missing, "\n".join(missing)


def test_a_moved_name_is_reported(tmp_path):
    imports = our_imports("from akig_data.reads import NO_SUCH_NAME\nimport akig_data.no_such_module\n")
    assert imports == [(1, "akig_data.reads", "NO_SUCH_NAME"), (2, "akig_data.no_such_module", None)]
    module = importlib.import_module("akig_data.reads")
    assert not hasattr(module, "NO_SUCH_NAME")
