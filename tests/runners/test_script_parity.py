"""SageMaker scripts written both ways give the same outputs on the host and in their container.

One table of cases, each run on the host runner and in its Local Mode container, outputs read
back and compared. The scripts are an outside project's (examples/smscripts): one with its
container paths written into it, one that reads SageMaker's SM_* variables. Two probe jobs
of this test's own read back what each runner gives a job: the training environment and
config files, and the processing job's config.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest

from mlmax.project.catalog import Channel, JobDefinition, JobRun
from mlmax.project.declarations import load_project
from mlmax.runners import StepFailed
from mlmax.runners.host import HostRunner
from mlmax.runners.local import LocalModeRunner

pytestmark = pytest.mark.smlocal

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "smscripts"
TEXTS = EXAMPLE / "data" / "texts"
TRAIN_CSV = EXAMPLE / "data" / "train" / "shapes.csv"

TRAINING_PROBE = """
import json, os, sys
from pathlib import Path
config = Path("/opt/ml/input/config")
report = {
    "env": {k: v for k, v in os.environ.items() if k.startswith("SM_") or k == "TRAINING_JOB_NAME"},
    "config": {p.name: json.loads(p.read_text()) for p in sorted(config.glob("*.json"))},
    "argv": sys.argv[1:],
    "uid": os.getuid(),
    "train": sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"])),
    "output_data": sorted(os.listdir(os.environ["SM_OUTPUT_DATA_DIR"])),
}
Path(os.environ["SM_MODEL_DIR"], "report.json").write_text(json.dumps(report))
"""

PROCESSING_PROBE = """
import json, os, sys
from pathlib import Path
config = Path("/opt/ml/config")
report = {
    "env": sorted(k for k in os.environ if k.startswith("SM_")),
    "config": {p.name: json.loads(p.read_text()) for p in sorted(config.glob("*.json"))},
    "argv": sys.argv[1:],
    "uid": os.getuid(),
    "data": sorted(os.listdir("/opt/ml/processing/input/data")),
}
Path("/opt/ml/processing/report/report.json").write_text(json.dumps(report))
"""


def _probe_jobs(folder: Path) -> dict[str, JobDefinition]:
    folder.mkdir(parents=True)
    (folder / "training_probe.py").write_text(TRAINING_PROBE)
    (folder / "processing_probe.py").write_text(PROCESSING_PROBE)
    return {
        "probe-training": JobDefinition(
            "probe-training",
            "training_probe.py",
            "training",
            (Channel("train", "--train", "/opt/ml/input/data/train"),),
            (Channel("model", "--model-dir", "/opt/ml/model"),),
            source_dir=folder,
        ),
        "probe-processing": JobDefinition(
            "probe-processing",
            "processing_probe.py",
            "processing",
            (Channel("data", "--data", "/opt/ml/processing/input/data"),),
            (Channel("report", "--report", "/opt/ml/processing/report"),),
            source_dir=folder,
        ),
    }


@dataclass(frozen=True)
class Outcome:
    outputs: dict[str, Path]
    log: str

    def files(self, channel: str) -> dict[str, bytes]:
        """A channel's files by name; a model packed by SageMaker is unpacked."""
        folder = self.outputs[channel]
        archive = folder / "model.tar.gz"
        if archive.is_file():
            with tarfile.open(archive) as tar:
                return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
        return {path.name: path.read_bytes() for path in folder.iterdir()}


# -- what each case reads back ---------------------------------------------------------------


def _word_counts(outcome: Outcome) -> dict[str, Any]:
    files = outcome.files("counts")
    return {
        "counts": files["counts.csv"].decode().splitlines(),
        "summary": json.loads(files["summary.json"]),
    }


def _forest(outcome: Outcome) -> dict[str, Any]:
    model = joblib.load(io.BytesIO(outcome.files("model")["model.joblib"]))
    data = pd.read_csv(TRAIN_CSV).drop(columns=["label"])
    [metrics] = [line for line in outcome.log.splitlines() if line.startswith("metrics: ")]
    return {
        "n_estimators": model.n_estimators,
        "max_depth": model.max_depth,
        "probabilities": model.predict_proba(data).round(12).tolist(),
        "metrics": json.loads(metrics.removeprefix("metrics: ")),
    }


def _without_drivers(channels: Any) -> Any:
    """The SDK's own driver channel exists in the training container only."""
    if isinstance(channels, dict):
        return {name: value for name, value in channels.items() if name != "sm_drivers"}
    return [name for name in channels if name != "sm_drivers"]


def _training_probe(outcome: Outcome) -> dict[str, Any]:
    report = json.loads(outcome.files("model")["report.json"])
    env = report["env"]
    name = env.pop("TRAINING_JOB_NAME")
    assert re.fullmatch(r"mlmax-probe-training-\d{14}", name), name
    env.pop("SM_CHANNEL_SM_DRIVERS", None)
    for key in ("SM_CHANNELS", "SM_INPUT_DATA_CONFIG"):
        env[key] = _without_drivers(json.loads(env[key]))
    training_env = json.loads(env["SM_TRAINING_ENV"])
    assert training_env.pop("job_name") == name
    for key in ("channel_input_dirs", "input_data_config"):
        training_env[key] = _without_drivers(training_env[key])
    env["SM_TRAINING_ENV"] = training_env
    config = report["config"]
    config["inputdataconfig.json"] = _without_drivers(config["inputdataconfig.json"])
    return report


