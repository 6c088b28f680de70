"""environment.yml (the analysts' conda environment) and pyproject.toml's runtime dependencies cannot drift:
the same packages, by normalised name through the few conda-forge names that differ, with the same
version bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
ENVIRONMENT = yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))

# PyPI name -> conda-forge name, where they differ beyond case, "_" and "-" (extras such as
# psycopg[binary] are dropped: conda-forge's psycopg brings its own libpq).
CONDA_NAME = {
    "redis": "redis-py",
    "ortools": "ortools-python",
    "matplotlib": "matplotlib-base",    # matplotlib without a Qt backend
}
# In the environment for the analysts, not dependencies of AKIG.
ENVIRONMENT_ONLY = {"python", "pip", "jupyterlab"}
CONDA_SPEC = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(.*)$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_dependencies() -> dict[str, SpecifierSet]:
    """conda-forge name -> version bounds, from [project] dependencies."""
    found = {}
    for line in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(line)
        name = normalise(requirement.name)
        found[CONDA_NAME.get(name, name)] = requirement.specifier
    return found


def environment_dependencies() -> dict[str, SpecifierSet]:
    """name -> version bounds, from the conda list and its pip section (but `-e .`)."""
    found = {}
    for entry in ENVIRONMENT["dependencies"]:
        if isinstance(entry, dict):
            for line in entry["pip"]:
                if line.startswith("-e"):
                    continue
                requirement = Requirement(line)
                found[normalise(requirement.name)] = requirement.specifier
            continue
        name, spec = CONDA_SPEC.match(entry).groups()
        if normalise(name) in ENVIRONMENT_ONLY:
            continue
        found[normalise(name)] = SpecifierSet(spec.replace(" ", ""))
    return found


def test_every_runtime_dependency_is_in_the_environment():
    missing = sorted(set(pyproject_dependencies()) - set(environment_dependencies()))
    assert not missing, f"pyproject.toml dependencies missing from environment.yml (conda-forge names): {missing}"


def test_the_environment_holds_nothing_that_is_not_a_dependency():
    extra = sorted(set(environment_dependencies()) - set(pyproject_dependencies()))
    assert not extra, (f"environment.yml has {extra}, which pyproject.toml does not depend on: add them there, "
                       f"or to ENVIRONMENT_ONLY here if only the analysts need them")


def test_the_version_bounds_are_the_same():
    ours, theirs = pyproject_dependencies(), environment_dependencies()
    differ = {name: (str(spec), str(theirs[name])) for name, spec in ours.items()
              if name in theirs and spec != theirs[name]}
    assert not differ, f"pyproject.toml vs environment.yml bounds differ: {differ}"


def test_the_environment_is_python_3_11_from_conda_forge_and_installs_akig():
    assert ENVIRONMENT["name"] == "akig"
    assert ENVIRONMENT["channels"] == ["conda-forge"]
    conda = [e for e in ENVIRONMENT["dependencies"] if isinstance(e, str)]
    pip = next(e["pip"] for e in ENVIRONMENT["dependencies"] if isinstance(e, dict))
    assert "python=3.11" in conda and PYPROJECT["project"]["requires-python"] == ">=3.11,<3.12"
    assert {"pip", "jupyterlab"} <= {CONDA_SPEC.match(e).group(1) for e in conda}
    assert "-e ." in pip


def test_a_renamed_package_is_found_under_its_conda_forge_name():
    """psycopg[binary] and prometheus-client need no entry in the map; redis does."""
    assert normalise(Requirement("psycopg[binary]>=3.2").name) == "psycopg"
    assert normalise("prometheus_client") == normalise("prometheus-client")
    assert CONDA_NAME[normalise("redis")] == "redis-py"
