"""The host runner gives a job what its SageMaker container gives it: /opt/ml mapped in a user
and mount namespace, the SM_* environment and the config files; where Linux refuses the
namespace, a script that uses a container path fails with one sentence naming path and fix.

Namespace creation is made to fail for real: a throwaway user namespace (`unshare --user
--map-root-user`) in which /proc/sys/user/max_user_namespaces is set to 0, the setting a
machine without unprivileged user namespaces has, so the runner's own unshare call is refused
by the kernel (ENOSPC) as it would be there.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlmax.project.catalog import Channel, JobDefinition, JobRun
from mlmax.runners.host import HostRunner
from mlmax.runners.mount_namespace import unavailable_reason
from mlmax.runners.sagemaker_environment import TrainingJob
from tests.support.other_user import USER, DockerUser, create_user, reachable_by_others
from tests.support.xdist_groups import OTHER_USER

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "smscripts"
TEXTS = EXAMPLE / "data" / "texts"
TRAIN_CSV = EXAMPLE / "data" / "train" / "shapes.csv"
CLI_TIMEOUT = 300
DISABLED = "user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0)"


def _job(folder: Path, body: str, *, kind: str = "processing") -> JobDefinition:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.py").write_text(body)
    if kind == "training":
        inputs = (Channel("train", "--train", "/opt/ml/input/data/train"),)
        outputs = (Channel("model", "--model-dir", "/opt/ml/model"),)
    else:
        inputs = (Channel("data", "--data", "/opt/ml/processing/input/data"),)
        outputs = (Channel("out", "--out", "/opt/ml/processing/output/out"),)
    return JobDefinition("probe", "job.py", kind, inputs, outputs, source_dir=folder)  # type: ignore[arg-type]


LOOKS_AROUND = """
import json, os
from pathlib import Path
out = Path("/opt/ml/processing/output/out")
report = {
    "opt": sorted(os.listdir("/opt")),
    "data": Path("/opt/ml/processing/input/data/words.txt").read_text(),
    "code": sorted(os.listdir("/opt/ml/processing/input/code")),
    "config": sorted(os.listdir("/opt/ml/config")),
    "uid": os.getuid(),
    "cwd_is_code": os.getcwd().startswith("/opt/ml"),
}
(out / "report.json").write_text(json.dumps(report))
print("read /opt/ml/processing/input/data/words.txt and /opt/ml/config/resourceconfig.json")
"""


def test_a_job_finds_its_channels_code_and_config_at_container_paths_and_the_rest_of_opt(
    tmp_path: Path,
) -> None:
    job = _job(tmp_path / "code", LOOKS_AROUND)
    data = tmp_path / "data"
    data.mkdir()
    (data / "words.txt").write_text("two words")
    host_opt = sorted(os.listdir("/opt"))
    with HostRunner() as runner:
        assert runner.unmappable is None
        result = runner.run_step(JobRun(job, {"data": data}, {"out": tmp_path / "out"}))
    written = tmp_path / "out" / "report.json"
    report = json.loads(written.read_text())
    assert report["opt"] == sorted({*host_opt, "ml"})  # the host's /opt is all still there
    assert report["data"] == "two words"
    assert report["code"] == ["job.py"]
    assert report["config"] == ["processingjobconfig.json", "resourceconfig.json"]
    assert report["uid"] == os.getuid() == written.stat().st_uid
    assert report["cwd_is_code"] is False  # a scratch directory, never the source folder
    # The log names the files the user gave; what only the run had keeps its container path.
    expected = f"read {data / 'words.txt'} and /opt/ml/config/resourceconfig.json"
    assert expected in result.log
    # Nothing of the job's mounts reached the host.
    assert sorted(os.listdir("/opt")) == host_opt
    assert not Path("/opt/ml").exists() or "ml" in host_opt


def test_the_training_environment_is_the_one_the_sdks_own_container_script_sets(
    tmp_path: Path,
) -> None:
    """The SDK's environment script (what ModelTrainer runs in the training container) given
    the same config documents sets exactly the variables the host runner sets."""
    job = TrainingJob(
        "mlmax-fit-20260101000000",
        ["train", "test"],
        {"n-estimators": "7", "criterion": "gini", "max_depth": "null", "lr": "0.1"},
    )
    files = job.config_files()
    config = {Path(path).name: document for path, document in files.items()}
    script = f"""
