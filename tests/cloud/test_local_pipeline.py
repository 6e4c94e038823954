"""Local pipeline mode: the exported SageMaker Pipeline executed by the SDK's local pipeline
session, offline (embedded S3 on loopback, dummy credentials, no registry).

The first tests need no containers: they pin the SDK 3.27.0 facts the session bridge relies
on and run a container-free pipeline (parameters -> ConditionStep -> FailStep) through the
bridged session. The `smlocal` tests run the real exported census pipeline in Local Mode
containers and compare its evaluation with the `local` runner's for the same seed and rows.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlmax.cloud import local_pipeline
from mlmax.cloud.local_pipeline import (
    LocalPipelineResult,
    local_export_options,
    run_local_pipeline,
)
from mlmax.cloud.pipeline_export import (
    DEFAULT_PROCESSING_INSTANCE,
    DEFAULT_TRAINING_INSTANCE,
    PARAM_PROCESSING_INSTANCE,
    PARAM_TRAINING_INSTANCE,
    exported,
)
from mlmax.cloud.project_pipeline import LOCAL_ROLE, step_outcomes
from mlmax.localmode.engine import compose, containers
from mlmax.localmode.s3.server import S3Server
from mlmax.localmode.sdk import internals as sdk_internals
from mlmax.localmode.sdk.environ import scoped_environ
from mlmax.localmode.sdk.session import OfflineSession
from mlmax_census.pipeline import (
    ROC_AUC_GATE,
    DataSpec,
    TrainingOptions,
    census_pipeline,
    run_census,
    stage_inputs,
)
from tests.cloud.test_sagemaker_pipeline import GOLDEN
from tests.support.leaks import container_events

ROWS = 1500
SEED = 11
NO_ROLE_CHECK = {"SAGEMAKER_VALIDATE_ROLE": "false"}


# --------------------------------------------------------------------------- no containers


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[OfflineSession]:
    with (
        S3Server() as s3,
        OfflineSession(s3_endpoint_url=s3.endpoint_url, temp_parent=tmp_path) as session,
        session.pinned(),
        scoped_environ(NO_ROLE_CHECK),
    ):
        yield session


def test_sdk_local_client_still_lacks_the_pipeline_calls() -> None:
    """The bridge exists because the local client has no pipeline API. If this fails, the
    SDK grew one: drop the forwarding in OfflineSession.local_session and check Pipeline.create."""
    from sagemaker.core.local.local_session import LocalSagemakerClient

    present = [call for call in sdk_internals.PIPELINE_CALLS if hasattr(LocalSagemakerClient, call)]
    assert present == [], f"SDK changed: LocalSagemakerClient now has {present}"


def test_session_captures_steps_and_owns_the_pipeline_api(
    offline: OfflineSession, tmp_path: Path
) -> None:
    from sagemaker.core.local import LocalSession
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    session = offline.local_session(
        container_root=tmp_path, container_config={"labels": {"a": "b"}}, pipeline=True
    )
    assert isinstance(session, PipelineSession)  # building a step captures it
    assert isinstance(session, LocalSession) and session.local_mode
    for call in sdk_internals.PIPELINE_CALLS:
        assert getattr(session.sagemaker_client, call) == getattr(session, call), call
    assert session.config["local"]["container_config"] == {"labels": {"a": "b"}}
    assert session.config["local"]["container_root"] == str(tmp_path)


def _gate_pipeline(session: Any) -> Any:
    """Parameters -> ConditionStep -> FailStep, the shape of the census quality gate."""
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterFloat
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.pipeline import Pipeline

    score = ParameterFloat("Score", default_value=0.5)
    threshold = ParameterFloat(ROC_AUC_GATE.parameter, default_value=0.75)
    fail = FailStep(
        name="below", error_message=Join(on=" ", values=["score", score, "below", threshold])
    )
    gate = ConditionStep(
        name="gate",
        conditions=[ConditionGreaterThanOrEqualTo(left=score, right=threshold)],
        if_steps=[],
        else_steps=[fail],
    )
    return Pipeline(
        name="gate-only", parameters=[score, threshold], steps=[gate], sagemaker_session=session
    )


def test_create_and_start_run_the_fail_step_without_containers(
    offline: OfflineSession, tmp_path: Path
) -> None:
    session = offline.local_session(container_root=tmp_path, container_config={}, pipeline=True)
    pipeline = _gate_pipeline(session)
    assert pipeline.create(role_arn=LOCAL_ROLE) == {"PipelineArn": "gate-only"}
    assert json.loads(pipeline.describe()["PipelineDefinition"])["Steps"][0]["Name"] == "gate"

    failed = pipeline.start(parameters={"Score": 0.5})
    passed = pipeline.start(parameters={"Score": 0.9, ROC_AUC_GATE.parameter: 0.8})

    assert failed.describe()["PipelineExecutionStatus"] == "Failed"
    steps = {s.name: s for s in step_outcomes(failed)}
    assert steps["gate"].detail == "outcome False"
    assert steps["below"].status == "Failed"
    assert steps["below"].detail == "score 0.5 below 0.75"
    assert "below" in failed.describe()["FailureReason"]
    assert passed.describe()["PipelineExecutionStatus"] == "Succeeded"
    assert [(s.name, s.detail) for s in step_outcomes(passed)] == [("gate", "outcome True")]


def test_a_parameter_of_the_wrong_type_is_refused(offline: OfflineSession, tmp_path: Path) -> None:
    """Start-time values are checked against the definition: an int for a float fails."""
    from botocore.exceptions import ClientError

    session = offline.local_session(container_root=tmp_path, container_config={}, pipeline=True)
    pipeline = _gate_pipeline(session)
    pipeline.create(role_arn=LOCAL_ROLE)
    with pytest.raises(ClientError, match="Unexpected type for parameter 'Score'"):
        pipeline.start(parameters={"Score": 1})


def test_building_leaves_no_trainer_temp_dir(
    offline: OfflineSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pins the private ModelTrainer attributes `release_trainer_temp_dirs` cleans up
    (step_args.func_args[0]._temp_code_dir): without it the drivers' copy stays in the
    system temp dir until the process exits."""
    from sagemaker.mlops.workflow.steps import TrainingStep

    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    session = offline.local_session(container_root=tmp_path, container_config={}, pipeline=True)
    options = local_export_options(
        offline.bucket or "", "mlmax-job:not-needed-to-build", census_pipeline()
    )
    with exported(options, session=session) as export:
        (train,) = [s for s in export.pipeline.steps if isinstance(s, TrainingStep)]
        kept = Path(train.step_args.func_args[0]._temp_code_dir.name)
        assert kept.parent == system_temp and (kept / "sm_train.sh").is_file()
    assert list(system_temp.iterdir()) == []


