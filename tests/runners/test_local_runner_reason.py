"""The local runner keeps a job's real failure reason instead of a bare exit code.

A job that exits 0 but leaves a required output empty failed in its container "with exit
code 0" before: true, and useless. The step's error must name the output it did not write.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlmax.project.catalog import Channel, JobDefinition, JobRun
from mlmax.project.runner_contract import StepFailed
from mlmax.runners.local import LocalModeRunner

pytestmark = pytest.mark.smlocal


def _silent_job(source_dir: Path) -> JobDefinition:
    (source_dir / "silent.py").write_text("print('finished without writing anything')\n")
    return JobDefinition(
        name="silent",
        script="silent.py",
        kind="processing",
        inputs=(),
        outputs=(Channel("result", "--result-dir", "/opt/ml/processing/result"),),
        source_dir=source_dir,
    )


def test_a_required_output_left_empty_is_the_step_error(sm_image: str, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    run = JobRun(_silent_job(code), inputs={}, outputs={"result": tmp_path / "result"})
    with LocalModeRunner(image=sm_image) as runner, pytest.raises(StepFailed) as failed:
        runner.run_step(run)
    reason = failed.value.reason
    assert "wrote nothing to its output 'result'" in reason, reason
    assert "failed in its Local Mode container" not in reason, reason
    assert "finished without writing anything" in failed.value.log