import json, sys
from sagemaker.train.container_drivers.scripts import environment
config = json.loads(sys.argv[1])
environment.set_env(
    config["resourceconfig.json"],
    config["inputdataconfig.json"],
    config["hyperparameters.json"],
    output_file={str(tmp_path / "sm_training.env")!r},
)
"""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SM_")} | {
        "TRAINING_JOB_NAME": job.name
    }
    subprocess.run(
        [sys.executable, "-c", script, json.dumps(config)],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    sdk = {}
    for line in (tmp_path / "sm_training.env").read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        [sdk[key]] = shlex.split(value)
    ours = job.environment()
    assert ours.pop("TRAINING_JOB_NAME") == job.name
    # The SDK reads the source folder's and distribution's settings from its own files.
    assert sdk.pop("SM_SOURCE_DIR", None) is None and sdk.pop("SM_ENTRY_SCRIPT", None) is None
    ours.pop("SM_SOURCE_DIR"), ours.pop("SM_ENTRY_SCRIPT")
    assert ours == sdk
    assert ours["SM_HP_N_ESTIMATORS"] == "7" and ours["SM_HP_MAX_DEPTH"] == "null"
    assert json.loads(ours["SM_HPS"])["lr"] == 0.1


# -- where Linux refuses the namespace -------------------------------------------------------


def _without_user_namespaces(*argv: str) -> list[str]:
    """`argv` in a throwaway user namespace that may create no user namespace of its own."""
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to switch user namespaces off for a test"
    limit = "/proc/sys/user/max_user_namespaces"
    script = f'echo 0 > {limit} && exec "$@"'
    return [unshare, "--user", "--map-root-user", "/bin/sh", "-c", script, "sh", *argv]


def _mlmax(*argv: str) -> list[str]:
    return [sys.executable, "-m", "mlmax", *argv]


def test_the_check_reads_the_kernels_refusal(tmp_path: Path) -> None:
    assert unavailable_reason() is None  # here the runner maps /opt/ml
    done = subprocess.run(
        _without_user_namespaces(
            sys.executable,
            "-c",
            "from mlmax.runners.mount_namespace import unavailable_reason as r; print(r())",
        ),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == DISABLED


def test_a_script_with_container_paths_gets_one_sentence_and_exit_code_2(tmp_path: Path) -> None:
    done = subprocess.run(
        _without_user_namespaces(
            *_mlmax(
                "run", "word-count", "--runner", "host",
                "--input", f"input_data={TEXTS}", "--output", f"counts={tmp_path / 'counts'}",
            )
        ),
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    [sentence] = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert sentence == (
        "error: job 'word-count' used the container path /opt/ml/processing/input_data, which "
        f"the host runner cannot map here because {DISABLED}; read the path from "
        "--input-data, where mlmax passes input 'input_data', or run the job in its "
        "container with --runner local"
    )
    assert not any((tmp_path / "counts").iterdir())


def test_a_script_that_reads_sm_variables_runs_without_the_namespace(tmp_path: Path) -> None:
    # A file input: SM_CHANNEL_TRAIN is still a directory, holding the file.
    done = subprocess.run(
        _without_user_namespaces(
            *_mlmax(
                "run", "fit", "--runner", "host",
                "--input", f"train={TRAIN_CSV}", "--output", f"model={tmp_path / 'model'}",
                "--", "--n-estimators", "5",
            )
        ),
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"train_rows": 120' in done.stdout
    import joblib

    assert joblib.load(tmp_path / "model" / "model.joblib").n_estimators == 5


# -- as root and as another user -------------------------------------------------------------


@pytest.fixture(scope="module")
def other_user() -> Iterator[DockerUser]:
    if os.getuid() != 0:
        pytest.skip(f"needs root to create the non-root test user {USER!r}; CI runs as root")
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run commands as the test user"
    create_user()
    import pwd

    entry = pwd.getpwnam(USER)
    with reachable_by_others([Path(sys.executable), Path(sys.base_prefix), REPO]):
        yield DockerUser(USER, entry.pw_uid, Path(entry.pw_dir), setpriv)


def _as_root(*argv: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@OTHER_USER
@pytest.mark.parametrize("who", ["root", "other user"])
def test_the_example_runs_on_the_host_as_its_caller(
    who: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Both scripts unchanged, each file they write the caller's."""
    if who == "root":
        if os.getuid() != 0:
            pytest.skip("this case runs as root; CI runs the suite as root")
        uid, run, place = 0, _as_root, tmp_path_factory.mktemp("root-host")
    else:
        user: DockerUser = request.getfixturevalue("other_user")
        uid, run = user.uid, user.run
        made = user.run(
            sys.executable, "-c", "import tempfile; print(tempfile.mkdtemp())",
            cwd=Path("/tmp"), timeout=60,
        )  # fmt: skip
        place = Path(made.stdout.strip())
    try:
        for job, given, output in (
            ("word-count", f"input_data={TEXTS}", f"counts={place / 'counts'}"),
            ("fit", f"train={TRAIN_CSV.parent}", f"model={place / 'model'}"),
        ):
            command = _mlmax("run", job, "--runner", "host", "--input", given, "--output", output)
            done = run(*command, cwd=EXAMPLE, timeout=CLI_TIMEOUT)
            assert done.returncode == 0, done.stdout + done.stderr
        summary = json.loads((place / "counts" / "summary.json").read_text())
        assert summary == {"files": 2, "words": 46, "distinct": 33, "instance_type": "local"}
        written = [place / "counts" / "counts.csv", place / "model" / "model.joblib"]
        assert [path.stat().st_uid for path in written] == [uid, uid]
    finally:
        shutil.rmtree(place, ignore_errors=True)