def test_start_parameters_set_local_instances_and_data() -> None:
    values = local_pipeline.start_parameters(
        {"train_data": "s3://b/t", "new_data": "s3://b/n"}, {ROC_AUC_GATE.parameter: 0.9}
    )
    assert values == {
        PARAM_PROCESSING_INSTANCE: "local",
        PARAM_TRAINING_INSTANCE: "local",
        "TrainDataUri": "s3://b/t",
        "NewDataUri": "s3://b/n",
        ROC_AUC_GATE.parameter: 0.9,
    }


# --------------------------------------------------------------------------- real containers


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return stage_inputs(tmp_path_factory.mktemp("inputs"), DataSpec(rows=ROWS, seed=SEED))


@pytest.fixture(scope="module")
def sdk_temp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The SDK's own temp files (code archives, staging) land here, to be checked empty."""
    path = tmp_path_factory.mktemp("sdk-temp")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(path))
        yield path


@pytest.fixture(scope="module")
def executed(
    sm_localmode: Any, staged: dict[str, Path], sdk_temp: Path, tmp_path_factory
) -> LocalPipelineResult:
    return run_local_pipeline(
        sm_localmode,
        staged,
        dag=census_pipeline(TrainingOptions(seed=SEED)),
        download_to=tmp_path_factory.mktemp("downloaded"),
        timeout=600,
    )


