"""The sagemaker runner against an emulated AWS: the exact job requests, S3 wiring, waiting."""

from __future__ import annotations

import json
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from mlmax.cloud.checks import check_role
from mlmax.cloud.runner import (
    SageMakerConfigError,
    SageMakerOptions,
    SageMakerRunner,
    parse_instance_type,
)
from mlmax.cloud.watch import PROCESSING_API, TRAINING_API, CloudWatchTail, JobWatcher
from mlmax.project.catalog import JOBS, JobRun
from mlmax.project.runner_contract import StepFailed
from tests.cloud.conftest import BUCKET, IMAGE, ROLE, EmulatedAws, model_archive

RUN = "run1"


class Sleeps:
    """Stands in for time.sleep: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def emulate_job_outputs(aws: EmulatedAws) -> None:
    """What the managed job would leave in S3: one file per processing output, a model."""

    def write(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "CreateProcessingJob":
            for output in params["ProcessingOutputConfig"]["Outputs"]:
                uri = output["S3Output"]["S3Uri"]
                aws.put(f"{uri}/{output['OutputName']}.csv", b"a,b\n1,2\n")
        elif model.name == "CreateTrainingJob":
            base = params["OutputDataConfig"]["S3OutputPath"]
            archive = model_archive({"model.joblib": b"not really a model"})
            aws.put(f"{base}/{params['TrainingJobName']}/output/model.tar.gz", archive)

    aws.boto_session.events.register("provide-client-params.sagemaker.*", write)


def options(**overrides: Any) -> SageMakerOptions:
    values: dict[str, Any] = {
        "role": ROLE,
        "bucket": BUCKET,
        "image_uri": IMAGE,
        "run_id": RUN,
        "poll_seconds": 30.0,
    }
    values.update(overrides)
    return SageMakerOptions(**values)


@pytest.fixture
def raw_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "census.csv").write_text("age,income\n30,0\n", encoding="utf-8")
    return data


def run_three_steps(aws: EmulatedAws, tmp_path: Path, raw_data: Path, **opts: Any) -> Any:
    """preprocessing -> train -> evaluation, wired by host directories like the executor does."""
    emulate_job_outputs(aws)
    pre = {n: tmp_path / "pre" / n for n in ("train", "test", "proc_model")}
    model = tmp_path / "train" / "model"
    evaluation = tmp_path / "evaluation" / "evaluation"
    lines: list[str] = []
    sleeps = Sleeps()
    runner = SageMakerRunner(
        options(**opts), boto_session=aws.boto_session, progress=lines.append, sleep=sleeps
    )
    with runner:
        runner.run_step(JobRun(JOBS["preprocessing"], {"data": raw_data}, pre, ("--seed", "7")))
        runner.run_step(
            JobRun(
                JOBS["train"],
                {"train": pre["train"], "test": pre["test"]},
                {"model": model},
                ("--model-type", "random_forest", "--seed", "7"),
            )
        )
        runner.run_step(
            JobRun(
                JOBS["evaluation"],
                {"model": model, "test": pre["test"]},
                {"evaluation": evaluation},
            )
        )
    return runner, lines, sleeps


def test_processing_request_is_exact(emulated_aws: EmulatedAws, tmp_path: Path, raw_data: Path):
    run_three_steps(emulated_aws, tmp_path, raw_data)
    first, evaluation = emulated_aws.sagemaker.named("CreateProcessingJob")
    base = f"s3://{BUCKET}/mlmax/{RUN}"

    assert first["ProcessingJobName"] == f"mlmax-preprocessing-{RUN}"
    assert first["AppSpecification"]["ImageUri"] == IMAGE
    assert first["AppSpecification"]["ContainerArguments"] == ["--mode", "train", "--seed", "7"]
    assert first["ProcessingResources"]["ClusterConfig"] == {
        "InstanceCount": 1,
        "InstanceType": "ml.m5.large",
        "VolumeSizeInGB": 30,
    }
    assert first["RoleArn"] == ROLE
    assert first["Environment"] == {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
    inputs = {i["InputName"]: i["S3Input"] for i in first["ProcessingInputs"]}
    assert inputs["data"]["S3Uri"] == f"{base}/inputs/preprocessing-data"
    assert inputs["data"]["LocalPath"] == "/opt/ml/processing/input/data"
    outputs = {o["OutputName"]: o["S3Output"] for o in first["ProcessingOutputConfig"]["Outputs"]}
    assert {n: o["S3Uri"] for n, o in outputs.items()} == {
        "train": f"{base}/preprocessing/train",
        "test": f"{base}/preprocessing/test",
        "proc_model": f"{base}/preprocessing/proc_model",
    }
    assert outputs["proc_model"]["LocalPath"] == "/opt/ml/processing/model"

    # evaluation reads the model the training job packed and the test split of step one
    eval_inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluation["ProcessingInputs"]}
    (train,) = emulated_aws.sagemaker.named("CreateTrainingJob")
    model_uri = f"{base}/train/model/{train['TrainingJobName']}/output/model.tar.gz"
    assert eval_inputs["model"] == model_uri
    assert eval_inputs["test"] == f"{base}/preprocessing/test"


def test_training_request_is_exact(emulated_aws: EmulatedAws, tmp_path: Path, raw_data: Path):
    run_three_steps(emulated_aws, tmp_path, raw_data, instance_types={"train": "ml.c5.2xlarge"})
    (train,) = emulated_aws.sagemaker.named("CreateTrainingJob")
    base = f"s3://{BUCKET}/mlmax/{RUN}"

    assert train["TrainingJobName"].startswith("mlmax-train-")
    assert train["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert train["ResourceConfig"]["InstanceType"] == "ml.c5.2xlarge"
    assert train["RoleArn"] == ROLE
    assert train["Environment"] == {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
    assert train["OutputDataConfig"]["S3OutputPath"] == f"{base}/train/model"
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["InputDataConfig"]
    }
    assert channels["train"] == f"{base}/preprocessing/train"
    assert channels["test"] == f"{base}/preprocessing/test"
    assert set(channels) == {"train", "test", "code", "sm_drivers"}
    # the script's arguments travel in the drivers' source-code config, exactly as given
    drivers = channels["sm_drivers"].removeprefix(f"s3://{BUCKET}/")
    source_code = json.loads(
        emulated_aws.boto_session.client("s3")
        .get_object(Bucket=BUCKET, Key=f"{drivers}/sourcecode.json")["Body"]
        .read()
    )
    assert source_code["command"] == "python3 train.py"
    assert source_code["args"] == ["--model-type", "random_forest", "--seed", "7"]


def test_code_is_uploaded_by_the_sdk(emulated_aws: EmulatedAws, tmp_path: Path, raw_data: Path):
    run_three_steps(emulated_aws, tmp_path, raw_data)
    keys = emulated_aws.keys()
    (train,) = emulated_aws.sagemaker.named("CreateTrainingJob")
    code_prefix = f"mlmax-train/{train['TrainingJobName']}/input/code/"
    training_code = {k.removeprefix(code_prefix) for k in keys if k.startswith(code_prefix)}
    assert {"train.py", "jobs_common.py", "schema.py"} <= training_code
    assert not any("__pycache__" in name for name in training_code)
    for job in ("preprocessing", "evaluation"):
        source = f"mlmax-{job}-{RUN}/source/"
        assert f"{source}sourcedir.tar.gz" in keys
        assert f"{source}runproc.sh" in keys
    # the host data was uploaded once, under the run
    assert f"mlmax/{RUN}/inputs/preprocessing-data/census.csv" in keys


def test_outputs_come_back_to_the_host(emulated_aws: EmulatedAws, tmp_path: Path, raw_data: Path):
    runner, lines, sleeps = run_three_steps(emulated_aws, tmp_path, raw_data)
    assert (tmp_path / "pre" / "train" / "train.csv").read_text() == "a,b\n1,2\n"
    # The model stays packed, as Local Mode leaves it; the jobs read it from the archive.
    model_dir = tmp_path / "train" / "model"
    assert [p.name for p in model_dir.iterdir()] == ["model.tar.gz"]
    with tarfile.open(model_dir / "model.tar.gz") as archive:
        member = archive.extractfile("model.joblib")
        assert member is not None and member.read() == b"not really a model"
    assert (tmp_path / "evaluation" / "evaluation" / "evaluation.csv").exists()
    assert set(runner.job_names) == {"preprocessing", "train", "evaluation"}
    # the emulated jobs are done at once: status lines but no waiting
    assert any("mlmax-preprocessing-run1: Completed" in line for line in lines)
    assert sleeps.calls == []


def test_cloudwatch_lines_are_streamed(emulated_aws: EmulatedAws, tmp_path: Path, raw_data: Path):
    logs = emulated_aws.boto_session.client("logs")
    group, stream = "/aws/sagemaker/ProcessingJobs", f"mlmax-preprocessing-{RUN}/algo-1-1"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "rows read: 100"}],
    )
    _, lines, _ = run_three_steps(emulated_aws, tmp_path, raw_data)
    assert "[preprocessing] rows read: 100" in lines


class ScriptedClient:
    """A SageMaker client whose Describe answers follow a script (to drive the watcher)."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers
        self.stopped: list[dict[str, Any]] = []

    def describe_processing_job(self, **_: Any) -> dict[str, Any]:
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def stop_processing_job(self, **kwargs: Any) -> None:
        self.stopped.append(kwargs)


