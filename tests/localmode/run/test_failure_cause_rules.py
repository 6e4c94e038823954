"""The rules that read a failed job's log, on logs as containers write them (no container
needed: the container tests in test_failure_causes.py cover the whole run)."""

from __future__ import annotations

from pathlib import Path

from mlmax.localmode.run.failure_cause import failure_cause
from mlmax.project import JobRun
from mlmax.project.catalog import Channel, JobDefinition

TRACEBACK = 'Traceback (most recent call last):\n  File "job.py", line 1\n{}\n'


def _run(tmp_path: Path, **job: object) -> JobRun:
    source = tmp_path / "project" / "src" / "jobs"
    source.mkdir(parents=True)
    definition = JobDefinition(
        name="fit",
        script="fit.py",
        kind="training",
        inputs=(Channel("train", "--train-dir", "/opt/ml/input/data/train"),),
        outputs=(Channel("model", "--model-dir", "/opt/ml/model"),),
        source_dir=source,
        **job,  # type: ignore[arg-type]
    )
    return JobRun(definition, inputs={"train": tmp_path / "train"}, outputs={})


def _cause(run: JobRun, last_line: str):
    return failure_cause(run, TRACEBACK.format(last_line), oom_killed=False, memory=None)


def test_a_project_module_outside_the_shipped_code_names_source_dir(tmp_path):
    run = _run(tmp_path)
    helpers = tmp_path / "project" / "src" / "helpers.py"
    helpers.write_text("")
    cause = _cause(run, "ModuleNotFoundError: No module named 'helpers'")
    assert cause is not None
    assert cause.fix.startswith(
        f"{helpers} is in the project but outside the code shipped to the container "
        f"({run.job.source_dir}); set source_dir in [tool.mlmax.jobs.fit]"
    )


def test_a_job_on_a_given_image_is_told_to_install_the_module_there(tmp_path):
    cause = _cause(
        _run(tmp_path, image="team/sklearn:1"),
        "ModuleNotFoundError: No module named 'lightgbm.basic'",
    )
    assert cause is not None
    assert cause.reason == (
        "failed because its container has no Python module 'lightgbm' (ModuleNotFoundError)"
    )
    assert cause.fix.startswith("install it in the job's image 'team/sklearn:1'")


def test_paths_sagemaker_provides_are_not_called_undeclared(tmp_path):
    run = _run(tmp_path)
    for path in ("/opt/ml/output/data/metrics/x.json", "/opt/ml/input/config/hyperparameters.json"):
        line = f"FileNotFoundError: [Errno 2] No such file or directory: '{path}'"
        assert _cause(run, line) is None, path
    undeclared = "PermissionError: [Errno 13] Permission denied: '/opt/ml/models/m.pkl'"
    cause = _cause(run, undeclared)
    assert cause is not None
    assert cause.reason == (
        "used container path /opt/ml/models/m.pkl (PermissionError), which is none of its "
        "declared channels"
    )
    assert "output 'model' at /opt/ml/model" in cause.fix


def test_out_of_memory_without_a_limit_blames_the_machine(tmp_path):
    cause = failure_cause(_run(tmp_path), "Killed\n", oom_killed=True, memory=None)
    assert cause is not None
    assert cause.reason == (
        "ran out of this machine's memory and was killed by the engine (OOMKilled)"
    )


def test_a_log_without_a_known_cause_keeps_the_exit_code(tmp_path):
    assert _cause(_run(tmp_path), "ValueError: bad value") is None
