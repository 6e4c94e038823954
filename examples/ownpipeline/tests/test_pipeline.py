"""The project's own Pipeline, run locally and offline through mlmax's `sm_pipeline_session`."""

import io
import json
import tarfile

import pytest
from ownpipeline.pipeline import PREPROCESS_STEP, TRAIN_STEP, build

from mlmax.cloud import PipelineStepFailedError

LOCAL = {"InstanceType": "local"}
# Local Mode assumes no role; the steps still want one, as on SageMaker.
ROLE = "arn:aws:iam::000000000000:role/ownpipeline-local"


def objects(session, prefix: str) -> dict[str, bytes]:
    """Every object under `prefix` in the session's default bucket."""
    bucket = session.default_bucket()
    client = session.boto_session.client("s3", endpoint_url=session.s3_endpoint_url)
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


@pytest.mark.smlocal
def test_the_pipeline_preprocesses_then_trains(sm_pipeline_session, sm_image):
    pipeline = build(sm_pipeline_session, image=sm_image, role=ROLE)

    execution = sm_pipeline_session.run(pipeline, LOCAL)

    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    steps = execution.list_steps()["PipelineExecutionSteps"]
    assert {s["StepName"]: s["StepStatus"] for s in steps} == {
        PREPROCESS_STEP: "Succeeded",
        TRAIN_STEP: "Succeeded",
    }
    # What the steps wrote, read back from the (embedded) S3 bucket.
    written = objects(sm_pipeline_session, "ownpipeline/")
    [train_csv] = [key for key in written if key.endswith("/train/train.csv")]
    assert len(written[train_csv].decode().splitlines()) == 60
    [archive] = [key for key in written if key.endswith("/model.tar.gz")]
    with tarfile.open(fileobj=io.BytesIO(written[archive])) as tar:
        metrics = json.load(tar.extractfile("metrics.json"))
        assert "model.joblib" in tar.getnames()
    assert metrics["rows"] == 60
    assert metrics["train_accuracy"] > 0.9


@pytest.mark.smlocal
def test_a_failing_step_fails_with_its_name_reason_and_log(sm_pipeline_session, sm_image):
    pipeline = build(sm_pipeline_session, image=sm_image, role=ROLE)

    with pytest.raises(PipelineStepFailedError) as failed:
        sm_pipeline_session.run(pipeline, {**LOCAL, "MinRows": 1000})

    assert failed.value.step == PREPROCESS_STEP
    message = str(failed.value)
    assert message.startswith(f"step '{PREPROCESS_STEP}' of pipeline 'ownpipeline' failed: ")
    assert "only 60 rows in /opt/ml/processing/input, fewer than 1000" in failed.value.log_tail
    assert [s.name for s in failed.value.result.steps] == [PREPROCESS_STEP]
