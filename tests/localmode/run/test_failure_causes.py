"""A failed job's sentence names its cause and the fix, read from the container's log and the
engine's state: a missing module, a path that is no declared channel, an output left empty,
out of memory. Each job is a small script in a project written into tmp_path, as a user's is,
run in its real container; the memory limit of a declared instance type reaches the container."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from mlmax.localmode.errors import JobFailedError
from mlmax.localmode.run import run_job
from mlmax.project import JobRun
from mlmax.project.declarations import load_project
from tests.support.inner_pytest import isolate

pytestmark = pytest.mark.smlocal

GIB = 2**30
# The container's own cgroup limit, as the kernel enforces it (cgroup v2, then v1).
READ_LIMIT = """
import pathlib, sys
for name in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
    if pathlib.Path(name).is_file():
        limit = pathlib.Path(name).read_text().strip()
        break
out = pathlib.Path(sys.argv[sys.argv.index("{argument}") + 1])
out.mkdir(parents=True, exist_ok=True)
(out / "limit.txt").write_text(limit)
"""


def _project(root: Path, jobs: str, scripts: dict[str, str], requirements: bool = False) -> Path:
    """A user's project: pyproject.toml declaring `jobs`, and their scripts under src/jobs."""
    (root / "src" / "jobs").mkdir(parents=True)
    for name, text in scripts.items():
        (root / "src" / "jobs" / name).write_text(textwrap.dedent(text))
    settings = '[tool.mlmax]\nrequirements = "requirements.txt"\n' if requirements else ""
    if requirements:
        (root / "requirements.txt").write_text("numpy\n")
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "user-project"\n\n{settings}\n{textwrap.dedent(jobs)}'
    )
    return root / "pyproject.toml"


def _run(
    sm_localmode, pyproject: Path, job: str, inputs=None, outputs=None, arguments=(), **options
):
    definition = load_project(pyproject).jobs[job]
    return run_job(
        JobRun(definition, inputs=inputs or {}, outputs=outputs or {}, arguments=tuple(arguments)),
        image=sm_localmode.image,
        session=sm_localmode.session,
        timeout=300,
        **options,
    )


def _sentence(failure: pytest.ExceptionInfo[JobFailedError]) -> str:
    return str(failure.value).splitlines()[0]


def test_a_missing_module_names_the_requirements_file(sm_localmode, tmp_path):
    pyproject = _project(
        tmp_path,
        """
        [tool.mlmax.jobs.score]
        script = "src/jobs/score.py"
        kind = "processing"
        outputs = ["scores"]
        """,
        {"score.py": "import catboost.core\n"},
        requirements=True,
    )
    with pytest.raises(JobFailedError) as failure:
        _run(sm_localmode, pyproject, "score", outputs={"scores": tmp_path / "scores"})
    assert _sentence(failure) == (
        "job 'score' failed because its container has no Python module 'catboost' "
        "(ModuleNotFoundError); add the package that provides 'catboost' to "
        f"{tmp_path / 'requirements.txt'} (the requirements of the job's image, rebuilt on the "
        "next run), and run it again (last lines of the container log below)"
    )


WORD_COUNT = """
[tool.mlmax.jobs.word-count]
script = "src/jobs/count.py"
kind = "processing"
inputs.text = "--text-dir"
outputs.counts = { argument = "--counts-dir", path = "/opt/ml/processing/counts" }
"""


def _word_count(sm_localmode, root: Path, script: str, text_file: str) -> tuple[Path, Path]:
    """Run the word-count job on a text folder holding `text_file`; return the host dirs."""
    pyproject = _project(root, WORD_COUNT, {"count.py": script})
    text, counts = root / "text", root / "counts"
    text.mkdir()
    (text / text_file).write_text("one two three")
    _run(sm_localmode, pyproject, "word-count", inputs={"text": text}, outputs={"counts": counts})
    return text, counts


def test_a_path_that_is_no_channel_names_the_declared_channels(sm_localmode, tmp_path):
    script = """
    import pathlib
    words = pathlib.Path("/opt/ml/processing/input/text/words.txt").read_text().split()
    # Not the declared output: the results folder was never declared as a channel.
    pathlib.Path("/opt/ml/processing/results/counts.txt").write_text(str(len(words)))
    """
    with pytest.raises(JobFailedError) as failure:
        _word_count(sm_localmode, tmp_path, script, "words.txt")
    text, counts = tmp_path / "text", tmp_path / "counts"
    assert _sentence(failure) == (
        "job 'word-count' used container path /opt/ml/processing/results/counts.txt "
        "(FileNotFoundError), which is none of its declared channels; make the script use a "
        "declared channel's path, or declare a channel with path '/opt/ml/processing/results' "
        "in [tool.mlmax.jobs.word-count] (declared: input 'text' at "
        f"/opt/ml/processing/input/text from {text}; output 'counts' at "
        f"/opt/ml/processing/counts to {counts}) (last lines of the container log below)"
    )


def test_a_file_missing_from_an_input_names_the_host_directory(sm_localmode, tmp_path):
    script = "open('/opt/ml/processing/input/text/words.txt').read()\n"
    with pytest.raises(JobFailedError) as failure:
        _word_count(sm_localmode, tmp_path, script, "other.txt")
    text = tmp_path / "text"
    assert _sentence(failure) == (
        "job 'word-count' read /opt/ml/processing/input/text/words.txt, which its input "
        f"'text' does not have (FileNotFoundError); put words.txt in {text / 'words.txt'}, or "
        "make the script read a file the input has, and run it again "
        "(last lines of the container log below)"
    )


