"""The exported SageMaker Pipeline: golden file, structure, determinism, upsert and start."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlmax.cloud.job_code import code_fingerprint, stage_job_code
from mlmax.cloud.pipeline_export import (
    PARAM_PROCESSING_INSTANCE,
    PARAM_TRAINING_INSTANCE,
    ExportOptions,
    export_pipeline,
    exported,
)
from mlmax_census.pipeline import ROC_AUC_GATE, census_pipeline
from tests.cloud.conftest import (
    BUCKET,
    IMAGE,
    ROLE,
    EmulatedAws,
    emulated_aws_account,
    offline_aws_environ,
)
from tests.support.network_guard import fail_on, guarded_network

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sagemaker_pipeline.json"
UPDATE_ENV = "MLMAX_UPDATE_GOLDEN"
CODE_PLACEHOLDER = "<code-hash>"

OPTIONS = ExportOptions(role=ROLE, bucket=BUCKET, image_uri=IMAGE, dag=census_pipeline())


def current_fingerprint(tmp_path: Path) -> str:
    return code_fingerprint(stage_job_code(tmp_path / "fingerprint"))


def without_code_hash(definition: str, fingerprint: str) -> str:
    # The golden file is about the pipeline's shape; the hash of the job code changes with
    # every edit of a job and is checked by the determinism test instead.
    return definition.replace(fingerprint, CODE_PLACEHOLDER)


@pytest.fixture(scope="module")
def exported_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One export shared by the read-only tests (building a definition takes seconds)."""
    scratch = tmp_path_factory.mktemp("export")
    with (
        pytest.MonkeyPatch.context() as patch,
        guarded_network() as violations,
    ):
        offline_aws_environ(patch, scratch)
        with emulated_aws_account() as aws, exported(OPTIONS, aws.boto_session) as export:
            text = export.definition
    fail_on(violations)
    return text


@pytest.fixture
def definition(exported_text: str) -> dict[str, Any]:
    return json.loads(exported_text)