def watcher(client: Any, lines: list[str], sleeps: Sleeps) -> JobWatcher:
    return JobWatcher(
        client, PROCESSING_API, "job-1", step="evaluation", logs=None,
        progress=lines.append, sleep=sleeps, poll_seconds=5,
    )  # fmt: skip


def test_watcher_reports_transitions_and_polls():
    answers = [
        {"ProcessingJobStatus": "InProgress"},
        {"ProcessingJobStatus": "InProgress"},
        {"ProcessingJobStatus": "Completed"},
    ]
    lines: list[str] = []
    sleeps = Sleeps()
    watcher(ScriptedClient(answers), lines, sleeps).wait()
    assert lines == ["[evaluation] job-1: InProgress", "[evaluation] job-1: Completed"]
    assert sleeps.calls == [5, 5]


def test_failed_job_reports_its_failure_reason():
    answers = [
        {"ProcessingJobStatus": "InProgress"},
        {"ProcessingJobStatus": "Failed", "FailureReason": "AlgorithmError: exit code 2"},
    ]
    with pytest.raises(StepFailed) as caught:
        watcher(ScriptedClient(answers), [], Sleeps()).wait()
    assert str(caught.value) == (
        "job 'evaluation' failed on SageMaker (job job-1): AlgorithmError: exit code 2"
    )


