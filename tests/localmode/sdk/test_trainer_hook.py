"""The trainer hook gives training containers their labels, mounts and user, for its root only
(the SDK method it wraps is pinned by tests/localmode/sdk/test_internals.py)."""

from __future__ import annotations

from mlmax.localmode.sdk import trainer_hook


def _container(root):
    from sagemaker.train.local.local_container import _LocalContainer

    return _LocalContainer(
        training_job_name="probe",
        instance_type="local",
        instance_count=1,
        image="probe:1",
        container_root=str(root),
        input_data_config=[],
        environment={},
        hyper_parameters={},
        container_entrypoint=["/bin/bash"],
        container_arguments=["-c", "true"],
    )


def test_hook_adds_labels_and_volumes_for_its_root_only(tmp_path):
    ours, other = tmp_path / "ours", tmp_path / "other"
    ours.mkdir()
    other.mkdir()
    trainer_hook.add_extra_service_config()
    with trainer_hook.extra_service_config(
        ours, labels={"org.mlmax.run": "r1"}, volumes=[f"{tmp_path}:/opt/ml/alias"]
    ):
        service = _container(ours)._create_docker_host("algo-1", {"A": "1"}, [])
        untouched = _container(other)._create_docker_host("algo-1", {}, [])
    assert service["labels"] == {"org.mlmax.run": "r1"}
    assert f"{tmp_path}:/opt/ml/alias" in service["volumes"]
    assert service["image"] == "probe:1"
    assert "labels" not in untouched
    assert f"{tmp_path}:/opt/ml/alias" not in (untouched.get("volumes") or [])
    after = _container(ours)._create_docker_host("algo-1", {}, [])
    assert "labels" not in after, "the extra config ends with its block"


def test_processing_keeps_container_config_labels(tmp_path):
    # The processing path merges local.container_config into each service (labels survive).
    from sagemaker.core.local.image import _SageMakerContainer

    container = _SageMakerContainer.__new__(_SageMakerContainer)
    container.sagemaker_session = type(
        "S", (), {"config": {"local": {"container_config": {"labels": {"org.mlmax.run": "r"}}}}}
    )()
    container.container_root = str(tmp_path)
    container.image = "probe:1"
    container.is_studio = False
    container.instance_type = "local"
    container.container_entrypoint = ["python3"]
    container.container_arguments = None
    service = container._create_docker_host("algo-1-x", [], set(), "process", [])
    assert service["labels"] == {"org.mlmax.run": "r"}