def all_steps(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for step in steps:
        yield step
        if step["Type"] == "Condition":
            yield from all_steps(step["Arguments"]["IfSteps"])
            yield from all_steps(step["Arguments"]["ElseSteps"])


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Get" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def test_matches_the_golden_file(exported_text: str, tmp_path: Path):
    actual = without_code_hash(exported_text, current_fingerprint(tmp_path))
    if os.environ.get(UPDATE_ENV) == "1":
        GOLDEN.write_text(actual, encoding="utf-8")
    assert GOLDEN.exists(), f"no golden file; run with {UPDATE_ENV}=1 to write it"
    assert actual == GOLDEN.read_text(encoding="utf-8"), (
        f"the exported definition changed; if that is intended, rerun with {UPDATE_ENV}=1 "
        "and review the diff of tests/golden/sagemaker_pipeline.json"
    )


def test_same_code_and_options_give_identical_bytes(emulated_aws: EmulatedAws, tmp_path: Path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    export_pipeline(OPTIONS, first, boto_session=emulated_aws.boto_session)
    export_pipeline(OPTIONS, second, boto_session=emulated_aws.boto_session)
    assert first.read_bytes() == second.read_bytes()
    assert current_fingerprint(tmp_path) in first.read_text()


def test_parameters(definition: dict[str, Any]):
    parameters = {p["Name"]: (p["Type"], p["DefaultValue"]) for p in definition["Parameters"]}
    assert parameters == {
        "TrainDataUri": ("String", f"s3://{BUCKET}/mlmax/data/train_data"),
        "NewDataUri": ("String", f"s3://{BUCKET}/mlmax/data/new_data"),
        PARAM_PROCESSING_INSTANCE: ("String", "ml.m5.large"),
        PARAM_TRAINING_INSTANCE: ("String", "ml.m5.xlarge"),
        ROC_AUC_GATE.parameter: ("Float", 0.75),
    }


def test_every_reference_points_at_something_that_exists(definition: dict[str, Any]):
    steps = {s["Name"]: s for s in all_steps(definition["Steps"])}
    parameters = {p["Name"] for p in definition["Parameters"]}
    refs = list(references(definition["Steps"]))
    assert refs, "the definition wires nothing"
    for ref in refs:
        kind, _, rest = ref.partition(".")
        if kind == "Steps":
            assert rest.split(".")[0] in steps, f"{ref} names a step that does not exist"
        elif kind == "Parameters":
            assert rest in parameters, f"{ref} names a parameter that does not exist"
        else:
            assert kind == "Execution", ref


def test_steps_are_wired_through_properties(definition: dict[str, Any]):
    steps = {s["Name"]: s for s in all_steps(definition["Steps"])}
    train_channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in steps["train"]["Arguments"]["InputDataConfig"]
    }
    assert train_channels["train"] == {
        "Get": "Steps.preprocessing.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }
    evaluation_inputs = {
        i["InputName"]: i["S3Input"]["S3Uri"]
        for i in steps["evaluation"]["Arguments"]["ProcessingInputs"]
    }
    assert evaluation_inputs["model"] == {"Get": "Steps.train.ModelArtifacts.S3ModelArtifacts"}
    preprocessing = steps["preprocessing"]["Arguments"]
    assert preprocessing["ProcessingInputs"][0]["S3Input"]["S3Uri"] == {
        "Get": "Parameters.TrainDataUri"
    }
    assert preprocessing["ProcessingResources"]["ClusterConfig"]["InstanceType"] == {
        "Get": "Parameters.ProcessingInstanceType"
    }
    assert preprocessing["AppSpecification"]["ImageUri"] == IMAGE
    assert steps["train"]["Arguments"]["ResourceConfig"]["InstanceType"] == {
        "Get": "Parameters.TrainingInstanceType"
    }


def test_the_condition_reads_the_evaluation_report(definition: dict[str, Any]):
    evaluation = next(s for s in definition["Steps"] if s["Name"] == "evaluation")
    (report,) = evaluation["PropertyFiles"]
    outputs = [
        o["OutputName"] for o in evaluation["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    ]
    assert report["OutputName"] in outputs
    assert report["FilePath"] == "evaluation.json"

    condition = next(s for s in definition["Steps"] if s["Type"] == "Condition")
    (rule,) = condition["Arguments"]["Conditions"]
    assert rule["Type"] == "GreaterThanOrEqualTo"
    assert rule["LeftValue"]["Std:JsonGet"] == {
        "Path": "metrics.roc_auc",
        "PropertyFile": {"Get": f"Steps.evaluation.PropertyFiles.{report['PropertyFileName']}"},
    }
    assert rule["RightValue"] == {"Get": f"Parameters.{ROC_AUC_GATE.parameter}"}
    assert [s["Name"] for s in condition["Arguments"]["IfSteps"]] == ["inference"]
    assert [s["Type"] for s in condition["Arguments"]["ElseSteps"]] == ["Fail"]


def test_upsert_and_start_against_the_emulated_api(emulated_aws: EmulatedAws, tmp_path: Path):
    lines: list[str] = []
    result = export_pipeline(
        OPTIONS,
        tmp_path / "out" / "pipeline.json",
        boto_session=emulated_aws.boto_session,
        upsert=True,
        start=True,
        progress=lines.append,
    )
    client = emulated_aws.boto_session.client("sagemaker")
    described = client.describe_pipeline(PipelineName=OPTIONS.pipeline_name)
    assert described["PipelineArn"] == result.pipeline_arn
    assert json.loads(described["PipelineDefinition"]) == json.loads(result.path.read_text())
    assert described["RoleArn"] == ROLE
    executions = client.list_pipeline_executions(PipelineName=OPTIONS.pipeline_name)
    arns = [e["PipelineExecutionArn"] for e in executions["PipelineExecutionSummaries"]]
    assert arns == [result.execution_arn]
    assert any("execution started" in line for line in lines)


def test_start_without_upsert_is_refused_and_writes_nothing(
    emulated_aws: EmulatedAws, tmp_path: Path
):
    with pytest.raises(ValueError, match="--start needs --upsert"):
        export_pipeline(
            OPTIONS, tmp_path / "p.json", boto_session=emulated_aws.boto_session, start=True
        )
    assert not (tmp_path / "p.json").exists()


def test_a_pipeline_without_a_quality_gate_exports_no_condition_and_no_threshold(
    emulated_aws: EmulatedAws,
):
    """The gate is the DAG's own (the census sample declares one); a project's DAG without
    one exports its steps as they are, named after the DAG."""
    import dataclasses

    from mlmax.pipeline import Pipeline

    census = census_pipeline()
    gateless = Pipeline("no-gate", census.inputs, census.steps)
    options = dataclasses.replace(OPTIONS, dag=gateless)
    with exported(options, emulated_aws.boto_session) as export:
        definition = json.loads(export.definition)
    assert export.pipeline.name == "mlmax-no-gate"
    assert [step["Type"] for step in definition["Steps"]].count("Condition") == 0
    assert {step["Name"] for step in definition["Steps"]} == {s.name for s in census.steps}
    assert ROC_AUC_GATE.parameter not in {p["Name"] for p in definition["Parameters"]}
