"""The `mlmax` command as a package: every command registered by its module, `pipeline export`
a real subcommand, and the one place an MlmaxError becomes an `error:` line and exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlmax.cli import build_parser, main
from mlmax.common.errors import MlmaxError, UsageError

# One command line per handler, parsed without touching anything.
EVERY_COMMAND = [
    ["pipeline"],
    ["pipeline", "export", "--output", "pipeline.json"],
    ["run", "train"],
    ["debug", "train"],
    ["serve"],
    ["image", "build"],
    ["image", "ls"],
    ["image", "prune"],
    ["data", "generate", "--output", "data.csv"],
    ["doctor"],
    ["vscode"],
    ["clean"],
]


def test_help_lists_pipeline_export(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:2] == ["pipeline", "export"] for line in lines), lines
    assert main(["pipeline", "--help"]) == 0
    out = capsys.readouterr().out
    assert "export" in out.split("actions:")[1]
    assert main(["pipeline", "export", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: mlmax pipeline export")


def test_pipeline_without_an_action_still_runs_the_pipeline() -> None:
    assert build_parser().parse_args(["pipeline", "--rows", "10"]).handler.__name__ == (
        "run_pipeline"
    )
    export = build_parser().parse_args(["pipeline", "export", "--output", "p.json"])
    assert export.handler.__name__ == "run_export"
    assert export.output == Path("p.json")


def test_every_command_line_reaches_its_own_handler() -> None:
    handlers = [build_parser().parse_args(argv).handler for argv in EVERY_COMMAND]
    assert len(set(handlers)) == len(EVERY_COMMAND)


def _raise_from_handler(
    argv: list[str], error: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = build_parser().parse_args(argv).handler

    def failing(_args: object) -> int:
        raise error

    monkeypatch.setattr(sys.modules[handler.__module__], handler.__name__, failing)


@pytest.mark.parametrize("argv", EVERY_COMMAND, ids=" ".join)
def test_a_usage_error_from_any_command_is_one_line_and_exit_2(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _raise_from_handler(argv, UsageError("the input is wrong; pass another"), monkeypatch)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == "error: the input is wrong; pass another\n"
    assert captured.out == ""


def test_any_other_mlmax_error_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _raise_from_handler(["clean"], MlmaxError("this machine cannot; do this"), monkeypatch)
    assert main(["clean"]) == 1
    assert capsys.readouterr().err == "error: this machine cannot; do this\n"


def test_a_bug_keeps_its_traceback_and_exits_1(tmp_path: Path) -> None:
    bug = (
        "import sys, mlmax.cli.clean as clean\n"
        "def broken(args):\n"
        "    raise ZeroDivisionError('a bug in mlmax')\n"
        "clean.run_clean = broken\n"
        "from mlmax.cli import main\n"
        "sys.exit(main(['clean']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", bug], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "ZeroDivisionError: a bug in mlmax" in done.stderr
    assert "error: " not in done.stderr


def test_the_commands_defaults_match_the_modules_they_stand_for() -> None:
    # The CLI writes these down so `mlmax --help` imports neither mlmax.pipeline nor the SDK.
    from mlmax.cli import pipeline
    from mlmax_census.pipeline import DEFAULT_NEW_DATA_DRIFT, MODEL_TYPES

    assert pipeline.MODEL_TYPES == MODEL_TYPES
    assert pipeline.DEFAULT_NEW_DATA_DRIFT == DEFAULT_NEW_DATA_DRIFT


def test_mlmax_help_imports_no_heavy_library() -> None:
    probe = (
        "import sys\n"
        "from mlmax.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('pandas', 'joblib', 'sagemaker', 'docker', 'rich', 'mlmax.pipeline')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"
