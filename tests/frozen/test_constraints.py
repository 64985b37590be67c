"""constraints.txt pins what pyproject.toml asks for, inside its bounds, and is what this environment runs."""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def pins() -> dict[str, str]:
    """Package name (normalised) -> pinned version, for the pins whose markers hold here."""
    found = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        requirement = Requirement(line)
        assert len(requirement.specifier) == 1 and next(iter(requirement.specifier)).operator == "==", line
        if requirement.marker is None or requirement.marker.evaluate(default_environment()):
            found[normalised(requirement.name)] = next(iter(requirement.specifier)).version
    return found


def normalised(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def declared() -> list[Requirement]:
    return [Requirement(r) for r in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"]]


def test_every_declared_dependency_is_pinned_within_its_bounds() -> None:
    pinned = pins()
    for requirement in declared():
        assert requirement.specifier, f"{requirement.name} has no lower bound in pyproject.toml"
        assert any(s.operator == ">=" for s in requirement.specifier), requirement
        version = pinned.get(normalised(requirement.name))
        assert version is not None, f"{requirement.name} is not in constraints.txt: run scripts/refresh_constraints.py"
        assert requirement.specifier.contains(version, prereleases=True), f"{requirement.name}=={version}"


def test_the_environment_runs_the_pinned_versions() -> None:
    """CI installs with `-c constraints.txt`; a drift here means the file and the install disagree."""
    pinned = pins()
    drift = []
    for requirement in declared():
        installed = importlib.metadata.version(requirement.name)
        if installed != pinned[normalised(requirement.name)]:
            drift.append(f"{requirement.name}: installed {installed}, pinned {pinned[normalised(requirement.name)]}")
    fix = f"{sys.executable} -m pip install -c constraints.txt -e '.[dev]'"
    assert drift == [], "\n".join([*drift, f"reinstall: {fix}"])