def _processing_probe(outcome: Outcome) -> dict[str, Any]:
    report = json.loads(outcome.files("report")["report.json"])
    resources = report["config"].pop("resourceconfig.json")
    host = resources.pop("current_host")
    assert re.fullmatch(r"algo-1-[a-z0-9]{5}", host) and resources.pop("hosts") == [host]
    job = report["config"].pop("processingjobconfig.json")
    assert re.fullmatch(r"mlmax-probe-processing-[0-9a-f]{8}", job["ProcessingJobName"])
    assert job["ProcessingJobArn"] == job["ProcessingJobName"]
    # Where the data came from differs (an S3 URI, a host file's URI), and only the
    # container has an image and an entry point script.
    report["job"] = {
        "inputs": [
            {key: value for key, value in entry["S3Input"].items() if key != "S3Uri"}
            | {"name": entry["InputName"]}
            for entry in job["ProcessingInputs"]
            if entry["InputName"] != "entrypoint"
        ],
        "outputs": [
            {key: value for key, value in entry["S3Output"].items() if key != "S3Uri"}
            | {"name": entry["OutputName"]}
            for entry in job["ProcessingOutputConfig"]["Outputs"]
        ],
        "arguments": job["AppSpecification"]["ContainerArguments"],
        # A container run as a non-root user gets HOME=/tmp (mlmax's container user).
        "environment": {k: v for k, v in job["Environment"].items() if k != "HOME"},
        **{key: job[key] for key in ("ProcessingResources", "RoleArn", "StoppingCondition")},
    }
    report["resources"] = resources
    return report


# -- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    job: str
    inputs: dict[str, Path]
    read: Callable[[Outcome], dict[str, Any]]
    # What the outputs must be besides equal, so two runs failing alike cannot pass.
    expect: dict[str, Any]
    arguments: tuple[str, ...] = field(default=())


CASES = (
    Case(
        "hard-coded-paths",
        "word-count",
        {"input_data": TEXTS},
        _word_counts,
        {"summary": {"files": 2, "words": 46, "distinct": 33, "instance_type": "local"}},
    ),
    Case(
        "hard-coded-paths-one-file",
        "word-count",
        {"input_data": TEXTS / "orchard.txt"},
        _word_counts,
        {"summary": {"files": 1, "words": 20, "distinct": 16, "instance_type": "local"}},
    ),
    Case(
        "sm-variables-declared-arguments",
        "fit",
        {"train": TRAIN_CSV.parent},
        _forest,
        {"n_estimators": 20, "max_depth": None},
    ),
    Case(
        "sm-variables-run-arguments-one-file",
        "fit",
        {"train": TRAIN_CSV},
        _forest,
        {"n_estimators": 7, "max_depth": 3},
        ("--n-estimators", "7", "--max-depth", "3"),
    ),
    Case(
        "training-environment",
        "probe-training",
        {"train": TRAIN_CSV},
        _training_probe,
        {"argv": ["--flag", "a value"], "train": ["shapes.csv"], "output_data": []},
        ("--flag", "a value"),
    ),
    Case(
        "processing-config",
        "probe-processing",
        {"data": TEXTS},
        _processing_probe,
        {"env": [], "argv": ["--flag", "1"], "data": ["harbour.txt", "orchard.txt"]},
        ("--flag", "1"),
    ),
)
RUNNERS = ("host", "local")


@pytest.fixture(scope="module")
def outcomes(
    sm_image: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Outcome | StepFailed]:
    base = tmp_path_factory.mktemp("script-parity")
    jobs = {**load_project(EXAMPLE / "pyproject.toml").jobs, **_probe_jobs(base / "probes")}
    found: dict[tuple[str, str], Outcome | StepFailed] = {}
    for runner in (HostRunner(), LocalModeRunner(image=sm_image)):
        with runner:
            for case in CASES:
                job = jobs[case.job]
                outputs = {c.name: base / runner.name / case.id / c.name for c in job.outputs}
                run = JobRun(job, dict(case.inputs), outputs, case.arguments)
                try:
                    result = runner.run_step(run)
                except StepFailed as failure:
                    found[runner.name, case.id] = failure
                else:
                    found[runner.name, case.id] = Outcome(outputs, result.log)
    return found


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_script_gives_the_same_outputs_on_the_host_and_in_its_container(
    case: Case, outcomes: dict[tuple[str, str], Outcome | StepFailed]
) -> None:
    views = {}
    for runner in RUNNERS:
        outcome = outcomes[runner, case.id]
        assert isinstance(outcome, Outcome), f"{runner}: {outcome}"
        views[runner] = case.read(outcome)
        assert {key: views[runner][key] for key in case.expect} == case.expect, runner
    assert views["local"] == views["host"]


def test_the_training_environment_names_the_container_paths(
    outcomes: dict[tuple[str, str], Outcome | StepFailed],
) -> None:
    """On the host too: the job sees /opt/ml paths, not the host directories behind them."""
    outcome = outcomes["host", "training-environment"]
    assert isinstance(outcome, Outcome), str(outcome)
    env = _training_probe(outcome)["env"]
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data"
    assert env["SM_HPS"] == "{}" and env["SM_HOSTS"] == '["algo-1"]'
    assert env["SM_CHANNELS"] == ["train", "code"]
