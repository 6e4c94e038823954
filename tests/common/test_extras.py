"""A command that needs one of mlmax's extras, run without it: one sentence naming the extra.

The extra's libraries are hidden from this process (`sys.modules[name] = None`, which is how
Python marks a module as not importable), so the check runs exactly as on a Python without
them; the wheel test (tests/ownproject) sees the same sentences from a real install
without extras.
"""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from mlmax.cli import main
from mlmax.common import (
    CENSUS_JOBS,
    CENSUS_REPORT,
    EXTRAS,
    MissingExtraError,
    missing_from,
    require_extra,
)
from mlmax_census.sample_model import train_sample_model

REPO = Path(__file__).resolve().parents[2]
# Named in an extra only to lead pip's resolver (pyproject.toml says why); mlmax imports none.
RESOLVER_HINTS = {"aiobotocore"}


def _hide(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def _error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error: ")]


def _provides(distribution: str, module: str) -> bool:
    files = importlib.metadata.distribution(distribution).files or []
    path = module.replace(".", "/")
    return any(str(f) in (f"{path}/__init__.py", f"{path}.py") for f in files)


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_each_extra_lists_one_module_of_each_of_its_distributions(extra: str) -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(line).name for line in declared["optional-dependencies"][extra]]
    wanted = [name for name in wanted if name not in RESOLVER_HINTS]
    providers = {module: [d for d in wanted if _provides(d, module)] for module in EXTRAS[extra]}
    assert all(len(found) == 1 for found in providers.values()), providers
    assert sorted(d for found in providers.values() for d in found) == sorted(wanted)


def test_the_workspace_has_every_extra() -> None:
    assert {extra: missing_from(extra) for extra in EXTRAS} == {extra: [] for extra in EXTRAS}


def test_a_missing_library_is_one_sentence_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _hide(monkeypatch, "sklearn", "waitress")
    with pytest.raises(MissingExtraError) as caught:
        require_extra("census", "the thing")
    assert str(caught.value) == (
        "the thing needs sklearn, waitress (mlmax's census extra), which this Python lacks; "
        "install it with: pip install 'mlmax[census]'"
    )
    assert caught.value.is_usage_error()


def test_a_use_is_refused_only_for_what_it_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SageMaker SDK itself brings pandas, numpy and scikit-learn: a user without the
    # extra can still generate data, and nothing on the host needs waitress.
    _hide(monkeypatch, "waitress", "matplotlib")
    require_extra("census", "the jobs on the host", CENSUS_JOBS)
    with pytest.raises(MissingExtraError, match=r"^the report needs matplotlib \("):
        require_extra("census", "the report", CENSUS_REPORT)
    with pytest.raises(ValueError, match=r"not in mlmax's pipelines extra"):
        require_extra("pipelines", "a typo", ("pandas",))


@pytest.mark.parametrize(
    ("hidden", "argv", "extra"),
    [
        ("pandas", ["data", "generate", "--rows", "10", "--output", "{tmp}/d.csv"], "census"),
        ("sklearn", ["pipeline", "--runner", "host", "--output", "{tmp}/run"], "census"),
        ("matplotlib", ["pipeline", "--runner", "local", "--output", "{tmp}/run"], "census"),
        (
            "sagemaker.mlops",
            ["pipeline", "--runner", "local-pipeline", "--output", "{tmp}/run"],
            "pipelines",
        ),
        (
            "sagemaker.mlops",
            [
                "pipeline",
                "export",
                "--output",
                "{tmp}/p.json",
                "--role",
                "r",
                "--bucket",
                "b",
                "--image",
                "i",
            ],
            "pipelines",
        ),
        (
            "joblib",
            [
                "run",
                "monitoring",
                "--runner",
                "host",
                "--input",
                "data={tmp}",
                "--input",
                "baseline={tmp}",
                "--output",
                "monitoring={tmp}/m",
            ],
            "census",
        ),
    ],
    ids=["data-generate", "pipeline-host", "pipeline-local", "local-pipeline", "export", "run"],
)
def test_a_command_without_its_extra_exits_2_naming_it(
    hidden: str,
    argv: list[str],
    extra: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _hide(monkeypatch, hidden)
    assert main([part.replace("{tmp}", str(tmp_path)) for part in argv]) == 2
    [line] = _error_lines(capsys)
    assert f"needs {hidden} (mlmax's {extra} extra)" in line
    assert line.endswith(f"pip install 'mlmax[{extra}]'")
    # Refused before any work: no run directory, no output file.
    assert [p.name for p in tmp_path.iterdir()] == []


def test_the_sample_model_names_the_census_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hide(monkeypatch, "joblib")
    with pytest.raises(MissingExtraError, match=r"the sample model needs joblib"):
        train_sample_model(tmp_path)
    assert list(tmp_path.iterdir()) == []
