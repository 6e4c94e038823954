"""requirements.lock pins exactly what pyproject.toml asks for (scripts/setup.sh installs it).

A dependency added to pyproject.toml without regenerating the lock would be missing from a
fresh clone; a lock that disagrees with mlmax/job_image/requirements.txt would give the host and the
job container different ML stacks.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match[1])] = match[2]
    return found


def test_every_project_requirement_is_pinned_within_its_range() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    # The lock is compiled with the dev extra, which names mlmax's other extras (mlmax[...]):
    # every extra's requirements are in it.
    wanted = [
        *project["dependencies"],
        *(line for extra in project["optional-dependencies"].values() for line in extra),
    ]
    locked = pins(REPO / "requirements.lock")
    problems = []
    for line in wanted:
        requirement = Requirement(line)
        if requirement.name == project["name"]:
            assert requirement.extras <= set(project["optional-dependencies"]), line
            continue
        version = locked.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not in requirements.lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} is outside {requirement.specifier}")
    assert not problems, "regenerate requirements.lock (README): " + "; ".join(problems)


def test_job_image_pins_agree_with_the_lock() -> None:
    locked = pins(REPO / "requirements.lock")
    image = pins(REPO / "mlmax" / "job_image" / "requirements.txt")
    differ = {name: (version, locked.get(name)) for name, version in image.items()}
    differ = {name: pair for name, pair in differ.items() if pair[0] != pair[1]}
    assert not differ, f"image pin vs lock: {differ}; regenerate requirements.lock (README)"
