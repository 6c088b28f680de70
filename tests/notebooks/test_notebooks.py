"""Every notebook in notebooks/ runs from top to bottom against the test database without an error."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import SMALL_UNTIL, settings_for

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
# What each notebook must print when it ran through (its own figures, not only "no error").
MARKS = {"01_arrears_overview.ipynb": "Situation au 30/06/2026",
         "02_risk_and_forecast.ipynb": "Prévision au 01/06/2026 pour OWN-"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, small_db, redis_url, monkeypatch):
    settings = settings_for(small_db, redis_url)
    monkeypatch.setenv("AKIG_DATABASE_URL", small_db)
    monkeypatch.setenv("AKIG_REDIS_URL", redis_url)
    monkeypatch.setenv("AKIG_CACHE_PREFIX", settings.cache_prefix)
    monkeypatch.setenv("AKIG_NOTEBOOK_AS_OF", SMALL_UNTIL.isoformat())
    for name, value in (("ORIGINS", "2"), ("MONTHS", "12"), ("MAX_ITER", "15")):   # the risk notebook, quickly
        monkeypatch.setenv(f"AKIG_NOTEBOOK_{name}", value)
    monkeypatch.setenv("PYTHONPATH", str(path.parents[1]) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(MARKS[path.name] in "".join(o.get("text", "")) for o in outputs)


def test_every_notebook_is_checked():
    assert [p.name for p in NOTEBOOKS] == sorted(MARKS)
