"""Jobs declared in a project's pyproject.toml: parsed, defaulted, and refused with the fix."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlmax.cli import main
from mlmax.localmode.engine.containers import docker_client
from mlmax.project.catalog import JOBS, get_job, known_jobs
from mlmax.project.declarations import DeclarationError, load_project

GOOD = """
[project]
name = "acme-churn"

[tool.mlmax]
requirements = "requirements.txt"

[tool.mlmax.jobs.clean]
script = "src/jobs/clean.py"
kind = "processing"
arguments = ["--min-rows", "10"]
inputs.raw = "--input-dir"
outputs.clean = { argument = "--output-dir", path = "/opt/ml/processing/clean" }
outputs.rejects = { optional = true }

[tool.mlmax.jobs.fit]
script = "src/jobs/fit.py"
kind = "training"
inputs = ["train", "validation"]
"""


def make_project(root: Path, pyproject: str = GOOD) -> Path:
    (root / "src" / "jobs").mkdir(parents=True)
    (root / "src" / "jobs" / "clean.py").write_text(
        "import argparse, pathlib\n"
        "p = argparse.ArgumentParser()\n"
        "p.add_argument('--input-dir', default='/opt/ml/processing/input/raw')\n"
        "p.add_argument('--output-dir', default='/opt/ml/processing/clean')\n"
        "p.add_argument('--rejects-dir'); p.add_argument('--min-rows')\n"
        "a = p.parse_args()\n"
        "text = (pathlib.Path(a.input_dir) / 'raw.csv').read_text()\n"
        "pathlib.Path(a.output_dir).mkdir(parents=True, exist_ok=True)\n"
        "(pathlib.Path(a.output_dir) / 'clean.csv').write_text(text.upper() + a.min_rows)\n"
    )
    (root / "src" / "jobs" / "fit.py").write_text("print('fit')\n")
    (root / "requirements.txt").write_text("numpy==2.4.6\n")
    (root / "pyproject.toml").write_text(pyproject)
    return root / "pyproject.toml"


def test_a_declared_job_gets_its_folder_channels_defaults_and_image(tmp_path):
    project = load_project(make_project(tmp_path))

    assert project.name == "acme-churn"
    clean, fit = project.jobs["clean"], project.jobs["fit"]
    assert clean.script == "clean.py" and clean.source_dir == tmp_path / "src" / "jobs"
    assert clean.script_path.is_file()
    assert clean.default_arguments == ("--min-rows", "10")
    assert [(c.name, c.argument, c.container_path, c.optional) for c in clean.outputs] == [
        ("clean", "--output-dir", "/opt/ml/processing/clean", False),
        ("rejects", "--rejects-dir", "/opt/ml/processing/output/rejects", True),
    ]
    assert clean.input("raw").container_path == "/opt/ml/processing/input/raw"
    assert [c.container_path for c in fit.inputs] == [
        "/opt/ml/input/data/train",
        "/opt/ml/input/data/validation",
    ]
    assert [(c.name, c.container_path) for c in fit.outputs] == [("model", "/opt/ml/model")]
    assert fit.code_root == "/opt/ml/input/data/code"
    # The project's requirements become every job's image unless a job names its own.
    assert clean.requirements == fit.requirements == tmp_path / "requirements.txt"


def test_project_jobs_join_mlmax_jobs_found_from_any_subfolder(tmp_path):
    make_project(tmp_path)
    jobs = known_jobs(tmp_path / "src")

    assert set(JOBS) < set(jobs) and {"clean", "fit"} <= set(jobs)
    assert get_job("clean", tmp_path).project == "acme-churn"
    assert get_job("train", tmp_path) is JOBS["train"]
    with pytest.raises(KeyError, match=r"unknown job 'nope'.*\[tool\.mlmax\.jobs\]"):
        get_job("nope", tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('script = "src/jobs/clean.py"', 'script = "src/jobs/missing.py"'),
         r"\[tool\.mlmax\.jobs\.clean\] script .*missing\.py does not exist; set script to a "
         r"file relative to"),
        (('script = "src/jobs/fit.py"\n', ""),
         r"\[tool\.mlmax\.jobs\.fit\] has no script; add script = "),
        (('kind = "training"', 'kind = "batch"'),
         r"\[tool\.mlmax\.jobs\.fit\] kind 'batch' is unknown; set kind = \"processing\" or "),
        (('outputs.rejects = { optional = true }', 'outputs.raw = "--raw-dir"'),
         r"\[tool\.mlmax\.jobs\.clean\] uses channel 'raw' for two channels; give each input "),
        (('outputs.rejects = { optional = true }', 'outputs.rejects = "--input-dir"'),
         r"uses argument '--input-dir' for two channels"),
        (('inputs = ["train", "validation"]', 'inputs = ["train", "train"]'),
         r"\[tool\.mlmax\.jobs\.fit\] inputs names channel 'train' twice; give each channel once"),
        (('arguments = ["--min-rows", "10"]', "argument = []"),
         r"\[tool\.mlmax\.jobs\.clean\] has unknown key 'argument'; use only arguments, "),
        (('[tool.mlmax]\n', '[tool.mlmax]\nimage = "x:1"\n'),
         r"\[tool\.mlmax\] sets both image and requirements; keep one of them"),
        (('inputs = ["train", "validation"]', 'inputs = ["train"]\noutputs = ["model", "extra"]'),
         r"declares training outputs other than the model directory; give one output at "),
        (('path = "/opt/ml/processing/clean"', 'path = "/opt/ml/processing/a:b"'),
         r"outputs\.clean path '/opt/ml/processing/a:b' holds ':' .*; write a plain folder "
         r"under /opt/ml/"),
        (('path = "/opt/ml/processing/clean"', 'path = "/opt/ml/../../etc"'),
         r"outputs\.clean path '/opt/ml/\.\./\.\./etc' is not a plain path .*; write a plain "
         r"folder under /opt/ml/"),
        (('kind = "training"', 'kind = "training"\ninstance_type = "ml.huge"'),
         r"\[tool\.mlmax\.jobs\.fit\] instance_type 'ml\.huge' is not in mlmax's memory table; "
         r"use one of ml\.c4\.2xlarge, "),
        (('[tool.mlmax]\n', '[tool.mlmax]\nsmlocal = "yes"\n'),
         r"\[tool\.mlmax\] smlocal is not true or false; write smlocal = true"),
    ],
)  # fmt: skip
def test_a_bad_declaration_names_the_key_and_the_fix(tmp_path, change, message):
    old, new = change
    assert old in GOOD
    pyproject = make_project(tmp_path, GOOD.replace(old, new, 1))

    with pytest.raises(DeclarationError, match=message) as raised:
        load_project(pyproject)
    assert str(raised.value).startswith(f"{pyproject}: ")
    assert "\n" not in str(raised.value)


def test_a_pyproject_that_is_not_utf8_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    pyproject = make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    pyproject.write_bytes(GOOD.replace("acme-churn", "acme-caf\xe9").encode("latin-1"))
    assert main(["run", "clean", "--runner", "host"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert f"{pyproject} is not UTF-8 text (byte 0xe9 at offset" in err
    assert "save it as UTF-8" in err


def test_an_unreadable_pyproject_is_one_line_exit_2(tmp_path):
    pyproject = make_project(tmp_path)
    pyproject.chmod(0)
    command = [sys.executable, "-m", "mlmax", "run", "clean", "--runner", "host"]
    if os.geteuid() == 0:  # root reads any file: run it without the capabilities that allow it
        dropped = "-dac_override,-dac_read_search"
        command = ["setpriv", "--bounding-set", dropped, "--inh-caps", dropped, *command]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"error: cannot read {pyproject} (Permission denied); make it readable to you, or run "
        "mlmax from a folder outside that project"
    )


def test_a_declared_instance_type_is_the_jobs_memory_limit_and_sagemaker_instance(tmp_path):
    from mlmax.cloud import SageMakerOptions
    from mlmax.project import job_memory_limit

    pyproject = GOOD.replace(
        'kind = "training"', 'kind = "training"\ninstance_type = "ml.m5.xlarge"'
    )
    fit = load_project(make_project(tmp_path, pyproject)).jobs["fit"]

    assert fit.instance_type == "ml.m5.xlarge"
    assert SageMakerOptions().instance_type(fit) == "ml.m5.xlarge"
    limit = job_memory_limit(fit.instance_type)
    assert limit is not None and limit.size == 16 * 2**30
    assert str(limit) == "16g (instance type ml.m5.xlarge)"
    # The memory option wins over the instance type.
    assert str(job_memory_limit(fit.instance_type, "1.5g")) == "1.5g (the memory option)"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--memory", "lots"], "memory limit 'lots' is not a size; write a number with k, m or g"),
        (["--runner", "host", "--memory", "2g"],
         "--memory limits a job's container, but the host runner has none; drop --memory"),
    ],
)  # fmt: skip
def test_mlmax_run_refuses_a_bad_memory_option_in_one_line(
    tmp_path, monkeypatch, capsys, arguments, message
):
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "clean", "--input", f"raw={tmp_path}", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_mlmax_run_runs_a_declared_job_on_the_host(tmp_path, monkeypatch, capsys):
    make_project(tmp_path)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "raw.csv").write_text("a,b\n")
    monkeypatch.chdir(tmp_path)

    code = main(["run", "clean", "--runner", "host", "--input", "raw=in", "--output",
                 "clean=out", "--output", "rejects=rej"])  # fmt: skip

    assert code == 0, capsys.readouterr().err
    # The declared default arguments reached the script, before the run's own.
    assert (tmp_path / "out" / "clean.csv").read_text() == "A,B\n10"


def test_mlmax_run_with_a_bad_declaration_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    make_project(tmp_path, GOOD.replace('kind = "processing"', 'kind = "proc"'))
    monkeypatch.chdir(tmp_path)

    assert main(["run", "clean", "--runner", "host"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "[tool.mlmax.jobs.clean] kind 'proc' is unknown" in err
    (tmp_path / "pyproject.toml").write_text(GOOD)
    assert main(["run", "nosuchjob", "--runner", "host"]) == 2
    assert "unknown job 'nosuchjob'" in capsys.readouterr().err


def test_pytest_stops_on_a_bad_declaration_with_a_usage_error(tmp_path):
    bad = GOOD.replace('script = "src/jobs/fit.py"', 'script = "fit.py"')
    # Its own pytest section makes the project pytest's root wherever tmp_path lies.
    make_project(tmp_path, bad + "\n[tool.pytest.ini_options]\n")
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "[tool.mlmax.jobs.fit] script" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.smlocal
def test_mlmax_image_build_in_a_project_builds_its_own_image(tmp_path, monkeypatch, capsys):
    example = Path(__file__).resolve().parents[2] / "examples" / "churnlab"
    for name in ("pyproject.toml", "requirements.txt"):
        (tmp_path / name).write_bytes((example / name).read_bytes())
    shutil.copytree(example / "src", tmp_path / "src")
    monkeypatch.chdir(tmp_path)

    assert main(["image", "build"]) == 0
    tag = re.search(r"job image (\S+) ready", capsys.readouterr().out)
    assert tag and re.fullmatch(r"mlmax-job-churnlab:[0-9a-f]{12}", tag.group(1))
    labels = docker_client().images.get(tag.group(1)).labels
    assert labels["org.mlmax.project"] == "churnlab" and labels["org.mlmax.role"] == "job"
