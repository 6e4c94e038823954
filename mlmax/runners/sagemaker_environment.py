"""What SageMaker gives a job besides its code: a training job's `SM_*` environment and the
configuration files under /opt/ml of either kind of job.

The host runner gives a job the same as its container gets, so a script that reads
`SM_MODEL_DIR`, `SM_CHANNEL_TRAIN`, `SM_HPS` or /opt/ml/config/resourceconfig.json reads them
alike on the host and in the container. The names and shapes are those of the SDK's training
container (the environment script that `ModelTrainer` runs before the job, the same names as
SageMaker's training toolkit) and of a Local Mode processing container: values that are not
strings are JSON, as there. Two things only the container has: the SDK's own driver channel
(`sm_drivers`) and an image to name in a processing job's `AppSpecification`.

`where` maps a container path to the path the job sees: itself when the host runner maps
/opt/ml (`mlmax.runners.mount_namespace`), a host path when it cannot.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import string
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mlmax.project import base_job_name

OPT_ML = "/opt/ml"
INPUT_DIR = f"{OPT_ML}/input"
INPUT_DATA_DIR = f"{INPUT_DIR}/data"
INPUT_CONFIG_DIR = f"{INPUT_DIR}/config"
MODEL_DIR = f"{OPT_ML}/model"
OUTPUT_DIR = f"{OPT_ML}/output"
OUTPUT_DATA_DIR = f"{OUTPUT_DIR}/data"
OUTPUT_FAILURE = f"{OUTPUT_DIR}/failure"
PROCESSING_CONFIG_DIR = f"{OPT_ML}/config"
# The training job's code is a channel of its own in the SDK's container.
CODE_CHANNEL = "code"
# A training container's one host and its network as Local Mode names them.
TRAINING_HOST = "algo-1"
TRAINING_NETWORK_INTERFACE = "ethwe"
PROCESSING_NETWORK_INTERFACE = "eth0"
INSTANCE_TYPE = "local"
MASTER_PORT = 7777
LOG_LEVEL = 20  # logging.INFO, the container's default
MAX_RUNTIME_SECONDS = 86400

Where = Callable[[str], str]


def _same(path: str) -> str:
    return path


def training_channel_path(channel: str) -> str:
    """Where a training job's input channel is in its container."""
    return f"{INPUT_DATA_DIR}/{channel}"


def _serialized(value: Any) -> str:
    # As the container's environment script writes them: strings as they are, the rest JSON.
    return value if isinstance(value, str) else json.dumps(value)