def _left_behind(local: Any, result: LocalPipelineResult, sdk_temp: Path) -> list[str]:
    root = local.session.root / result.run_id
    left = [c.name for c in containers.run_containers(result.run_id)]
    left += [str(p) for p in sdk_temp.iterdir()]
    left += [str(root)] if root.exists() else []
    left += [f"compose pid {pid}" for pid in compose.processes_using(root)]
    return left


@pytest.mark.smlocal
def test_exported_pipeline_runs_locally_with_the_local_runners_metrics(
    executed: LocalPipelineResult, sm_image: str, staged: dict[str, Path], tmp_path: Path
) -> None:
    from mlmax.runners.local import LocalModeRunner

    assert executed.succeeded, f"{executed.failure_reason}\n{executed.logs[-3000:]}"
    statuses = {s.name: s.status for s in executed.steps}
    assert statuses == dict.fromkeys(
        [
            "preprocessing",
            "train",
            "evaluation",
            "preprocessing-infer",
            "monitoring",
            "check-roc-auc",
            "inference",
        ],
        "Succeeded",
    )
    assert executed.step("check-roc-auc").detail == "outcome True"
    assert "model-below-threshold" not in statuses  # the FailStep did not run

    with LocalModeRunner(image=sm_image) as runner:
        record = run_census(
            runner, tmp_path / "run", DataSpec(rows=ROWS, seed=SEED), TrainingOptions(seed=SEED)
        )
    assert record.status == "succeeded", record.error
    report = tmp_path / "run" / "evaluation" / "evaluation" / "evaluation.json"
    local_metrics = json.loads(report.read_text())["metrics"]

    assert executed.evaluation is not None  # read back from the embedded S3
    pipeline_metrics = executed.evaluation["metrics"]
    assert pipeline_metrics["accuracy"] == local_metrics["accuracy"]
    assert pipeline_metrics["roc_auc"] == local_metrics["roc_auc"]
    assert pipeline_metrics == local_metrics
    # The downloaded copy is the same report, in the local runner's layout.
    assert executed.outputs is not None
    downloaded = executed.outputs / "evaluation" / "evaluation" / "evaluation.json"
    assert json.loads(downloaded.read_text()) == executed.evaluation
    assert (executed.outputs / "inference" / "predictions" / "predictions.csv").is_file()


@pytest.mark.smlocal
def test_instance_types_are_parameters_given_local_at_start(executed: LocalPipelineResult) -> None:
    definition = json.loads(executed.definition)
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert defaults[PARAM_PROCESSING_INSTANCE] == DEFAULT_PROCESSING_INSTANCE
    assert defaults[PARAM_TRAINING_INSTANCE] == DEFAULT_TRAINING_INSTANCE
    assert '"local"' not in executed.definition
    for step in definition["Steps"]:
        if step["Type"] == "Processing":
            instance = step["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceType"]
            assert instance == {"Get": f"Parameters.{PARAM_PROCESSING_INSTANCE}"}, step["Name"]
        elif step["Type"] == "Training":
            instance = step["Arguments"]["ResourceConfig"]["InstanceType"]
            assert instance == {"Get": f"Parameters.{PARAM_TRAINING_INSTANCE}"}, step["Name"]
    assert executed.parameters[PARAM_PROCESSING_INSTANCE] == "local"
    assert executed.parameters[PARAM_TRAINING_INSTANCE] == "local"


@pytest.mark.smlocal
def test_the_definition_run_is_the_one_export_writes(
    executed: LocalPipelineResult, sm_localmode: Any
) -> None:
    """Same options through `exported()` with a plain PipelineSession: byte-identical."""
    offline = sm_localmode.session
    options = local_export_options(
        offline.bucket, sm_localmode.image, census_pipeline(TrainingOptions(seed=SEED))
    )
    with (
        offline.pinned(),
        scoped_environ(NO_ROLE_CHECK),
        exported(options, offline.boto_session) as export,
    ):
        assert export.definition == executed.definition


@pytest.mark.smlocal
def test_everything_is_cleaned_up(
    executed: LocalPipelineResult, sm_localmode: Any, sdk_temp: Path
) -> None:
    assert executed.run_id
    assert _left_behind(sm_localmode, executed, sdk_temp) == []


