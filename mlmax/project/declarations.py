"""Jobs declared in a project's pyproject.toml: `[tool.mlmax]` and `[tool.mlmax.jobs.<name>]`.

Any project that installs mlmax declares its own jobs there; the census sample's catalogue
(`mlmax_census/jobs.toml`) is the same kind of declaration, read by the same code. A bad
declaration raises `DeclarationError`: one sentence naming the file, the key and the fix.

    [tool.mlmax]
    requirements = "requirements.txt"      # the project's job image (or image = "tag")

    [tool.mlmax.jobs.clean]
    script = "src/churn_jobs/clean.py"     # relative to the pyproject.toml
    kind = "processing"                    # or "training"
    source_dir = "src/churn_jobs"          # what ships into the container (default: the
                                           # script's folder)
    arguments = ["--min-rows", "10"]       # default arguments, before each run's own
    inputs = { raw = "--input-dir" }       # channel = the script's option (path defaulted)
    outputs.clean = { argument = "--output-dir", path = "/opt/ml/processing/clean" }
    instance_type = "ml.m5.large"          # on SageMaker; here its memory limits the job

    [tool.mlmax.endpoints.churn]
    script = "src/churn_jobs/fit.py"       # model_fn, input_fn, predict_fn, output_fn
    source_dir = "src/churn_jobs"          # what ships into the container (default: the
                                           # script's folder)
    model = "out/model"                    # what `mlmax serve churn` serves by default
"""

from __future__ import annotations

import posixpath
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlmax.common import UsageError
from mlmax.project.endpoint_definition import EndpointDefinition
from mlmax.project.job_definition import Channel, JobDefinition
from mlmax.project.memory import INSTANCE_MEMORY_GIB

PYPROJECT = "pyproject.toml"
KINDS = ("processing", "training")
_JOB_KEYS = {
    "script",
    "kind",
    "source_dir",
    "arguments",
    "inputs",
    "outputs",
    "image",
    "requirements",
    "instance_type",
}
_PROJECT_KEYS = {"jobs", "endpoints", "image", "requirements", "smlocal"}
_ENDPOINT_KEYS = {"script", "source_dir", "model"}
_CHANNEL_KEYS = {"argument", "path", "optional"}
MODEL_PATH = "/opt/ml/model"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class DeclarationError(UsageError, ValueError):
    """A job declaration is wrong; the message names the key and the fix."""