def test_ctrl_c_while_waiting_stops_the_managed_job():
    client = ScriptedClient([{"ProcessingJobStatus": "InProgress"}, KeyboardInterrupt()])
    lines: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        watcher(client, lines, Sleeps()).wait()
    assert client.stopped == [{"ProcessingJobName": "job-1"}]
    assert "stopping job-1" in lines[-1]


def test_failed_job_through_the_runner(emulated_aws: EmulatedAws, tmp_path: Path, raw_data: Path):
    """The emulated API answers Describe with a failure; the runner raises one clear error."""

    def failed(model: Any, **_: Any) -> Any:
        if model.name == "DescribeTrainingJob":
            body = {
                "TrainingJobName": "x", "TrainingJobArn": "arn:x",
                "TrainingJobStatus": "Failed", "SecondaryStatus": "Failed",
                "FailureReason": "ClientError: out of memory",
                "ModelArtifacts": {"S3ModelArtifacts": "s3://x/y"},
                "AlgorithmSpecification": {"TrainingInputMode": "File"},
                "ResourceConfig": {"InstanceCount": 1, "VolumeSizeInGB": 1},
                "StoppingCondition": {}, "CreationTime": 0,
            }  # fmt: skip
            return (AWSResponse("", 200, {}, None), body)
        return None

    emulated_aws.boto_session.events.register("before-call.sagemaker.DescribeTrainingJob", failed)
    with pytest.raises(StepFailed, match="out of memory") as caught:
        run_three_steps(emulated_aws, tmp_path, raw_data)
    assert caught.value.job == "train"
    assert emulated_aws.sagemaker.named("CreateProcessingJob")[1:] == []  # evaluation never ran
    assert not (tmp_path / "train" / "model").exists()


def test_missing_role_is_one_clear_error(emulated_aws: EmulatedAws):
    with (
        pytest.raises(SageMakerConfigError, match=r"pass --role arn:aws:iam::"),
        SageMakerRunner(options(role=None), boto_session=emulated_aws.boto_session),
    ):
        pass


# The runner refuses exactly what `mlmax doctor --cloud` refuses (one ARN shape, in
# mlmax.cloud.settings): a bare name, and a name longer than IAM's 512 characters.
@pytest.mark.parametrize("role", ["MyRole", f"arn:aws:iam::123456789012:role/{'r' * 513}"])
def test_what_is_not_a_role_arn_is_refused(emulated_aws: EmulatedAws, role: str):
    assert not check_role(role).ok
    with (
        pytest.raises(SageMakerConfigError, match="is not a role ARN"),
        SageMakerRunner(options(role=role), boto_session=emulated_aws.boto_session),
    ):
        pass


def test_missing_image_is_one_clear_error(emulated_aws: EmulatedAws):
    with (
        pytest.raises(SageMakerConfigError, match="pass --image"),
        SageMakerRunner(options(image_uri=None), boto_session=emulated_aws.boto_session),
    ):
        pass


def test_instance_type_overrides_are_checked():
    assert parse_instance_type("train=ml.c5.xlarge") == ("train", "ml.c5.xlarge")
    with pytest.raises(SageMakerConfigError, match=r"write JOB=ml\.TYPE"):
        parse_instance_type("trian=ml.c5.xlarge")
    with pytest.raises(SageMakerConfigError, match=r"write JOB=ml\.TYPE"):
        parse_instance_type("train=c5.xlarge")


def test_cloudwatch_tail_is_silent_without_logs(emulated_aws: EmulatedAws):
    tail = CloudWatchTail(
        emulated_aws.boto_session.client("logs"), TRAINING_API.log_group, "no-such-job"
    )
    assert tail.new_lines() == []
    assert tail.available
    assert json.dumps(tail.new_lines()) == "[]"
