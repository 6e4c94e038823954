"""docs/architecture.md stays true: it names every package, and every module it names is there."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
PACKAGES = ("cli", "common", "project", "localmode", "pipeline", "runners", "cloud", "report")
# `localmode.run.lifecycle`, `pipeline.execute`, `plugin.failure_message`, `runners.make_runner`
DOTTED = re.compile(rf"`((?:{'|'.join(PACKAGES)}|pytest_plugin|plugin)(?:\.\w+)+)`")


def _packages(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/__init__.py"))


def test_every_package_has_its_paragraph_and_its_place_in_the_picture() -> None:
    diagram = PAGE.split("```mermaid", 1)[1].split("```", 1)[0]
    for root in ("mlmax", "mlmax_census"):  # the tool and the census sample
        for package in _packages(REPO / root):
            name = f"{root}/{package.name}"
            assert f"**`{name}`**" in PAGE, f"no paragraph on {name}"
            assert f'["{name}' in diagram, f"{name} is not in the picture"
    for package in _packages(REPO / "mlmax" / "localmode"):
        assert f"**`{package.name}`**" in PAGE, f"no paragraph on localmode/{package.name}"
        assert f'{package.name}["' in diagram, f"localmode/{package.name} is not in the picture"


def _exists(dotted: str) -> bool:
    parts = dotted.split(".")
    if parts[0] == "plugin":
        parts = ["pytest_plugin", *parts]
    base = REPO / "mlmax"
    for index in range(len(parts), 0, -1):
        path = base.joinpath(*parts[:index])
        module = path.with_suffix(".py") if not path.is_dir() else path / "__init__.py"
        if module.is_file():
            rest = parts[index:]
            if not rest:
                return True
            text = module.read_text(encoding="utf-8")
            return (
                re.search(rf"^(def|class) {rest[0]}\b|^from .* import .*\b{rest[0]}\b", text, re.M)
                is not None
            )
    return False


def test_every_module_the_tour_names_exists() -> None:
    files = ("py", "json", "md", "html")  # `pipeline.json`, `plugin.py`: files, not modules
    named = {name for name in DOTTED.findall(PAGE) if name.rsplit(".", 1)[1] not in files}
    assert len(named) > 20
    missing = sorted(name for name in named if not _exists(name))
    assert not missing, missing