@pytest.mark.smlocal
def test_fail_step_fires_when_the_threshold_is_above_the_roc_auc(
    executed: LocalPipelineResult, sm_localmode: Any, staged: dict[str, Path], sdk_temp: Path
) -> None:
    assert executed.evaluation is not None
    threshold = round(executed.evaluation["metrics"]["roc_auc"] + 0.001, 6)
    failed = run_local_pipeline(
        sm_localmode,
        staged,
        dag=census_pipeline(TrainingOptions(seed=SEED)),
        parameters={ROC_AUC_GATE.parameter: threshold},
        timeout=600,
    )
    assert failed.status == "Failed"
    assert failed.step("check-roc-auc").detail == "outcome False"
    fail_step = failed.step("model-below-threshold")
    assert fail_step.status == "Failed"
    assert fail_step.detail is not None and "is below the threshold" in fail_step.detail
    assert str(threshold) in fail_step.detail
    assert "model-below-threshold" in (failed.failure_reason or "")
    assert "inference" not in {s.name for s in failed.steps}  # gated behind the condition
    assert failed.evaluation == executed.evaluation  # same data and seed, same report
    assert _left_behind(sm_localmode, failed, sdk_temp) == []


@pytest.mark.smlocal
def test_cli_runs_the_local_pipeline_into_a_run_directory(
    sm_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlmax.cli import main

    run_dir = tmp_path / "run"
    arguments = ["--runner", "local-pipeline", "--rows", "800", "--seed", "3"]
    code = main(["pipeline", *arguments, "--output", str(run_dir)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    record = json.loads((run_dir / local_pipeline.EXECUTION_FILE).read_text())
    assert record["status"] == "Succeeded"
    assert record["parameters"][PARAM_PROCESSING_INSTANCE] == "local"
    report = json.loads((run_dir / "evaluation" / "evaluation" / "evaluation.json").read_text())
    assert record["metrics"] == report["metrics"]
    definition = json.loads((run_dir / local_pipeline.DEFINITION_FILE).read_text())
    assert {s["Name"] for s in definition["Steps"]} >= {"preprocessing", "check-roc-auc"}
    assert "check-roc-auc" in out and "outcome True" in out
    assert f"roc_auc {report['metrics']['roc_auc']:.4f}" in out
    assert "[pipeline] Starting pipeline step: 'train'" in err
    assert "INFO:" not in err  # the SDK's logging stays off the terminal
    assert containers.session_containers(containers.labels.current_session().session_id) == []


def _container_steps() -> list[str]:
    """The exported pipeline's steps that run a container (processing and training)."""
    definition = json.loads(GOLDEN.read_text())
    return [s["Name"] for s in definition["Steps"] if s["Type"] in ("Processing", "Training")]


@pytest.mark.smlocal
def test_a_timeout_stops_the_execution_and_leaves_nothing(
    sm_localmode: Any, staged: dict[str, Path], sdk_temp: Path
) -> None:
    from mlmax.localmode.engine import labels
    from mlmax.localmode.errors import JobTimeoutError

    root = sm_localmode.session.root
    before = {p.name for p in root.iterdir()}
    session = labels.current_session().session_id
    started = time.time_ns()
    with pytest.raises(JobTimeoutError, match="timeout"):
        run_local_pipeline(sm_localmode, staged, dag=census_pipeline(), timeout=2.0)
    window = (started, time.time_ns())
    ours = {labels.SESSION: session, labels.JOB: "pipeline"}
    # Stopped at its deadline, not run to its end: not every step started a container, and
    # each one that did was killed.
    created = container_events("create", *window, **ours)
    died = container_events("die", *window, **ours)
    assert len(created) < len(_container_steps()), created
    assert {e["Actor"]["Attributes"]["exitCode"] for e in died} <= {"137", "143"}, died
    ours = containers.docker_client().containers.list(
        ignore_removed=True,
        all=True,
        filters={"label": [f"{labels.SESSION}={session}", f"{labels.JOB}=pipeline"]},
    )
    assert [c.name for c in ours] == []
    assert {p.name for p in root.iterdir()} == before
    assert compose.processes_using(root) == []
    assert list(sdk_temp.iterdir()) == []
