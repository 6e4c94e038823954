"""Faults a user can cause get one `error:` line and exit code 2 (or 1 for a machine that
cannot run the jobs), never a traceback, and leave no empty run directory behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlmax.cli import main
from mlmax_census.data.memory import BYTES_PER_ROW, rows_too_many_for_memory

REPO = Path(__file__).resolve().parents[2]
UNREACHABLE_SSH_ENGINE = "ssh://nobody@127.0.0.1:1"


def _one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("output", ["/proc/forbidden", "/dev/null/x"])
def test_an_unwritable_output_is_one_line(
    output: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pipeline", "--runner", "host", "--rows", "200", "--output", output]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"cannot write the run directory {output}" in line
    assert "choose a writable directory for --output" in line


def _can_unshare_mounts() -> bool:
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


def test_a_read_only_output_is_one_line(tmp_path: Path) -> None:
    read_only = tmp_path / "ro"
    read_only.mkdir()
    command = [sys.executable, "-m", "mlmax", "pipeline", "--runner", "host", "--rows", "200",
               "--output", str(read_only)]  # fmt: skip
    if os.geteuid() == 0:
        # Root ignores permission bits: make it a read-only mount, in a private mount namespace.
        if not _can_unshare_mounts():
            # e.g. root inside the dev container, without CAP_SYS_ADMIN; the host run covers it.
            pytest.skip("root here cannot make a read-only mount (unshare -m is not permitted)")
        script = (
            'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"'
        )
        command = ["unshare", "-m", "sh", "-c", script, "sh", str(read_only), *command]
    else:
        read_only.chmod(0o555)
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert "choose a writable directory for --output" in _one_error_line(done.stderr)
    assert list(read_only.iterdir()) == []


def test_rows_beyond_memory_are_refused_before_anything_is_generated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the default run directory would go to ./runs
    assert main(["pipeline", "--runner", "host", "--rows", "10000000000"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "--rows 10000000000 needs about" in line and "use at most" in line
    assert list(tmp_path.iterdir()) == [], "no run directory, no inputs"
    assert main(["data", "generate", "--rows", "10000000000", "--output", "x.csv"]) == 2
    assert "needs about" in _one_error_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_the_memory_limit_is_the_available_memory() -> None:
    assert rows_too_many_for_memory(1000, available=1000 * BYTES_PER_ROW) is None
    refused = rows_too_many_for_memory(1001, available=1000 * BYTES_PER_ROW)
    assert refused is not None and "use at most 1000 rows" in refused


def _without_docker(engine: str) -> dict[str, str]:
    return {**os.environ, "DOCKER_HOST": engine}


def test_an_unreachable_ssh_engine_is_one_line_for_doctor_and_run(tmp_path: Path) -> None:
    env = _without_docker(UNREACHABLE_SSH_ENGINE)
    doctor = subprocess.run([sys.executable, "-m", "mlmax", "doctor"], capture_output=True,
                            text=True, env=env, timeout=120, check=False)  # fmt: skip
    assert doctor.returncode == 1
    assert f"✗ Docker daemon: cannot reach the Docker daemon at {UNREACHABLE_SSH_ENGINE}" in (
        doctor.stdout
    )
    assert "Traceback" not in doctor.stdout + doctor.stderr
    data = tmp_path / "data"
    data.mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "mlmax", "run", "monitoring", "--input", f"baseline={data}",
         "--input", f"data={data}", "--output", f"monitoring={tmp_path / 'out'}"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 1
    line = _one_error_line(run.stderr)
    assert f"Cannot reach the Docker daemon at {UNREACHABLE_SSH_ENGINE}" in line


def test_an_unreachable_ssh_engine_fails_container_tests_with_one_sentence(
    tmp_path: Path,
) -> None:
    source = (
        "import pytest\n\n@pytest.mark.smlocal\ndef test_in_container(sm_image):\n    pass\n\n"
        "def test_plain():\n    pass\n"
    )
    (tmp_path / "test_inner.py").write_text(source)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--smlocal", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--rootdir", str(tmp_path), "-q", str(tmp_path / "test_inner.py")],
        capture_output=True, text=True, env=_without_docker(UNREACHABLE_SSH_ENGINE),
        cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert "1 passed, 1 error" in done.stdout, output
    assert "INTERNALERROR" not in output and "Traceback" not in output
    sentences = [line for line in output.splitlines() if "--smlocal cannot run" in line]
    assert sentences, output
    assert f"Cannot reach the Docker daemon at {UNREACHABLE_SSH_ENGINE}" in sentences[0]


def test_with_docker_down_every_container_test_of_this_suite_fails_with_the_plugins_sentence(
    tmp_path: Path,
) -> None:
    # This suite's own container tests, as `pytest --smlocal -m smlocal` runs them: their
    # helpers (a second user's probe, the dev container's docker calls, the network's racers)
    # fail with the plugin's sentence too, never with a traceback of their own.
    engine = f"unix://{tmp_path / 'no-engine.sock'}"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--smlocal", "-m", "smlocal", "-q", "-p", "no:xdist",
         "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'run'}", "tests"],
        capture_output=True, text=True, cwd=REPO, timeout=600, check=False,
        env={**_without_docker(engine), "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, output[-3000:]
    assert "Traceback" not in output and "INTERNALERROR" not in output, output[-6000:]
    sentence = f"--smlocal cannot run: Cannot reach the Docker daemon at {engine}"
    summary = [line for line in done.stdout.splitlines() if line.startswith(("ERROR ", "FAILED "))]
    assert len(summary) > 50, output[-3000:]
    failures = [line for line in done.stdout.splitlines() if line.startswith(sentence)]
    assert len(failures) == len(summary), output[-6000:]
    for node in ("test_nonroot_user.py", "test_devcontainer.py", "test_network.py"):
        assert any(node in line for line in summary), f"{node} was not run:\n{done.stdout}"


@pytest.mark.parametrize("runner", ["local", "local-pipeline"])
def test_docker_down_leaves_no_run_directory(runner: str, tmp_path: Path) -> None:
    output = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "mlmax", "pipeline", "--runner", runner, "--rows", "200",
         "--output", str(output)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
        env=_without_docker(f"unix://{tmp_path / 'no-engine.sock'}"),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Cannot reach the Docker daemon" in _one_error_line(done.stderr)
    assert not output.exists()


def _census_dir(tmp_path: Path) -> Path:
    from mlmax_census.data.generator import write_csv

    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "census.csv", 300, 1)
    return data


def test_mlmax_debug_names_its_own_port_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    data = _census_dir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        argv = ["debug", "monitoring", "--input", f"baseline={data}", "--input", f"data={data}",
                "--port", str(port), "--image", "any-image"]  # fmt: skip
        assert main(argv) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert f"port {port} on 127.0.0.1 is already in use" in line
    assert "choose another with --port NUMBER, or --port 0" in line
    assert "--inspect" not in line


@pytest.mark.smlocal
def test_mlmax_debug_names_its_own_wait_flag(sm_image: str, tmp_path: Path) -> None:
    data = _census_dir(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "mlmax", "debug", "monitoring", "--input", f"baseline={data}",
         "--input", f"data={data}", "--output", f"monitoring={tmp_path / 'out'}", "--port", "0",
         "--wait-timeout", "3", "--image", sm_image],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    line = _one_error_line(done.stderr)
    assert "no debugger attached to job 'monitoring'" in line
    assert "(--wait-timeout SECONDS)" in line and "--inspect" not in line


def test_an_unwritable_run_output_is_one_line_before_the_job_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the other outputs would default to ./runs
    data = tmp_path / "data.csv"
    data.write_text("not read: the output is refused first\n")
    argv = ["run", "preprocessing", "--runner", "host", "--input", f"data={data}"]
    assert main([*argv, "--output", "train=/proc/x"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line == (
        "error: --output train=/proc/x: cannot write /proc/x (No such file or directory); "
        "choose a writable directory"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"], "nothing was made"


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["debug", "monitoring", "--port", "99999"], "--port"),
        (["debug", "monitoring", "--port", "-1"], "--port"),
        (["serve", "--debug-port", "65536"], "--debug-port"),
    ],
)
def test_a_port_out_of_range_is_one_line_exit_2(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (
        f"argument {flag}: {argv[-1]} is not a port; give one from 1 to 65535, or 0 for a "
        "free one" in err
    )
