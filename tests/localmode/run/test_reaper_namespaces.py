"""What a session killed in a pid namespace that is gone left (a dev container or CI container
rebuilt after a kill) is swept from the root pid namespace, never from another namespace, and
never while the session lives; a killed run's record is found wherever its directory is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mlmax.common import wait_until
from mlmax.localmode.engine import containers
from mlmax.pipeline import load_record

pytestmark = pytest.mark.smlocal

# A session in its own pid namespace: a labelled container, a temp dir with its owner marker,
# and a running pipeline record outside runs/ (noted in the cache as a live run), then it waits.
SESSION = """
import json, sys, tempfile, time
from pathlib import Path
from mlmax.localmode.engine import current_session, docker_client, new_run_id
from mlmax.localmode.sdk.session import write_owner_marker
from mlmax.pipeline.live_runs import note_running
from mlmax.pipeline.run_record import RunRecord, StepRecord, write_record
from mlmax.localmode.engine.labels import Owner
image, run_dir = sys.argv[1], Path(sys.argv[2])
labels = current_session().for_run("namespace-probe", new_run_id("namespace-probe"))
container = docker_client().containers.create(image, ["true"], labels=labels)
temp = Path(tempfile.mkdtemp(prefix="mlmax-localmode-"))
write_owner_marker(temp)
run_dir.mkdir(parents=True)
write_record(run_dir, RunRecord(
    pipeline="census", run_id=run_dir.name, runner="local", status="running", started_at="now",
    inputs={}, owner=Owner.current().to_json(), steps=[StepRecord("train", "train", "running")],
))
note_running(run_dir)
print(json.dumps({"container": container.name, "temp": str(temp),
                  "namespace": labels["org.mlmax.host"].rpartition("/")[2]}), flush=True)
time.sleep(600)
"""


def _namespace_alive(namespace: str) -> bool:
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "ns" / "pid") == namespace:
                return True
        except OSError:
            continue
    return False


def _named(name: str) -> list:
    return containers.docker_client().containers.list(
        all=True, filters={"name": f"^{name}$"}, ignore_removed=True
    )


def _namespace_holder() -> tuple[subprocess.Popen[bytes], int]:
    """A live pid namespace (a dev container's) and the root-namespace pid of a process in it."""
    holder = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "sleep", "600"]
    )
    children = Path(f"/proc/{holder.pid}/task/{holder.pid}/children")
    inner = wait_until(
        lambda: children.read_text().split(), timeout=30, what="the namespace's first process"
    )
    return holder, int(inner[0])


def _clean(env: dict[str, str], cwd: Path, *, in_namespace_of: int | None = None) -> str:
    prefix = [] if in_namespace_of is None else ["nsenter", "-t", str(in_namespace_of), "-p", "-m"]
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "mlmax", "clean"],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="a new pid namespace needs root (unshare --pid)")
def test_a_session_killed_in_a_gone_namespace_is_swept_from_the_root_namespace(
    sm_image: str, tmp_path: Path
) -> None:
    if os.readlink("/proc/self/ns/pid") != "pid:[4026531836]":
        pytest.skip("runs in the root pid namespace only (it must see every namespace)")
    temp_root, cwd = tmp_path / "tmp", tmp_path / "work"
    temp_root.mkdir()
    cwd.mkdir()
    run_dir = tmp_path / "elsewhere" / "run-1"  # an --output outside runs/
    env = {**os.environ, "TMPDIR": str(temp_root), "MLMAX_CACHE_DIR": str(tmp_path / "cache")}
    session = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
         sys.executable, "-c", SESSION, sm_image, str(run_dir)],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    made: dict[str, str] = {}
    # Alive all along, so its namespace is never a reuse of the killed one's inode (which
    # would rightly let it judge: a reused inode means the old namespace is gone).
    holder, in_holder = _namespace_holder()
    try:
        assert session.stdout is not None
        made = json.loads(session.stdout.readline())
        assert made["namespace"] != os.readlink("/proc/self/ns/pid")
        assert made["container"] not in _clean(env, cwd), "a live session is never swept"
        session.send_signal(signal.SIGKILL)  # --kill-child: its namespace dies with it
        session.wait(timeout=30)
        wait_until(
            lambda: not _namespace_alive(made["namespace"]),
            timeout=30,
            what="the killed session's pid namespace to end",
        )
        # From another pid namespace nothing of it can be judged: left alone, and said so.
        # Its temp dir is under this test's own TMPDIR, which only this test's cleans read;
        # its container is the engine's, which another session's sweep from the root pid
        # namespace (under xdist, any inner pytest run) may rightly remove meanwhile.
        elsewhere = _clean(env, cwd, in_namespace_of=in_holder)
        assert made["container"] not in elsewhere and made["temp"] not in elsewhere
        assert "left alone:" in elsewhere and "other pid namespaces" in elsewhere
        assert Path(made["temp"]).is_dir()
        container_still_there = bool(_named(made["container"]))
        listed = _clean(env, cwd)
        remaining = _named(made["container"])
    finally:
        for process in (session, holder):
            if process.poll() is None:
                process.kill()
                process.wait()
        if made:
            containers.remove_containers(_named(made["container"]))
    assert remaining == [], (listed, [c.name for c in remaining])
    assert made["temp"] in listed
    if container_still_there:
        assert made["container"] in listed
    assert str(run_dir / "pipeline.json") in listed
    assert not Path(made["temp"]).exists()
    record = load_record(run_dir)
    assert record.status == "killed"
    assert record.steps[0].status == "failed"
    assert not list((tmp_path / "cache" / "live-runs").glob("*.json")), "the note must go"
