"""The installed package carries its migrations: sql/, at the top of the repository, is the package
akig_data.sql (pyproject.toml), so a wheel holds every NNN_name.sql under akig_data/sql/ and
akig_data.migrations finds them in a wheel's install as in the editable install of `make install`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from akig_data import migrations

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("akig_data", "akig_cli", "dashboards")
SOURCES = ("pyproject.toml", "README.md", *PACKAGES, "sql")   # what the Dockerfile copies before `pip install .`


def _migration_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((REPO / "sql").glob("[0-9][0-9][0-9]_*.sql"))}


def _clean_env() -> dict[str, str]:
    """The environment without coverage's hooks: these subprocesses run no code of the repository's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources (the repository stays free of build/ folders), with the
    build backend of this environment: no build isolation, nothing downloaded."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=240, env=_clean_env())
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    (built,) = out.glob("akig-*.whl")
    return built


def test_the_wheel_carries_every_migration_unchanged(wheel):
    files = _migration_files()
    assert len(files) >= 21
    with zipfile.ZipFile(wheel) as archive:
        packed = {name.removeprefix("akig_data/sql/"): archive.read(name) for name in archive.namelist()
                  if name.startswith("akig_data/sql/") and name.endswith(".sql")}
        assert "akig_data/sql/__init__.py" in archive.namelist()
        assert not [n for n in archive.namelist() if n.startswith("sql/")]   # no top-level package "sql"
    assert sorted(packed) == sorted(files)
    # Byte for byte: the database records each file's checksum and refuses one that changed.
    assert [name for name in files if packed[name] != files[name]] == []


def test_the_wheel_carries_every_module(wheel):
    """pyproject.toml lists the packages (a search cannot find akig_data.sql): a new subpackage left out of
    the list would be missing from the image."""
    modules = sorted(str(p.relative_to(REPO)) for package in PACKAGES for p in (REPO / package).rglob("*.py")
                     if "__pycache__" not in p.parts)
    with zipfile.ZipFile(wheel) as archive:
        packed = set(archive.namelist())
    assert [m for m in modules if m not in packed] == []


def test_the_wheel_carries_the_agent_app(wheel):
    """dashboards/agent_app/ is not a Python package: its files go in as package data (pyproject.toml)."""
    files = sorted(str(p.relative_to(REPO)) for p in (REPO / "dashboards" / "agent_app").iterdir() if p.is_file())
    with zipfile.ZipFile(wheel) as archive:
        packed = set(archive.namelist())
    assert "dashboards/agent_app/index.html" in files and [f for f in files if f not in packed] == []


def test_an_install_of_the_wheel_finds_its_migrations(wheel, tmp_path):
    """The wheel unpacked as site-packages would hold it, imported ahead of the editable install."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    probe = ("import json, akig_data, akig_data.migrations as m; "
             "print(json.dumps([akig_data.__file__, str(m.SQL_DIR), [x.name for x in m.discover()]]))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, env={**_clean_env(), "PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr[-4000:]
    package_file, sql_dir, names = json.loads(result.stdout)
    assert Path(package_file).is_relative_to(site)
    assert Path(sql_dir) == site / "akig_data" / "sql"
    assert names == sorted(_migration_files())


def test_the_editable_install_reads_the_repositorys_sql_folder():
    """`make install` (pip install -e): akig_data.sql is the repository's sql/, so a new file is seen at once."""
    assert Path(str(resources.files("akig_data.sql"))).resolve() == (REPO / "sql").resolve()
    assert migrations.SQL_DIR.resolve() == (REPO / "sql").resolve()
    assert [m.name for m in migrations.discover()] == sorted(_migration_files())