def _deserialized(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def job_name(job: str) -> str:
    """A training job's name as the SDK makes it from mlmax's base name: base-timestamp."""
    return f"{base_job_name(job)}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}"


def _listing(*argv: str) -> str | None:
    """What a device tool prints, or None without the tool (no such device here)."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None


@cache
def _count_gpus() -> int:
    # As the container counts them: the GPUs nvidia-smi lists.
    listing = _listing("nvidia-smi", "--list-gpus") or ""
    return sum(1 for line in listing.splitlines() if line.startswith("GPU "))


@cache
def _count_neuron_cores() -> int:
    try:
        devices = json.loads(_listing("neuron-ls", "-j") or "[]")
        return sum(int(device.get("nc_count", 0)) for device in devices)
    except (ValueError, TypeError, AttributeError):
        return 0


@dataclass(frozen=True)
class TrainingJob:
    """What a training container's environment and config files are made of."""

    name: str  # the job's name, TRAINING_JOB_NAME
    channels: Sequence[str]  # the input channels given to this run, in order
    # As SageMaker stores them (strings; JSON where the value is not a string).
    hyperparameters: Mapping[str, str]

    @property
    def all_channels(self) -> list[str]:
        return [*self.channels, CODE_CHANNEL]

    def resource_config(self) -> dict[str, Any]:
        return {
            "current_host": TRAINING_HOST,
            "hosts": [TRAINING_HOST],
            "network_interface_name": TRAINING_NETWORK_INTERFACE,
            "current_instance_type": INSTANCE_TYPE,
        }

    def input_data_config(self) -> dict[str, Any]:
        return {channel: {"TrainingInputMode": "File"} for channel in self.all_channels}

    def config_files(self) -> dict[str, Any]:
        """Container path -> the JSON document SageMaker writes there."""
        return {
            f"{INPUT_CONFIG_DIR}/hyperparameters.json": dict(self.hyperparameters),
            f"{INPUT_CONFIG_DIR}/resourceconfig.json": self.resource_config(),
            f"{INPUT_CONFIG_DIR}/inputdataconfig.json": self.input_data_config(),
        }

    def environment(self, where: Where = _same) -> dict[str, str]:
        """The `SM_*` variables (and TRAINING_JOB_NAME) the job's script finds set."""
        channels = self.all_channels
        channel_dirs = {channel: where(training_channel_path(channel)) for channel in channels}
        hyperparameters = {key: _deserialized(value) for key, value in self.hyperparameters.items()}
        resources = self.resource_config()
        hosts = sorted(resources["hosts"])
        values: dict[str, Any] = {
            "SM_MODEL_DIR": where(MODEL_DIR),
            "SM_INPUT_DIR": where(INPUT_DIR),
            "SM_INPUT_DATA_DIR": where(INPUT_DATA_DIR),
            "SM_INPUT_CONFIG_DIR": where(INPUT_CONFIG_DIR),
            "SM_OUTPUT_DIR": where(OUTPUT_DIR),
            "SM_OUTPUT_FAILURE": where(OUTPUT_FAILURE),
            "SM_OUTPUT_DATA_DIR": where(OUTPUT_DATA_DIR),
            "SM_LOG_LEVEL": LOG_LEVEL,
            "SM_MASTER_ADDR": TRAINING_HOST,
            "SM_MASTER_PORT": MASTER_PORT,
            "SM_SOURCE_DIR": channel_dirs[CODE_CHANNEL],
            # mlmax gives the SDK a command, not an entry script, so the SDK's is null.
            "SM_ENTRY_SCRIPT": None,
            **{f"SM_CHANNEL_{channel.upper()}": path for channel, path in channel_dirs.items()},
            "SM_CHANNELS": channels,
            **{
                f"SM_HP_{key.replace('-', '_').upper()}": value
                for key, value in hyperparameters.items()
            },
            "SM_HPS": hyperparameters,
            "SM_CURRENT_HOST": resources["current_host"],
            "SM_CURRENT_INSTANCE_TYPE": resources["current_instance_type"],
            "SM_HOSTS": hosts,
            "SM_NETWORK_INTERFACE_NAME": resources["network_interface_name"],
            "SM_HOST_COUNT": len(hosts),
            "SM_CURRENT_HOST_RANK": hosts.index(resources["current_host"]),
            "SM_NUM_CPUS": os.cpu_count() or 1,
            "SM_NUM_GPUS": _count_gpus(),
            "SM_NUM_NEURONS": _count_neuron_cores(),
            "SM_RESOURCE_CONFIG": resources,
            "SM_INPUT_DATA_CONFIG": self.input_data_config(),
        }
        values["SM_TRAINING_ENV"] = {
            "channel_input_dirs": channel_dirs,
            "current_host": values["SM_CURRENT_HOST"],
            "current_instance_type": values["SM_CURRENT_INSTANCE_TYPE"],
            "hosts": hosts,
            "master_addr": values["SM_MASTER_ADDR"],
            "master_port": values["SM_MASTER_PORT"],
            "hyperparameters": hyperparameters,
            "input_data_config": values["SM_INPUT_DATA_CONFIG"],
            "input_config_dir": values["SM_INPUT_CONFIG_DIR"],
            "input_data_dir": values["SM_INPUT_DATA_DIR"],
            "input_dir": values["SM_INPUT_DIR"],
            "job_name": self.name,
            "log_level": values["SM_LOG_LEVEL"],
            "model_dir": values["SM_MODEL_DIR"],
            "network_interface_name": values["SM_NETWORK_INTERFACE_NAME"],
            "num_cpus": values["SM_NUM_CPUS"],
            "num_gpus": values["SM_NUM_GPUS"],
            "num_neurons": values["SM_NUM_NEURONS"],
            "output_data_dir": values["SM_OUTPUT_DATA_DIR"],
            "resource_config": resources,
        }
        return {
            "TRAINING_JOB_NAME": self.name,
            **{key: _serialized(value) for key, value in values.items()},
        }


@dataclass(frozen=True)
class ProcessingChannel:
    """One input or output of a processing job: its name, where its data is, its path."""

    name: str
    uri: str  # the data's location outside the container (a file:// URI on the host)
    local_path: str  # the container path


@dataclass(frozen=True)
class ProcessingJob:
    """What a processing container's /opt/ml/config files are made of."""

    name: str  # the job's name, ProcessingJobName
    inputs: Sequence[ProcessingChannel]
    outputs: Sequence[ProcessingChannel]
    entrypoint: Sequence[str]
    arguments: Sequence[str]
    environment: Mapping[str, str]
    max_runtime_seconds: int = MAX_RUNTIME_SECONDS

    def config_files(self) -> dict[str, Any]:
        """Container path -> the JSON document SageMaker writes there."""
        # One host per job, named as Local Mode names it (algo-1 and a random suffix).
        host = "algo-1-" + "".join(
            secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5)
        )
        resources = {
            "current_host": host,
            "hosts": [host],
            "network_interface_name": PROCESSING_NETWORK_INTERFACE,
            "current_instance_type": INSTANCE_TYPE,
        }
        job = {
            "ProcessingJobArn": self.name,
            "ProcessingJobName": self.name,
            "AppSpecification": {
                "ContainerEntrypoint": list(self.entrypoint),
                "ContainerArguments": list(self.arguments) or None,
            },
            "Environment": dict(self.environment),
            "ProcessingInputs": [_processing_input(channel) for channel in self.inputs],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": channel.name,
                        "S3Output": {
                            "S3Uri": channel.uri,
                            "LocalPath": channel.local_path,
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                    for channel in self.outputs
                ]
            },
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": INSTANCE_TYPE,
                    "VolumeSizeInGB": 30,
                    "VolumeKmsKeyId": None,
                }
            },
            "RoleArn": "<no_role>",
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_runtime_seconds},
        }
        return {
            f"{PROCESSING_CONFIG_DIR}/resourceconfig.json": resources,
            f"{PROCESSING_CONFIG_DIR}/processingjobconfig.json": job,
        }


def _processing_input(channel: ProcessingChannel) -> dict[str, Any]:
    return {
        "InputName": channel.name,
        "S3Input": {
            "S3Uri": channel.uri,
            "LocalPath": channel.local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        },
        "DataUri": channel.uri,
    }


def write_config_files(files: Mapping[str, Any], where: Where) -> None:
    """Write each document where the job finds its container path."""
    for container_path, document in files.items():
        path = Path(where(container_path))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document), encoding="utf-8")