def test_an_empty_output_names_its_container_path_and_host_directory(sm_localmode, tmp_path):
    pyproject = _project(
        tmp_path,
        """
        [tool.mlmax.jobs.clean]
        script = "src/jobs/clean.py"
        kind = "processing"
        outputs.clean = { argument = "--output-dir", path = "/opt/ml/processing/clean" }
        """,
        {"clean.py": "print('nothing to clean')\n"},
    )
    output = tmp_path / "clean"
    with pytest.raises(JobFailedError) as failure:
        _run(sm_localmode, pyproject, "clean", outputs={"clean": output})
    assert _sentence(failure) == (
        "job 'clean' exited with code 0 but wrote nothing to its output 'clean' at container "
        "path /opt/ml/processing/clean; make the script write its files under "
        f"/opt/ml/processing/clean (its --output-dir option), which mlmax copies to {output}, "
        "and run it again (last lines of the container log below)"
    )


HOG = """
[tool.mlmax.jobs.hog]
script = "src/jobs/hog.py"
kind = "processing"
outputs = ["out"]
"""
# Touches every page (a bytes product is written), so the memory is really used.
HOG_SCRIPT = "hog = b'x' * (512 * 2**20)\nprint(len(hog))\n"


def test_out_of_memory_at_the_memory_option_is_named_by_mlmax_run(sm_image, tmp_path):
    _project(tmp_path, HOG, {"hog.py": HOG_SCRIPT})
    command = [sys.executable, "-m", "mlmax", "run", "hog", "--memory", "64m"]
    command += ["--output", f"out={tmp_path / 'out'}"]
    finished = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 1, finished.stderr
    errors = [line for line in finished.stderr.splitlines() if line.startswith("error:")]
    assert errors[0] == (
        "error: job 'hog' ran out of memory at its limit of 64m (the memory option) and was "
        "killed by the engine (OOMKilled), as its instance would kill it on SageMaker; make "
        "the job use less memory, or give it more: a larger instance_type in "
        "[tool.mlmax.jobs.hog], or --sm-memory (pytest) or --memory (mlmax run); "
        "last lines of its log:"
    ), finished.stderr


def test_the_same_job_with_room_passes(sm_localmode, tmp_path):
    # So the limit above, not the script, is what killed it.
    write = "open('/opt/ml/processing/output/out/n', 'w').write('1')\n"
    pyproject = _project(tmp_path, HOG, {"hog.py": HOG_SCRIPT + write})
    result = _run(sm_localmode, pyproject, "hog", outputs={"out": tmp_path / "out"}, memory="1g")
    assert (tmp_path / "out" / "n").read_text() == "1"
    assert result.exit_code == 0


@pytest.mark.parametrize("kind", ["processing", "training"])
def test_the_instance_types_memory_limits_the_container(sm_localmode, tmp_path, kind):
    argument, path = (
        ("--out-dir", "/opt/ml/processing/output/out")
        if kind == "processing"
        else ("--model-dir", "/opt/ml/model")
    )
    outputs = "outputs = ['out']" if kind == "processing" else ""
    pyproject = _project(
        tmp_path,
        f"""
        [tool.mlmax.jobs.limits]
        script = "src/jobs/limits.py"
        kind = "{kind}"
        instance_type = "ml.t3.medium"
        {outputs}
        """,
        {"limits.py": READ_LIMIT.format(argument=argument)},
    )
    name = "out" if kind == "processing" else "model"
    out = tmp_path / name
    _run(sm_localmode, pyproject, "limits", outputs={name: out}, arguments=[argument, path])
    if kind == "training":
        with tarfile.open(out / "model.tar.gz") as tar:
            member = tar.extractfile("limit.txt")
            assert member is not None
            limit = member.read().decode()
    else:
        limit = (out / "limit.txt").read_text()
    assert int(limit) == 4 * GIB  # ml.t3.medium's 4 GiB


HOG_TEST = """
import pytest


@pytest.mark.smlocal
def test_hog(sm_local, tmp_path):
    sm_local.run("hog", outputs={"out": tmp_path / "out"})
"""


def _inner_pytest(project: Path, *options: str) -> subprocess.CompletedProcess[str]:
    isolate(project)
    (project / "test_hog.py").write_text(HOG_TEST)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *options, "test_hog.py"]
    return subprocess.run(
        command, cwd=project, capture_output=True, text=True, timeout=300, check=False
    )


def test_pytest_sm_memory_limits_the_job_and_its_failure_says_so(sm_image, tmp_path):
    _project(tmp_path, HOG, {"hog.py": HOG_SCRIPT})
    done = _inner_pytest(tmp_path, "--smlocal", "--sm-memory", "64m")
    assert done.returncode == 1, done.stdout + done.stderr
    # The test's failure message is the one sentence (what VS Code shows on the test).
    assert (
        "job 'hog' ran out of memory at its limit of 64m (the memory option) and was killed "
        "by the engine (OOMKilled)"
    ) in done.stdout, done.stdout


def test_a_bad_sm_memory_stops_pytest_with_one_line(tmp_path):
    _project(tmp_path, HOG, {"hog.py": HOG_SCRIPT})
    done = _inner_pytest(tmp_path, "--sm-memory", "lots")
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert (
        "ERROR: memory limit 'lots' is not a size; write a number with k, m or g, e.g. 2g"
    ) in done.stderr, done.stderr
