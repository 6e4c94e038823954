"""`mlmax vscode`: the project's .vscode files, idempotent, the user's entries kept."""

from __future__ import annotations

from pathlib import Path

import json5
import pytest

from mlmax.cli import main
from tests.project.test_declarations import GOOD, make_project

USER_LAUNCH = """// my own launch file
{
  "version": "0.2.0",
  "configurations": [
    /* the app */ { "name": "my app", "type": "debugpy", "request": "launch", "program": "a.py" },
  ],
}
"""
USER_SETTINGS = """{
  "editor.rulers": [88], // as the team likes it
  "python.testing.pytestArgs": ["tests", "-q"],
}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def files(root: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((root / ".vscode").glob("*.json"))}


def test_writes_the_three_files_with_the_declared_jobs_mappings(project, capsys):
    assert main(["vscode"]) == 0

    written = files(project)
    assert set(written) == {"launch.json", "tasks.json", "settings.json"}
    launch = json5.loads(written["launch.json"])
    attach = {c["name"]: c for c in launch["configurations"]}["mlmax: attach to a Local Mode job"]
    assert attach["connect"] == {"host": "127.0.0.1", "port": 5678}
    assert attach["pathMappings"] == [
        {"localRoot": "${workspaceFolder}/src/jobs", "remoteRoot": "/opt/ml/processing/input/code"},
        {"localRoot": "${workspaceFolder}/src/jobs", "remoteRoot": "/opt/ml/input/data/code"},
    ]
    tasks = {t["label"]: t for t in json5.loads(written["tasks.json"])["tasks"]}
    inspect = tasks["mlmax: inspect the container test at the cursor"]
    assert inspect["isBackground"] and "--inspectlocal" in inspect["args"]
    assert inspect["problemMatcher"]["background"]["endsPattern"] == (
        "debugpy listening on 127\\.0\\.0\\.1:\\d+"
    )
    settings = json5.loads(written["settings.json"])
    assert settings["python.testing.pytestArgs"] == ["--smlocal"]

    # Idempotent: a second run changes nothing and --check agrees.
    assert main(["vscode"]) == 0
    assert files(project) == written
    capsys.readouterr()
    assert main(["vscode", "--check"]) == 0
    assert capsys.readouterr().out.count("unchanged") == 3


def test_keeps_the_users_entries_and_comments_and_check_writes_nothing(project, capsys):
    (project / ".vscode").mkdir()
    (project / ".vscode" / "launch.json").write_text(USER_LAUNCH)
    (project / ".vscode" / "settings.json").write_text(USER_SETTINGS)

    assert main(["vscode", "--check"]) == 1
    out = capsys.readouterr().out
    assert "would update  .vscode/launch.json" in out and "would create  .vscode/tasks.json" in out
    assert '+      "name": "mlmax: attach to a Local Mode job",' in out
    assert "python.testing.pytestArgs is set outside mlmax's block" in out
    assert files(project) == {"launch.json": USER_LAUNCH, "settings.json": USER_SETTINGS}

    assert main(["vscode"]) == 0
    launch_text = files(project)["launch.json"]
    for line in USER_LAUNCH.splitlines():
        assert line in launch_text  # every line of the user's, comments included
    names = [c["name"] for c in json5.loads(launch_text)["configurations"]]
    assert names[-1] == "my app" and "mlmax: inspect the container test at the cursor" in names
    settings = json5.loads(files(project)["settings.json"])
    assert settings["python.testing.pytestArgs"] == ["tests", "-q"]  # the user's value wins
    assert settings["editor.rulers"] == [88] and settings["python.testing.pytestEnabled"]

    # A new job in another folder: only mlmax's block changes.
    (project / "other").mkdir()
    (project / "other" / "score.py").write_text("print('score')\n")
    (project / "pyproject.toml").write_text(
        GOOD + '\n[tool.mlmax.jobs.score]\nscript = "other/score.py"\nkind = "processing"\n'
    )
    assert main(["vscode"]) == 0
    updated = files(project)["launch.json"]
    assert "${workspaceFolder}/other" in updated
    assert (
        updated.startswith("// my own launch file\n") and updated.count("mlmax vscode: begin") == 1
    )


def test_an_unreadable_file_or_no_jobs_is_a_usage_error(project, capsys, monkeypatch, tmp_path):
    (project / ".vscode").mkdir()
    (project / ".vscode" / "tasks.json").write_text('{ "tasks": [ }')

    assert main(["vscode"]) == 2
    err = capsys.readouterr().err
    assert "tasks.json is not valid JSONC" in err and err.count("\n") == 1
    assert (project / ".vscode" / "tasks.json").read_text() == '{ "tasks": [ }'
    assert not (project / ".vscode" / "launch.json").exists()  # nothing half-written

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "pyproject.toml").write_text('[project]\nname = "x"\n')
    monkeypatch.chdir(empty)
    assert main(["vscode"]) == 2
    assert "no jobs are declared here" in capsys.readouterr().err
