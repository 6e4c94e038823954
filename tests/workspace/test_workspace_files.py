"""The VS Code and Dev Container files: they parse, validate and agree with the code."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from mlmax.localmode.debug.readiness import ready_line
from mlmax.localmode.endpoint.hosting import SERVING_CODE_ROOT
from mlmax.project.catalog import JOBS, PROCESSING_CODE_ROOT, TRAINING_CODE_ROOT
from tests.support import jsonc
from tests.support.vscode import (
    DEVCONTAINER,
    DEVCONTAINER_SCHEMA,
    REPO,
    VSCODE,
    Editor,
    jsonc_files,
    launch,
    settings,
    substitute,
    substitute_all,
    task,
    tasks,
)

INSPECT_AT_CURSOR = "mlmax: inspect the container test at the cursor"
INSPECT_TASKS = (INSPECT_AT_CURSOR, "mlmax: inspect the container test in this file")


ENDPOINT_ATTACH = "Debug the endpoint handler"


def _attach_configs() -> list[dict[str, Any]]:
    return [c for c in launch()["configurations"] if c.get("request") == "attach"]


# --- every file parses -------------------------------------------------------------------


@pytest.mark.parametrize("path", jsonc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_jsonc_file_parses_to_an_object(path: Path) -> None:
    assert isinstance(jsonc.load(path), dict)


def test_the_workspace_has_all_its_files() -> None:
    names = {str(p.relative_to(REPO)) for p in jsonc_files()}
    assert names == {
        ".vscode/settings.json",
        ".vscode/extensions.json",
        ".vscode/tasks.json",
        ".vscode/launch.json",
        ".devcontainer/devcontainer.json",
    }


# --- devcontainer.json ---------------------------------------------------------------------


def test_devcontainer_json_validates_against_the_dev_container_schema() -> None:
    if not DEVCONTAINER_SCHEMA.is_file():
        pytest.skip(
            f"the Dev Container schema is not at {DEVCONTAINER_SCHEMA} (it is kept outside the "
            "project); put devContainer.base.schema.json there to run this check"
        )
    import jsonschema

    schema = jsonc.load(DEVCONTAINER_SCHEMA)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    config = jsonc.load(DEVCONTAINER / "devcontainer.json")
    errors = sorted(validator_class(schema).iter_errors(config), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_check_would_catch_a_wrong_devcontainer_json() -> None:
    # Guards the test above against a schema (or validator) that accepts anything.
    if not DEVCONTAINER_SCHEMA.is_file():
        pytest.skip(f"the Dev Container schema is not at {DEVCONTAINER_SCHEMA}")
    import jsonschema

    schema = jsonc.load(DEVCONTAINER_SCHEMA)
    validator = jsonschema.validators.validator_for(schema)(schema)
    config = jsonc.load(DEVCONTAINER / "devcontainer.json")
    assert not validator.is_valid({**config, "workspaceMount": 42})
    assert not validator.is_valid({**config, "runArgs": "--network=host"})


def test_devcontainer_uses_docker_outside_of_docker_at_the_same_path() -> None:
    config = jsonc.load(DEVCONTAINER / "devcontainer.json")
    assert config["workspaceFolder"] == "${localWorkspaceFolder}"
    mount = dict(part.split("=", 1) for part in config["workspaceMount"].split(","))
    assert mount == {
        "source": "${localWorkspaceFolder}",
        "target": "${localWorkspaceFolder}",
        "type": "bind",
    }
    assert "source=/var/run/docker.sock,target=/var/run/docker.sock,type=bind" in config["mounts"]
    assert "--network=host" in config["runArgs"]
    # Local Mode's directories inside the workspace, so the host's daemon finds them.
    assert config["containerEnv"]["MLMAX_WORK_DIR"] == "${containerWorkspaceFolder}/.mlmax"
    assert config["containerEnv"]["TMPDIR"].startswith("${containerWorkspaceFolder}/.mlmax/")
    assert ".mlmax/" in (REPO / ".gitignore").read_text().split()
    # Features are downloaded from a registry at build time: none, so it builds offline.
    assert "features" not in config


def test_devcontainer_post_create_command_runs_the_project_set_up() -> None:
    config = jsonc.load(DEVCONTAINER / "devcontainer.json")
    command = config["postCreateCommand"].split()
    assert command[0] == "bash"
    script = REPO / command[1]
    assert script.is_file()
    assert "scripts/setup.sh" in script.read_text()
    assert (REPO / "scripts" / "setup.sh").is_file()


def test_devcontainer_build_takes_the_base_image_as_an_argument() -> None:
    config = jsonc.load(DEVCONTAINER / "devcontainer.json")
    assert (DEVCONTAINER / config["build"]["dockerfile"]).is_file()
    assert "BASE_IMAGE" in config["build"]["args"]
    dockerfile = (DEVCONTAINER / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-bookworm$", dockerfile, re.M)
    froms = re.findall(r"^FROM (.+)$", dockerfile, re.M)
    assert froms == ["${BASE_IMAGE:-python:3.11-bookworm}"]
    # No BuildKit frontend pull, and the Debian packages the container needs.
    assert "# syntax=" not in dockerfile
    for package in ("docker.io", "docker-compose", "git", "mmdebstrap", "python3-venv"):
        assert re.search(rf"\s{re.escape(package)}(\s|;|$)", dockerfile), package


def test_no_registry_or_cloud_host_names_in_the_workspace_files() -> None:
    host = re.compile(
        r"(ghcr\.io|mcr\.microsoft\.com|registry[-.\w]*\.(io|com)|quay\.io|gcr\.io|pkg\.dev"
        r"|amazonaws\.com|docker\.io/|docker\.com)",
        re.I,
    )
    files = [*VSCODE.glob("*.json"), *DEVCONTAINER.rglob("*")]
    offenders = [
        f"{path.relative_to(REPO)}: {match.group(0)}"
        for path in files
        if path.is_file()
        for match in [host.search(path.read_text(errors="replace"))]
        if match
    ]
    assert not offenders


# --- extensions and settings ---------------------------------------------------------------


def test_extensions_recommend_what_the_workspace_uses() -> None:
    recommended = set(jsonc.load(VSCODE / "extensions.json")["recommendations"])
    assert {
        "ms-python.python",
        "ms-python.debugpy",
        "charliermarsh.ruff",
        "ms-vscode-remote.remote-containers",
    } <= recommended
    in_container = set(
        jsonc.load(DEVCONTAINER / "devcontainer.json")["customizations"]["vscode"]["extensions"]
    )
    assert {"ms-python.python", "ms-python.debugpy", "charliermarsh.ruff"} <= in_container


def test_settings_enable_pytest_with_container_tests_run_in_their_containers() -> None:
    shipped = settings()
    # Only a default: the tasks and launch configurations use whichever one is selected.
    assert shipped["python.defaultInterpreterPath"] == "${workspaceFolder}/.venv/bin/python"
    assert shipped["python.testing.pytestEnabled"] is True
    assert shipped["python.testing.unittestEnabled"] is False
    # Every Run gesture of the Test Explorer runs a container test in its container
    # (discovery stays Docker-free: tests/workspace/test_test_explorer.py).
    assert "--smlocal" in shipped["python.testing.pytestArgs"]
    assert shipped["[python]"]["editor.defaultFormatter"] == "charliermarsh.ruff"


# --- tasks ---------------------------------------------------------------------------------


def test_every_task_runs_the_selected_interpreter() -> None:
    labels = [t["label"] for t in tasks()["tasks"]]
    assert len(labels) == len(set(labels)), "task labels must be unique"
    for definition in tasks()["tasks"]:
        assert definition["command"] == "${command:python.interpreterPath}"
        assert substitute(definition["command"], REPO) == sys.executable
        assert definition["args"][0] == "-m"
        assert definition["options"]["cwd"] == "${workspaceFolder}"
        # Every variable resolves (VS Code refuses tasks with unknown ones).
        substitute_all(definition["args"], REPO, Editor(file=REPO / "tests" / "x.py", line=3))
    # No path into a particular virtualenv anywhere in the tasks or launch configurations.
    for name in ("tasks.json", "launch.json"):
        assert ".venv" not in (VSCODE / name).read_text()


@pytest.mark.parametrize("label", INSPECT_TASKS)
def test_inspect_tasks_are_background_tasks_ending_on_the_ready_line(label: str) -> None:
    definition = task(label)
    assert definition["isBackground"] is True
    args = definition["args"]
    assert args[:2] == ["-m", "pytest"]
    assert args[-2:] == ["--smlocal", "--inspectlocal"]  # a test after it would be its value
    background = definition["problemMatcher"]["background"]
    assert background["activeOnStart"] is True
    for key in ("beginsPattern", "endsPattern"):
        assert not background[key].startswith("^"), "prefixed output must still match"
    ends = re.compile(background["endsPattern"])
    ready = ready_line(5678, "preprocessing", PROCESSING_CODE_ROOT)  # what inspect mode prints
    assert ends.search(ready)
    assert ends.search("algo-1-abcde  | " + ready)
    assert not ends.search(ready.replace("127.0.0.1", "0.0.0.0"))
    assert re.compile(background["beginsPattern"]).search(
        "============================= test session starts =============================="
    )
    pattern = definition["problemMatcher"]["pattern"]
    location = re.search(pattern["regexp"], "tests/localmode/test_x.py:42: AssertionError")
    assert location is not None
    assert location.group(pattern["file"]) == "tests/localmode/test_x.py"
    assert location.group(pattern["line"]) == "42"


def test_no_task_names_a_test_id() -> None:
    """Any container test can be inspected with no edit here: the editor names the test."""
    assert "inputs" not in tasks(), "a pick list of tests is a hand-kept list that drifts"
    text = (VSCODE / "tasks.json").read_text()
    assert not re.search(r"\w+\.py::\w", text), "a test id in tasks.json"
    args = task(INSPECT_AT_CURSOR)["args"]
    assert args[args.index("--test-at") + 1] == "${file}:${lineNumber}"
    assert args[2] == "${file}"  # collection limited to the file open in the editor


# --- launch configurations -----------------------------------------------------------------


def test_every_task_a_launch_configuration_names_exists() -> None:
    labels = {t["label"] for t in tasks()["tasks"]}
    referenced = [
        c[key]
        for c in launch()["configurations"]
        for key in ("preLaunchTask", "postDebugTask")
        if key in c
    ]
    assert referenced, "the one-click configurations name their inspect task"
    assert set(referenced) <= labels
    for label in referenced:
        assert task(label)["isBackground"] is True  # otherwise VS Code never attaches


def test_every_path_mapping_local_root_exists_and_holds_the_job_files() -> None:
    configs = _attach_configs()
    assert len(configs) >= 2
    job_files = {job.script_path.resolve() for job in JOBS.values()}
    for config in configs:
        mappings = config["pathMappings"]
        # The endpoint's handler runs from the one root the SDK mounts for serving code.
        roots = (
            {SERVING_CODE_ROOT}
            if config["name"] == ENDPOINT_ATTACH
            else {PROCESSING_CODE_ROOT, TRAINING_CODE_ROOT}
        )
        assert {m["remoteRoot"].rstrip("/") for m in mappings} == roots
        for mapping in mappings:
            local_root = Path(substitute(mapping["localRoot"], REPO))
            assert local_root.is_dir(), local_root
            assert all(path.parent == local_root.resolve() for path in job_files)
            assert all((local_root / path.name).is_file() for path in job_files)


def test_attach_configurations_match_the_inspect_defaults() -> None:
    from mlmax.pytest_plugin import plugin

    for config in _attach_configs():
        assert config["type"] == "debugpy"
        assert config["connect"] == {"host": "127.0.0.1", "port": plugin.DEFAULT_INSPECT_PORT}


def test_debug_test_configuration_turns_coverage_off() -> None:
    (config,) = [c for c in launch()["configurations"] if "debug-test" in c.get("purpose", [])]
    assert config["type"] == "debugpy"
    assert config["request"] == "launch"
    assert "--no-cov" in config["env"]["PYTEST_ADDOPTS"].split()


def test_host_pipeline_configuration_runs_the_mlmax_module() -> None:
    (config,) = [c for c in launch()["configurations"] if c.get("module") == "mlmax"]
    assert config["args"][:3] == ["pipeline", "--runner", "host"]
    assert (REPO / "mlmax" / "__main__.py").is_file()
