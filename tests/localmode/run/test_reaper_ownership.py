"""Who owns a temp dir or a run record is decidable, so two live sessions never sweep each
other and a SIGKILLed one is always swept (no Docker needed: temp dirs and records only)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from mlmax.localmode.engine.labels import Owner, host_identity
from mlmax.localmode.run import reaper
from mlmax.localmode.sdk.session import OWNER_MARKER, write_owner_marker
from mlmax.pipeline.killed import killed_runs, mark_killed
from mlmax.pipeline.run_record import load_record, write_record

# A second live session: makes its temp dir with its owner marker, then waits to be killed.
OTHER_SESSION = """
import sys, tempfile, time
from pathlib import Path
from mlmax.localmode.sdk.session import write_owner_marker
root = Path(tempfile.mkdtemp(prefix="mlmax-localmode-", dir=sys.argv[1]))
write_owner_marker(root)
print(root, flush=True)
time.sleep(600)
"""


def test_a_live_sessions_dir_is_kept_and_swept_once_it_is_killed(tmp_path: Path) -> None:
    mine = tmp_path / "mlmax-localmode-mine"
    mine.mkdir()
    write_owner_marker(mine)
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_SESSION, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout is not None
        theirs = Path(other.stdout.readline().strip())
        assert theirs.is_dir()
        assert reaper.reap([tmp_path]) == [], "a live session's dir must be left alone"
        assert mine.is_dir() and theirs.is_dir()
        os.kill(other.pid, signal.SIGKILL)
        other.wait(timeout=30)
        swept = reaper.reap([tmp_path])
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    assert [(s.kind, s.name, s.owner_pid) for s in swept] == [("temp dir", str(theirs), other.pid)]
    assert not theirs.exists()
    assert mine.is_dir(), "our own live dir must be left alone"
    expected = f"swept what killed sessions left ({other.pid}): 1 temp dir"
    assert reaper.describe_leftovers(swept) == expected


def test_dirs_of_another_pid_namespace_or_without_a_marker_are_never_swept(tmp_path: Path) -> None:
    elsewhere = tmp_path / "mlmax-localmode-elsewhere"
    elsewhere.mkdir()
    dead_elsewhere = {"host": "other-host/pid:[1]", "pid": 4194303, "pid_start": "1"}
    (elsewhere / OWNER_MARKER).write_text(json.dumps(dead_elsewhere))
    unmarked = tmp_path / "mlmax-localmode-unmarked"
    unmarked.mkdir()
    dead_here = tmp_path / "mlmax-localmode-dead"
    dead_here.mkdir()
    owner = {"host": host_identity(), "pid": 4194303, "pid_start": "1"}  # above pid_max
    (dead_here / OWNER_MARKER).write_text(json.dumps(owner))
    assert [s.name for s in reaper.reap([tmp_path])] == [str(dead_here)]
    assert elsewhere.is_dir() and unmarked.is_dir() and not dead_here.exists()


def test_a_running_record_of_a_dead_owner_is_marked_killed(tmp_path: Path) -> None:
    from mlmax.pipeline.run_record import RunRecord, StepRecord

    def record(owner: Owner) -> RunRecord:
        return RunRecord(
            pipeline="census", run_id="r", runner="local", status="running",
            started_at="now", inputs={}, owner=owner.to_json(),
            steps=[StepRecord("train", "train", status="running"), StepRecord("eval", "eval")],
        )  # fmt: skip

    live, dead = tmp_path / "live", tmp_path / "dead"
    live.mkdir()
    dead.mkdir()
    write_record(live, record(Owner.current()))
    write_record(dead, record(Owner(host_identity(), 4194303, "1")))
    assert killed_runs(tmp_path) == [(dead, 4194303)]
    mark_killed(dead)
    killed = load_record(dead)
    assert killed.status == "killed"
    assert [s.status for s in killed.steps] == ["failed", "pending"]
    assert load_record(live).status == "running"
    assert killed_runs(tmp_path) == []
