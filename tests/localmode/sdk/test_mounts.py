"""Bind-mount sources exist (and are the caller's) before compose starts a container (the SDK
methods wrapped for that are pinned by tests/localmode/sdk/test_internals.py)."""

from __future__ import annotations

from mlmax.localmode.sdk.mounts import create_missing_sources, create_mount_sources_first
from tests.localmode.sdk.test_trainer_hook import _container


def test_missing_sources_are_created_and_existing_ones_left_alone(tmp_path):
    existing_file = tmp_path / "file.txt"
    existing_file.write_text("x")
    create_missing_sources(
        {"volumes": [f"{tmp_path}/a/model:/opt/ml/model", f"{existing_file}:/f:ro", "named:/v"]}
    )
    assert (tmp_path / "a" / "model").is_dir()
    assert existing_file.read_text() == "x"
    assert not (tmp_path / "named").exists()


def test_the_training_model_directory_exists_before_compose_runs(tmp_path):
    # ModelTrainer's container mounts <root>/model without creating it: the engine would
    # create it as root, and a job running as the calling user could not write its model.
    create_mount_sources_first()
    container = _container(tmp_path)
    volumes = container._prepare_training_volumes(str(tmp_path / "input" / "data"), [], {})
    assert f"{tmp_path}/model:/opt/ml/model" in volumes and not (tmp_path / "model").exists()
    service = container._create_docker_host("algo-1", {}, volumes)
    assert (tmp_path / "model").is_dir()
    assert (tmp_path / "algo-1" / "output" / "data").is_dir()
    assert service["image"] == "probe:1"
