"""Every notebook in notebooks/ runs from top to bottom against the test database without an error."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import SMALL_UNTIL, settings_for

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, small_db, redis_url, monkeypatch):
    settings = settings_for(small_db, redis_url)
    monkeypatch.setenv("AKIG_DATABASE_URL", small_db)
    monkeypatch.setenv("AKIG_REDIS_URL", redis_url)
    monkeypatch.setenv("AKIG_CACHE_PREFIX", settings.cache_prefix)
    monkeypatch.setenv("AKIG_NOTEBOOK_AS_OF", SMALL_UNTIL.isoformat())
    monkeypatch.setenv("PYTHONPATH", str(path.parents[1]) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("Situation au 30/06/2026" in "".join(o.get("text", "")) for o in outputs)


def test_there_is_a_notebook():
    assert [p.name for p in NOTEBOOKS] == ["01_arrears_overview.ipynb"]
