"""`mlmax serve` and `mlmax pipeline --endpoint`: bad usage is one line and exit 2 before
anything starts; the endpoint step serves the run's model and checks parity in a container."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from mlmax.cli import main
from mlmax.localmode.engine import containers, labels


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_serve_help() -> None:
    assert main(["serve", "--help"]) == 0


def test_serve_without_any_run_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["serve"]) == 2
    assert "error: no run with a trained model under runs/; run `mlmax pipeline`" in _error(capsys)


def test_serve_a_run_without_a_model_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--run", str(tmp_path)]) == 2
    assert f"error: run {tmp_path} has no trained model" in _error(capsys)


def test_serve_a_model_dir_without_the_preprocessor_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "model.tar.gz").write_bytes(b"x")
    assert main(["serve", "--model-dir", str(tmp_path)]) == 2
    assert f"error: no proc_model.tar.gz in {tmp_path}" in _error(capsys)


def test_serve_names_its_own_debug_port_option_when_the_port_is_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "model.tar.gz").write_bytes(b"x")
    (tmp_path / "proc_model.tar.gz").write_bytes(b"x")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        argv = ["serve", "--model-dir", str(tmp_path), "--image", "any-image", "--debug-port",
                str(port)]  # fmt: skip
        assert main(argv) == 1
    err = _error(capsys)
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "choose another with --debug-port NUMBER, or --debug-port 0" in err
    assert "--inspect" not in err


def test_latest_run_is_the_newest_that_trained_a_model(tmp_path: Path) -> None:
    from mlmax_census.pipeline import latest_trained_run

    for name, trained in (("20260101-000000-aaaaaa", True), ("20260102-000000-bbbbbb", False)):
        run = tmp_path / name
        (run / "train" / "model").mkdir(parents=True)
        (run / "preprocessing" / "proc_model").mkdir(parents=True)
        if trained:
            (run / "train" / "model" / "model.tar.gz").write_bytes(b"x")
            (run / "preprocessing" / "proc_model" / "proc_model.tar.gz").write_bytes(b"x")
    assert latest_trained_run(tmp_path) == tmp_path / "20260101-000000-aaaaaa"
    assert latest_trained_run(tmp_path / "none") is None


def test_pipeline_endpoint_needs_a_local_or_host_runner(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["pipeline", "--runner", "sagemaker", "--endpoint"]) == 2
    assert "--endpoint runs after the local or host runner" in _error(capsys)


@pytest.mark.smlocal
def test_pipeline_endpoint_step_serves_the_runs_model_with_batch_parity(
    sm_image: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    argv = [
        "pipeline",
        "--runner",
        "host",
        "--rows",
        "1500",
        "--endpoint",
        "--output",
        str(run_dir),
    ]
    assert main(argv) == 0
    out, err = capfd.readouterr()
    check = json.loads((run_dir / "endpoint" / "endpoint.json").read_text())
    assert check["parity"] is True and check["mismatched_predictions"] == 0
    assert check["rows"] == 1500
    [row] = [line for line in out.splitlines() if line.startswith("endpoint ")]
    assert "succeeded" in row and "1500 rows equal to batch inference" in row
    assert "Attaching to" not in out + err  # compose's chatter stays out of the terminal
    session = labels.current_session().session_id
    assert containers.session_containers(session) == []
