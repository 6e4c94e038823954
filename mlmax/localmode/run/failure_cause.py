"""Why a job failed, read from its container log and the engine's state: the cause and the fix.

A failed job's sentence names what the log shows rather than only the exit code: the engine
killed it for memory (its OOMKilled flag), a module its image lacks (and the requirements file
to add it to), a container path that is none of its declared channels (and the channels it
has, with the host directories the user gave), an output left empty (and the path the script
should have written). Anything else keeps the exit code and the log tail.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from mlmax.project import Channel, JobRun, MemoryLimit

_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")
_PATH_ERROR = re.compile(
    r"(PermissionError|FileNotFoundError|NotADirectoryError|IsADirectoryError|OSError): "
    r"\[Errno \d+\] [^'\n]*'(/opt/ml/[^'\n]*)'"
)
# Folders SageMaker itself provides, which no channel declares: the job's code, its config,
# a training job's output data (SM_OUTPUT_DATA_DIR) and failure file.
_SAGEMAKER_PATHS = (
    "/opt/ml/processing/input/code",
    "/opt/ml/input/data/code",
    "/opt/ml/input/config",
    "/opt/ml/config",
    "/opt/ml/output",
)
# How far above the job's source_dir a project's own module is looked for.
_PROJECT_DEPTH = 3


@dataclass(frozen=True)
class Cause:
    """What the failure's sentence says: the cause and the fix."""

    reason: str
    fix: str


def failure_cause(
    run: JobRun, logs: str, *, oom_killed: bool, memory: MemoryLimit | None
) -> Cause | None:
    """The cause of a failed run that the engine's state or its log names, or None."""
    if oom_killed:
        return _out_of_memory(run, memory)
    modules = _MISSING_MODULE.findall(logs)
    if modules:
        return _missing_module(run, modules[-1])
    paths = _PATH_ERROR.findall(logs)
    if paths:
        return _path_error(run, *paths[-1])
    return None


def empty_output(run: JobRun, channel: str) -> Cause:
    """The job exited with 0 but left a declared output empty (a training job's model)."""
    outputs = run.job.outputs
    declared = next((c for c in outputs if c.name == channel), None) or outputs[0]
    channel = declared.name
    host = run.outputs.get(channel)
    copied = f", which mlmax copies to {host}" if host is not None else ""
    return Cause(
        reason=f"exited with code 0 but wrote nothing to its output {channel!r} "
        f"at container path {declared.container_path}",
        fix=f"make the script write its files under {declared.container_path} "
        f"(its {declared.argument} option){copied}, and run it again",
    )


def _out_of_memory(run: JobRun, memory: MemoryLimit | None) -> Cause:
    job = run.job.name
    if memory is None:
        return Cause(
            reason="ran out of this machine's memory and was killed by the engine (OOMKilled)",
            fix="make the job use less memory, or free memory on this machine, and run it again",
        )
    return Cause(
        reason=f"ran out of memory at its limit of {memory} and was killed by the engine "
        "(OOMKilled), as its instance would kill it on SageMaker",
        fix=f"make the job use less memory, or give it more: a larger instance_type in "
        f"[tool.mlmax.jobs.{job}], or --sm-memory (pytest) or --memory (mlmax run)",
    )


def _missing_module(run: JobRun, module: str) -> Cause:
    job = run.job
    top = module.split(".")[0]
    reason = f"failed because its container has no Python module {top!r} (ModuleNotFoundError)"
    own = _project_module(job.source_dir, top)
    if own is not None:
        return Cause(
            reason,
            f"{own} is in the project but outside the code shipped to the container "
            f"({job.source_dir}); set source_dir in [tool.mlmax.jobs.{job.name}] to a folder "
            "that holds both, and run it again",
        )
    if job.requirements is not None:
        fix = (
            f"add the package that provides {top!r} to {job.requirements} (the requirements "
            "of the job's image, rebuilt on the next run), and run it again"
        )
    elif job.image is not None:
        fix = (
            f"install it in the job's image {job.image!r}, or declare requirements = "
            '"requirements.txt" in [tool.mlmax] instead of image, listing the package'
        )
    else:
        fix = (
            "declare the job image's requirements in the project's pyproject.toml "
            '([tool.mlmax] requirements = "requirements.txt") listing the package that '
            "provides it, and run it again"
        )
    return Cause(reason, fix)


def _project_module(source_dir: Path, module: str) -> Path | None:
    """The project's own module of that name above the job's code (the code itself is on the
    container's path, so a module there would have been found), if there is one."""
    for folder in [*source_dir.parents][:_PROJECT_DEPTH]:
        for candidate in (folder / f"{module}.py", folder / module / "__init__.py"):
            if candidate.is_file():
                return candidate if candidate.name != "__init__.py" else candidate.parent
    return None


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _path_error(run: JobRun, error: str, path: str) -> Cause | None:
    job = run.job
    channels = [*((c, "input") for c in job.inputs), *((c, "output") for c in job.outputs)]
    for channel, direction in channels:
        if _under(path, channel.container_path):
            return _in_channel(run, error, path, channel, direction)
    if any(_under(path, folder) for folder in _SAGEMAKER_PATHS):
        return None
    declared = "; ".join(_describe(run, c, d) for c, d in channels) or "none"
    return Cause(
        reason=f"used container path {path} ({error}), which is none of its declared channels",
        fix=f"make the script use a declared channel's path, or declare a channel with path "
        f"{posixpath.dirname(path)!r} in [tool.mlmax.jobs.{job.name}] "
        f"(declared: {declared})",
    )


def _in_channel(
    run: JobRun, error: str, path: str, channel: Channel, direction: str
) -> Cause | None:
    """A missing file inside an input channel: the user's host directory lacks it."""
    host = run.inputs.get(channel.name) if direction == "input" else None
    if error != "FileNotFoundError" or host is None:
        return None
    relative = posixpath.relpath(path, channel.container_path)
    return Cause(
        reason=f"read {path}, which its input {channel.name!r} does not have ({error})",
        fix=f"put {relative} in {Path(host) / relative if relative != '.' else host}, "
        "or make the script read a file the input has, and run it again",
    )


def _describe(run: JobRun, channel: Channel, direction: str) -> str:
    host = (run.inputs if direction == "input" else run.outputs).get(channel.name)
    arrow = "from" if direction == "input" else "to"
    where = f" {arrow} {host}" if host is not None else ""
    return f"{direction} {channel.name!r} at {channel.container_path}{where}"
