"""The local runner runs independent steps side by side, and Ctrl-C stops all of them.

With two steps in their containers at once, the interrupt lands in the scheduler's thread,
not in a job's: nothing may be left running or on disk all the same.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from mlmax.common.waiting import wait_until
from mlmax.localmode.engine import compose, containers, labels
from tests.support.foreground import foreground_job

pytestmark = pytest.mark.smlocal


def _running_containers(owner_pid: int) -> list:
    found = containers.docker_client().containers.list(
        ignore_removed=True, filters={"label": f"{labels.OWNER_PID}={owner_pid}"}
    )
    return [c for c in found if c.status == "running"]


def test_ctrl_c_with_two_steps_in_containers_stops_both_and_leaves_nothing(
    sm_image: str, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    env.pop("MLMAX_WORK_DIR", None)
    command = [sys.executable, "-m", "mlmax", "pipeline", "--runner", "local"]
    arguments = [*command, "--rows", "2000", "--output", str(run_dir)]
    with foreground_job(arguments, env=env) as process:

        def two_steps_running() -> bool:  # preprocessing and monitoring
            assert process.poll() is None, process.communicate()
            return len(_running_containers(process.pid)) >= 2

        wait_until(two_steps_running, timeout=300, what="two steps running side by side")
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    record = json.loads((run_dir / "pipeline.json").read_text())
    assert record["status"] == "interrupted"
    client = containers.docker_client()
    owned = client.containers.list(
        ignore_removed=True, all=True, filters={"label": f"{labels.OWNER_PID}={process.pid}"}
    )
    assert owned == [], [c.name for c in owned]
    assert compose.processes_using(temp) == []
    assert list(temp.iterdir()) == [], "the interrupted run left files in its temp dir"
