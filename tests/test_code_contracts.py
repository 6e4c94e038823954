"""The code's own contracts, checked by the tools that own them, with the suite's interpreter.

- the import layers and the absence of cycles: import-linter, contracts in pyproject.toml
  (`[tool.importlinter]`);
- the types of mlmax/ and mlmax_census/: mypy, config in pyproject.toml (`[tool.mypy]`);
- the lint rules and the formatting of the whole checkout: ruff (`[tool.ruff]`);
- one rule no tool checks: every listing of Docker containers tolerates removals (below).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# `lint-imports`, run by this interpreter rather than whichever script is first on PATH.
LINT_IMPORTS = "from importlinter.cli import lint_imports_command as main; main()"


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *command], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_import_contracts_hold():
    # --no-cache: the check leaves no cache directory in the checkout.
    result = _run("-c", LINT_IMPORTS, "--no-cache")
    broken = result.stdout[result.stdout.find("Broken contracts") :]
    assert result.returncode == 0, f"lint-imports failed:\n{broken or result.stdout}{result.stderr}"


@pytest.mark.parametrize("container", ["mlmax", "mlmax.localmode", "mlmax_census"])
def test_every_module_of_a_layered_package_has_a_layer(container):
    # A layer contract checks only the modules it names: a new module left out would be free
    # to import anything.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (layers,) = [
        c["layers"]
        for c in config["tool"]["importlinter"]["contracts"]
        if c.get("containers") == [container]
    ]
    named = {name for layer in layers for name in re.split(r"[:|]", layer.replace(" ", ""))}
    package = ROOT.joinpath(*container.split("."))
    modules = {p.stem for p in package.glob("*.py") if p.name != "__init__.py"}
    modules |= {p.parent.name for p in package.glob("*/__init__.py")}
    assert not modules - named, f"modules of {container} in no layer: {modules - named}"


def test_types_check(tmp_path: Path):
    # The config is [tool.mypy]; the cache goes to the test's temp dir, never the checkout.
    result = _run("-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache"))
    assert result.returncode == 0, f"mypy found type errors:\n{result.stdout}{result.stderr}"


def test_lint_and_format_are_clean():
    # --no-cache: ruff is fast enough cold, and the check leaves no .ruff_cache behind.
    lint = _run("-m", "ruff", "check", "--no-cache", ".")
    assert lint.returncode == 0, f"ruff check:\n{lint.stdout}{lint.stderr}"
    formatting = _run("-m", "ruff", "format", "--check", "--no-cache", ".")
    assert formatting.returncode == 0, (
        f"ruff format --check:\n{formatting.stdout}{formatting.stderr}"
    )


def _tolerates_removals(call: ast.Call) -> bool:
    given = {k.arg: k.value for k in call.keywords}
    return any(
        isinstance(given.get(name), ast.Constant) and given[name].value is True
        for name in ("ignore_removed", "sparse")
    )


def test_every_container_listing_tolerates_removals():
    # docker's `containers.list()` inspects each listed container; one removed in between (by
    # another xdist worker, a sweep, a finished run) raises NotFound half-way through the
    # list. That failed CI once (test_image_build, 404 on /containers/<id>/json). Sparse
    # listings do not inspect; full ones must pass ignore_removed=True.
    offenders = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        if path.parts[len(ROOT.parts)] not in {"mlmax", "tests", "benchmarks", "examples"}:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "list"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "containers"
                and not _tolerates_removals(node)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == [], f"containers.list() without ignore_removed=True: {offenders}"


def test_every_name_of_every_face_resolves():
    # A face (`__init__.pyi`, read by lazy_loader) names each module lazily: a name whose
    # module was renamed would fail only when first used. Resolve them all in a fresh process.
    faces = sorted(
        p.parent for root in ("mlmax", "mlmax_census") for p in (ROOT / root).rglob("__init__.pyi")
    )
    assert faces, "no package face found"
    packages = [".".join(f.relative_to(ROOT).parts) for f in faces]
    script = (
        "import importlib, sys\n"
        f"for name in {packages!r}:\n"
        "    package = importlib.import_module(name)\n"
        "    for attr in package.__all__:\n"
        "        getattr(package, attr)\n"
        "print(len(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr


def test_importing_mlmax_changes_nothing_in_the_process():
    # No import-time side effects: importing every package leaves the import machinery and
    # the collector as a plain interpreter has them.
    script = (
        "import gc, logging, sys\n"
        "stdout, root_level = sys.stdout, logging.getLogger().level\n"
        "import pkgutil, importlib, mlmax\n"
        "for m in pkgutil.walk_packages(mlmax.__path__, 'mlmax.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "ours = [f for f in sys.meta_path if type(f).__module__.startswith('mlmax')]\n"
        "assert not ours, ours\n"
        "assert gc.get_freeze_count() == 0, gc.get_freeze_count()\n"
        "assert sys.stdout is stdout and logging.getLogger().level == root_level\n"
        # The SDK is neither imported nor changed: its hooks come with install_sdk_hooks().
        "assert not [m for m in sys.modules if m.split('.')[0] == 'sagemaker']\n"
        "import pydantic\n"
        "assert 'defer_build' not in pydantic.BaseModel.model_config\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
