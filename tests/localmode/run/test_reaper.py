"""The reaper removes containers of mlmax sessions whose process is gone, and only those."""

from __future__ import annotations

import socket

import pytest

from mlmax.localmode.engine import containers, labels
from mlmax.localmode.run import reaper

pytestmark = pytest.mark.smlocal


def _create(image: str, session_labels: dict[str, str]):
    return containers.docker_client().containers.create(image, ["true"], labels=session_labels)


def test_reaper_removes_orphans_of_dead_sessions_only(sm_image):
    dead = {
        labels.SESSION: "dead-session",
        labels.OWNER_PID: "4194303",  # above the default pid_max: no such process
        labels.OWNER_START: "1",
        labels.OWNER_HOST: labels.host_identity(),
    }
    live = labels.current_session().for_run("reaper-probe", "reaper-probe-run")
    # Another pid namespace sharing the engine (a dev container): its pids mean nothing here.
    elsewhere = {**dead, labels.OWNER_HOST: f"{socket.gethostname()}/pid:[1]"}
    orphan, ours = _create(sm_image, dead), _create(sm_image, live)
    foreign = _create(sm_image, elsewhere)
    try:
        # roots=[]: only containers (the temp dirs' sweep is tested in test_reaper_ownership).
        swept = reaper.reap(roots=[])
        assert orphan.name in {leftover.name for leftover in swept}
        remaining = {
            c.id for c in containers.docker_client().containers.list(ignore_removed=True, all=True)
        }
        assert orphan.id not in remaining
        assert ours.id in remaining, "a live session's container must be left alone"
        assert foreign.id in remaining, "another pid namespace's container must be left alone"
    finally:
        containers.remove_containers([orphan, ours, foreign])