@dataclass(frozen=True)
class Project:
    """A project's mlmax settings: its name, root, jobs and default job image."""

    name: str
    root: Path
    jobs: dict[str, JobDefinition] = field(default_factory=dict)
    image: str | None = None
    requirements: Path | None = None
    # `smlocal = true`: the project's container tests run without `--smlocal`.
    smlocal: bool = False
    endpoints: dict[str, EndpointDefinition] = field(default_factory=dict)

    def endpoint(self, name: str) -> EndpointDefinition:
        """The endpoint declared as `name`; DeclarationError naming the declared ones."""
        if name not in self.endpoints:
            declared = ", ".join(sorted(self.endpoints)) or "none"
            raise DeclarationError(
                f"project {self.name} declares no endpoint {name!r} (declared: {declared}); "
                f"declare it as [tool.mlmax.endpoints.{name}] in {self.root / PYPROJECT}"
            )
        return self.endpoints[name]


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml at or above `start` (default: the working directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PYPROJECT
        if candidate.is_file():
            return candidate
    return None


def load_project(pyproject: Path) -> Project:
    """Read a pyproject.toml's `[tool.mlmax]`; a file without it declares no jobs."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise DeclarationError(f"{pyproject} is not valid TOML ({error}); fix its syntax") from None
    except UnicodeDecodeError as error:
        raise DeclarationError(
            f"{pyproject} is not UTF-8 text (byte {error.object[error.start]:#04x} at offset "
            f"{error.start}); save it as UTF-8, as TOML requires"
        ) from None
    except OSError as error:
        raise DeclarationError(
            f"cannot read {pyproject} ({error.strerror or error}); make it readable to you, "
            "or run mlmax from a folder outside that project"
        ) from None
    name = str(data.get("project", {}).get("name") or pyproject.parent.name)
    settings = data.get("tool", {}).get("mlmax", {})
    return parse_settings(settings, base=pyproject.parent, project=name, source=pyproject)


def parse_settings(
    settings: Mapping[str, Any], *, base: Path, project: str, source: Path
) -> Project:
    """A Project from the `[tool.mlmax]` table; relative paths are relative to `base`."""
    where = _Where(source, "[tool.mlmax]")
    where.check_keys(settings, _PROJECT_KEYS)
    image = where.optional_str(settings, "image")
    requirements = where.optional_file(settings, "requirements", base)
    if image and requirements:
        raise where.error("sets both image and requirements", "keep one of them")
    smlocal = settings.get("smlocal", False)
    if not isinstance(smlocal, bool):
        raise where.error("smlocal is not true or false", "write smlocal = true")
    jobs_table = settings.get("jobs", {})
    if not isinstance(jobs_table, Mapping):
        raise where.error("jobs is not a table", "declare jobs as [tool.mlmax.jobs.<name>]")
    jobs = {}
    for name, table in jobs_table.items():
        job = _parse_job(name, table, base=base, project=project, source=source)
        if not (job.image or job.requirements):  # the project's image, if it names one
            job = replace(job, image=image, requirements=requirements)
        jobs[name] = job
    endpoints_table = settings.get("endpoints", {})
    if not isinstance(endpoints_table, Mapping):
        raise where.error(
            "endpoints is not a table", "declare endpoints as [tool.mlmax.endpoints.<name>]"
        )
    endpoints = {
        name: _parse_endpoint(name, table, base=base, project=project, source=source)
        for name, table in endpoints_table.items()
    }
    return Project(
        name=project,
        root=base,
        jobs=jobs,
        image=image,
        requirements=requirements,
        smlocal=smlocal,
        endpoints=endpoints,
    )


def _parse_endpoint(
    name: str, table: Any, *, base: Path, project: str, source: Path
) -> EndpointDefinition:
    where = _Where(source, f"[tool.mlmax.endpoints.{name}]")
    if not _NAME.match(name):
        raise where.error("is not a usable endpoint name", "use letters, digits, '-', '_' or '.'")
    if not isinstance(table, Mapping):
        raise where.error("is not a table", 'give it script = "path/to/inference.py"')
    where.check_keys(table, _ENDPOINT_KEYS)
    if "script" not in table:
        raise where.error(
            "has no script", 'add script = "path/to/inference.py" (the file with model_fn)'
        )
    script = where.optional_file(table, "script", base)
    assert script is not None
    if script.suffix != ".py":
        raise where.error(f"script {script} is not a .py file", "point it at a Python script")
    source_dir = _source_dir(where, table, script, base)
    model = where.optional_str(table, "model")
    return EndpointDefinition(
        name=name,
        script=script.relative_to(source_dir).as_posix(),
        source_dir=source_dir,
        model_dir=(base / model).resolve() if model else None,
        project=project,
    )


def _parse_job(name: str, table: Any, *, base: Path, project: str, source: Path) -> JobDefinition:
    where = _Where(source, f"[tool.mlmax.jobs.{name}]")
    if not _NAME.match(name):
        raise where.error("is not a usable job name", "use letters, digits, '-', '_' or '.'")
    if not isinstance(table, Mapping):
        raise where.error("is not a table", "give it script, kind, inputs and outputs")
    where.check_keys(table, _JOB_KEYS)
    if "script" not in table:
        raise where.error("has no script", 'add script = "path/to/job.py"')
    script = where.optional_file(table, "script", base)
    assert script is not None
    kind = table.get("kind")
    if kind not in KINDS:
        raise where.error(
            f"kind {kind!r} is unknown" if kind is not None else "has no kind",
            'set kind = "processing" or kind = "training"',
        )
    source_dir = _source_dir(where, table, script, base)
    arguments = table.get("arguments", [])
    if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
        raise where.error("arguments is not a list of strings", 'write e.g. ["--c", "1.0"]')
    image = where.optional_str(table, "image")
    requirements = where.optional_file(table, "requirements", base)
    if image and requirements:
        raise where.error("sets both image and requirements", "keep one of them")
    instance_type = where.optional_str(table, "instance_type")
    if instance_type is not None and instance_type not in INSTANCE_MEMORY_GIB:
        raise where.error(
            f"instance_type {instance_type!r} is not in mlmax's memory table",
            f"use one of {', '.join(sorted(INSTANCE_MEMORY_GIB))}",
        )
    inputs = _channels(where, table, "inputs", kind)
    outputs = _channels(where, table, "outputs", kind)
    if kind == "training":
        outputs = _model_output(where, outputs)
    _check_unique(where, inputs + outputs)
    return JobDefinition(
        name=name,
        script=script.relative_to(source_dir).as_posix(),
        kind=kind,
        inputs=inputs,
        outputs=outputs,
        default_arguments=tuple(arguments),
        source_dir=source_dir,
        image=image,
        requirements=requirements,
        project=project,
        instance_type=instance_type,
    )


def _source_dir(where: _Where, table: Mapping[str, Any], script: Path, base: Path) -> Path:
    """The folder shipped as the job's code: `source_dir`, default the script's folder."""
    source_dir = script.parent
    if "source_dir" in table:
        source_dir = (base / where.string(table, "source_dir")).resolve()
        if not source_dir.is_dir():
            raise where.error(
                f"source_dir {source_dir} is not a folder", "point it at the script's folder"
            )
    if not script.is_relative_to(source_dir):
        raise where.error(
            f"script {script} is outside source_dir {source_dir}",
            "set source_dir to a folder that holds the script",
        )
    return source_dir


def _model_output(where: _Where, outputs: tuple[Channel, ...]) -> tuple[Channel, ...]:
    """A training job's one output: its model directory, declared or defaulted."""
    if not outputs:
        return (Channel("model", "--model-dir", MODEL_PATH),)
    if len(outputs) != 1 or outputs[0].container_path != MODEL_PATH:
        raise where.error(
            "declares training outputs other than the model directory",
            f"give one output at {MODEL_PATH} (or none: model = --model-dir)",
        )
    return outputs


def _default_path(kind: str, direction: str, name: str) -> str:
    if kind == "training":
        return MODEL_PATH if direction == "outputs" else f"/opt/ml/input/data/{name}"
    return f"/opt/ml/processing/{'input' if direction == 'inputs' else 'output'}/{name}"


def _channels(where: _Where, table: Mapping[str, Any], key: str, kind: str) -> tuple[Channel, ...]:
    declared = table.get(key, {})
    if isinstance(declared, list):  # the short form: names only, everything defaulted
        if not all(isinstance(name, str) for name in declared):
            raise where.error(f"{key} is a list of non-strings", f'write e.g. {key} = ["data"]')
        if len(set(declared)) != len(declared):
            duplicate = next(n for n in declared if declared.count(n) > 1)
            raise where.error(f"{key} names channel {duplicate!r} twice", "give each channel once")
        declared = {name: {} for name in declared}
    if not isinstance(declared, Mapping):
        raise where.error(f"{key} is not a table", f'write e.g. {key} = {{ data = "--data-dir" }}')
    channels = []
    for name, spec in declared.items():
        if isinstance(spec, str):
            spec = {"argument": spec}
        if not isinstance(spec, Mapping):
            raise where.error(
                f"{key}.{name} is neither an option name nor a table",
                f'write {key}.{name} = "--{name}-dir" or a table with argument and path',
            )
        _Where(where.file, f"{where.table[:-1]}.{key}.{name}]").check_keys(spec, _CHANNEL_KEYS)
        argument = spec.get("argument", f"--{name.replace('_', '-')}-dir")
        path = spec.get("path", _default_path(kind, key, name))
        if not str(argument).startswith("--") or not str(path).startswith("/opt/ml/"):
            raise where.error(
                f"{key}.{name} has argument {argument!r} and path {path!r}",
                "use an option like --data-dir and a container path under /opt/ml/",
            )
        _check_container_path(where, f"{key}.{name}", str(path))
        channels.append(Channel(name, str(argument), str(path), bool(spec.get("optional"))))
    return tuple(channels)


def _check_container_path(where: _Where, what: str, path: str) -> None:
    """A folder under /opt/ml/ as written: no `..` out of it, nothing compose reads as syntax."""
    if ":" in path:
        problem = "holds ':' (a volume mount reads it as the end of the path)"
    elif posixpath.normpath(path) != path:
        problem = "is not a plain path (it has '..', '.', '//' or a trailing '/')"
    else:
        return
    raise where.error(
        f"{what} path {path!r} {problem}",
        "write a plain folder under /opt/ml/ such as /opt/ml/processing/input/data",
    )


def _check_unique(where: _Where, channels: tuple[Channel, ...]) -> None:
    for attribute, what in (
        ("name", "channel"),
        ("argument", "argument"),
        ("container_path", "path"),
    ):
        seen: set[str] = set()
        for channel in channels:
            value = getattr(channel, attribute)
            if value in seen:
                raise where.error(
                    f"uses {what} {value!r} for two channels",
                    "give each input and output its own name, argument and path",
                )
            seen.add(value)


@dataclass(frozen=True)
class _Where:
    """Where a declaration came from, to make one-sentence errors."""

    file: Path
    table: str

    def error(self, problem: str, fix: str) -> DeclarationError:
        return DeclarationError(f"{self.file}: {self.table} {problem}; {fix}")

    def check_keys(self, table: Mapping[str, Any], allowed: set[str]) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.error(
                f"has unknown key {unknown[0]!r}", f"use only {', '.join(sorted(allowed))}"
            )

    def string(self, table: Mapping[str, Any], key: str) -> str:
        value = table[key]
        if not isinstance(value, str) or not value:
            raise self.error(f"{key} is not a non-empty string", f'write {key} = "..."')
        return value

    def optional_str(self, table: Mapping[str, Any], key: str) -> str | None:
        return self.string(table, key) if key in table else None

    def optional_file(self, table: Mapping[str, Any], key: str, base: Path) -> Path | None:
        if key not in table:
            return None
        path = (base / self.string(table, key)).resolve()
        if not path.is_file():
            raise self.error(
                f"{key} {path} does not exist", f"set {key} to a file relative to {base}"
            )
        return path


_cache: dict[Path, tuple[float, Project | None]] = {}


def current_project(start: Path | None = None) -> Project | None:
    """The project whose pyproject.toml is at or above `start` (default: the working
    directory), or None; re-read only when the file changes."""
    pyproject = find_pyproject(start)
    if pyproject is None:
        return None
    mtime = pyproject.stat().st_mtime
    cached = _cache.get(pyproject)
    if cached is None or cached[0] != mtime:
        project = load_project(pyproject)
        declares = (
            project.jobs
            or project.endpoints
            or project.image
            or project.requirements
            or project.smlocal
        )
        cached = (mtime, project if declares else None)
        _cache[pyproject] = cached
    return cached[1]
