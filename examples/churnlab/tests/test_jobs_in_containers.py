"""churnlab's jobs in their SageMaker Local Mode containers, through mlmax's fixtures.

`sm_local.run("<job>")` runs a job declared in this project's pyproject.toml; `sm_session`
hands the offline Local Mode session to SDK objects written here as for SageMaker.
"""

import csv
import importlib.util
import json
import tarfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
JOBS = PROJECT / "src" / "churnlab" / "jobs"


def run_on_host(script: str, *arguments: str) -> None:
    """The job script's main() in this process (no subprocess: Debug Test would have to
    attach to it too), with the same arguments."""
    spec = importlib.util.spec_from_file_location(f"host_{script}", JOBS / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(module.parse_args(list(arguments)))


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def model_of(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        return json.load(tar.extractfile("model.json"))


@pytest.mark.smlocal
def test_clean_in_its_container_matches_the_host(sm_local, customers, tmp_path):
    result = sm_local.run("clean", inputs={"raw": customers}, outputs={"clean": tmp_path / "c"})

    host = tmp_path / "host"
    run_on_host(
        "clean", "--input-dir", str(customers), "--output-dir", str(host), "--min-tenure", "1"
    )
    assert rows(tmp_path / "c" / "clean.csv") == rows(host / "clean.csv")
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert summary == json.loads((host / "summary.json").read_text())
    assert 0 < summary["rows_out"] < summary["rows_in"] == 200
    assert "clean: kept" in result.logs


@pytest.mark.smlocal
def test_fit_trains_on_the_cleaned_data(sm_local, customers, tmp_path):
    sm_local.run("clean", inputs={"raw": customers}, outputs={"clean": tmp_path / "clean"})
    sm_local.run("fit", inputs={"train": tmp_path / "clean"}, outputs={"model": tmp_path / "m"})

    model = model_of(tmp_path / "m" / "model.tar.gz")
    assert model["train_rows"] == len(rows(tmp_path / "clean" / "clean.csv"))
    assert set(model["weights"]) == {"tenure", "monthly_charges", "support_calls"}
    assert model["train_accuracy"] > 0.7


@pytest.mark.smlocal
def test_own_framework_processor_with_sm_session(sm_session, sm_image, customers, tmp_path):
    # Written as for SageMaker; only sagemaker_session=sm_session makes it local and offline.
    from sagemaker.core.processing import FrameworkProcessor
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )

    processor = FrameworkProcessor(
        image_uri=sm_image,
        command=["python3"],
        role=None,
        instance_type="local",
        instance_count=1,
        sagemaker_session=sm_session,
    )
    out = tmp_path / "out"
    out.mkdir()
    processor.run(
        code="clean.py",
        source_dir=str(JOBS),
        inputs=[
            ProcessingInput(
                input_name="raw",
                s3_input=ProcessingS3Input(
                    s3_uri=str(customers),
                    local_path="/opt/ml/processing/input/raw",
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                ),
            )
        ],
        outputs=[
            ProcessingOutput(
                output_name="clean",
                s3_output=ProcessingS3Output(
                    s3_uri=out.as_uri(),
                    local_path="/opt/ml/processing/clean",
                    s3_upload_mode="EndOfJob",
                ),
            )
        ],
        arguments=["--min-tenure", "12"],
        wait=False,
        logs=False,
    )
    cleaned = rows(out / "clean.csv")
    assert cleaned and all(float(row["tenure"]) >= 12 for row in cleaned)


@pytest.mark.smlocal
def test_own_model_trainer_with_sm_session(sm_session, sm_image, customers, tmp_path):
    from sagemaker.core.training.configs import Compute, InputData, SourceCode
    from sagemaker.train import ModelTrainer
    from sagemaker.train.model_trainer import Mode

    clean = tmp_path / "clean"
    run_on_host("clean", "--input-dir", str(customers), "--output-dir", str(clean))
    (tmp_path / "trainer").mkdir()
    trainer = ModelTrainer(
        training_image=sm_image,
        source_code=SourceCode(source_dir=str(JOBS), command="python3 fit.py"),
        compute=Compute(instance_type="local", instance_count=1),
        training_mode=Mode.LOCAL_CONTAINER,
        local_container_root=str(tmp_path / "trainer"),
        sagemaker_session=sm_session,
        role=None,
    )
    trainer.train(
        input_data_config=[InputData(channel_name="train", data_source=str(clean))],
        wait=True,
        logs=False,
    )
    archive = tmp_path / "trainer" / "compressed_artifacts" / "model.tar.gz"
    assert model_of(archive)["train_rows"] == len(rows(clean / "clean.csv"))
