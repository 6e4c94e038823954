"""`pytest --smlocal --inspectlocal`, end to end: a real pytest run, real containers, a real
DAP client attaching with VS Code's pathMappings, breakpoints set by workspace path.

Each test starts the inspect run as a subprocess (as VS Code's task does), reads the ready
line from its output, and checks that nothing of the run is left afterwards.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from mlmax.common.waiting import WaitTimeout, wait_until
from mlmax.localmode.engine import compose, containers, labels
from mlmax.localmode.run.debug_run import path_mappings
from mlmax.project.catalog import JOBS_DIR, PROCESSING_CODE_ROOT, TRAINING_CODE_ROOT
from tests.support.dap_client import DapClient
from tests.support.inspect_driver import READY, InspectRun, line_of
from tests.support.isolation import assert_debugger_only_on_loopback_forward

pytestmark = pytest.mark.smlocal

CHAIN = "tests/localmode/run/test_chain.py"
PREPROCESSING_TEST = "test_preprocessing_splits_generated_data"
TRAINING_TEST = "test_training_packs_model_and_reports_metrics"
START_TIMEOUT = 300  # image checks, S3, SDK upload on a busy 2-core machine
RUN_TIMEOUT = 300


def _containers_of(run: InspectRun) -> list:
    return containers.docker_client().containers.list(
        ignore_removed=True, all=True, filters={"label": f"{labels.OWNER_PID}={run.process.pid}"}
    )


def _assert_nothing_left(run: InspectRun, basetemp: Path) -> None:
    assert _containers_of(run) == [], "the inspect run left containers behind"
    assert compose.processes_using(basetemp) == [], "the inspect run left compose running"


def _inspect(
    tmp_path: Path, *extra: str, use_pty: bool = False, test: str = PREPROCESSING_TEST
) -> InspectRun:
    args = ["--smlocal", "--inspectlocal", "--inspect-port", "0", *extra, "-k", test, CHAIN]
    return InspectRun(args, use_pty=use_pty, basetemp=tmp_path / "run")


def _debug_session(
    port: int,
    job_file: Path,
    line: int,
    variable: str,
    expression: str,
    mappings: list[dict[str, str]] | None = None,
) -> dict[str, object]:
    """Attach as VS Code does (this workspace's path mappings unless `mappings` are given),
    stop at `line`, read `variable` and `expression`, continue."""
    started = time.monotonic()
    with DapClient.connect("127.0.0.1", port, timeout=30) as dap:
        attach = dap.attach(path_mappings=mappings or path_mappings())
        dap.wait_event("initialized", timeout=30)
        [breakpoint_] = dap.set_breakpoints(job_file, [line])
        assert breakpoint_["verified"], breakpoint_
        dap.configuration_done()
        dap.wait_response(attach, timeout=30)
        stopped = dap.wait_event("stopped", timeout=180)
        hit_after = time.monotonic() - started
        thread = stopped["body"]["threadId"]
        frame = dap.stack_trace(thread)[0]
        seen = {
            "line": frame["line"],
            "path": Path(frame["source"]["path"]),
            "variable": dap.locals(frame["id"]).get(variable),
            "expression": dap.evaluate(expression, frame["id"]),
            "attach_to_hit": hit_after,
        }
        dap.set_breakpoints(job_file, [])
        dap.continue_(thread)
        dap.wait_event("terminated", timeout=180)
    return seen


def _report(what: str, ready_at: float, seen: dict[str, object]) -> None:
    print(
        f"\n[timing] {what}: start -> ready line {ready_at:.1f} s, "
        f"attach -> first breakpoint {seen['attach_to_hit']:.1f} s"
    )


def test_processing_job_stops_at_a_workspace_breakpoint(tmp_path):
    job_file = JOBS_DIR / "preprocessing.py"
    line = line_of(job_file, 'after cleaning")')
    with _inspect(tmp_path) as run:
        ready_at, ready = run.wait_for(READY, START_TIMEOUT)
        assert (ready["job"], ready["code"]) == ("preprocessing", "/opt/ml/processing/input/code")
        port = int(ready["port"])

        # Nothing is published; only the forward on the host's loopback reaches debugpy.
        [container] = _containers_of(run)
        assert_debugger_only_on_loopback_forward(container)

        seen = _debug_session(port, job_file, line, "cleaned", "len(cleaned) > 500")
        assert (seen["line"], seen["path"]) == (line, job_file)
        assert str(seen["variable"]).split()[0] == "age"  # a DataFrame's repr starts with it
        assert seen["expression"] == "True"
        assert run.wait(RUN_TIMEOUT) == 0, run.output
        assert "1 passed" in run.output
        _report("preprocessing (pipe)", ready_at, seen)
    _assert_nothing_left(run, tmp_path / "run")


def test_training_job_stops_at_a_workspace_breakpoint_through_a_pty(tmp_path):
    job_file = JOBS_DIR / "train.py"
    line = line_of(job_file, 'print(f"train: fitting')
    with _inspect(tmp_path, "--inspect-job", "train", use_pty=True, test=TRAINING_TEST) as run:
        ready_at, ready = run.wait_for(READY, START_TIMEOUT)
        assert (ready["job"], ready["code"]) == ("train", "/opt/ml/input/data/code")
        port = int(ready["port"])
        [container] = [c for c in _containers_of(run) if c.status == "running"]
        assert_debugger_only_on_loopback_forward(container)

        seen = _debug_session(port, job_file, line, "args", "args.c")
        assert (seen["line"], seen["path"]) == (line, job_file)
        assert "c=0.5" in str(seen["variable"])  # the test's --c 0.5 reached the script
        assert seen["expression"] == "0.5"
        assert run.wait(RUN_TIMEOUT) == 0, run.output
        _report("train (pty)", ready_at, seen)
    _assert_nothing_left(run, tmp_path / "run")


def test_image_without_debugpy_is_debugged_through_a_derived_image(tmp_path):
    from mlmax.localmode.image.debug_variant import probe_image
    from mlmax.localmode.image.job_image import ensure_job_image

    plain = ensure_job_image(with_debugpy=False)
    assert probe_image(plain)["debugpy"] is False  # the premise: no debugpy in it
    job_file = JOBS_DIR / "preprocessing.py"
    line = line_of(job_file, 'after cleaning")')
    with _inspect(tmp_path, "--sm-image", plain) as run:
        ready_at, ready = run.wait_for(READY, START_TIMEOUT)
        [container] = _containers_of(run)
        assert container.attrs["Config"]["Image"] != plain  # ran in the derived debug image
        seen = _debug_session(int(ready["port"]), job_file, line, "cleaned", "1 + 1")
        assert (seen["line"], seen["expression"]) == (line, "2")
        assert run.wait(RUN_TIMEOUT) == 0, run.output
        _report("preprocessing, image without debugpy", ready_at, seen)
    _assert_nothing_left(run, tmp_path / "run")


def test_nobody_attaching_fails_the_test_with_a_clear_message(tmp_path):
    with _inspect(tmp_path, "--inspect-timeout", "2") as run:
        run.wait_for(READY, START_TIMEOUT)
        assert run.wait(RUN_TIMEOUT) == 1
    assert re.search(
        r"no debugger attached to job 'preprocessing' on 127\.0\.0\.1:\d+ within 2 s", run.output
    )
    assert "--inspect-timeout" in run.output
    _assert_nothing_left(run, tmp_path / "run")


def test_busy_port_stops_the_run_with_one_sentence(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        args = [
            "--smlocal",
            "--inspectlocal",
            "--inspect-port",
            str(port),
            "-k",
            PREPROCESSING_TEST,
        ]
        with InspectRun([*args, CHAIN], basetemp=tmp_path / "run") as run:
            code = run.wait(RUN_TIMEOUT)
    assert code == pytest.ExitCode.USAGE_ERROR
    assert f"port {port} on 127.0.0.1 is already in use" in run.output
    assert "--inspect-port 0" in run.output
    assert "Traceback" not in run.output
    _assert_nothing_left(run, tmp_path / "run")


def test_ctrl_c_while_waiting_for_the_debugger_leaves_nothing(tmp_path):
    with _inspect(tmp_path) as run:
        run.wait_for(READY, START_TIMEOUT)
        assert [c.status for c in _containers_of(run)] == ["running"]
        run.interrupt()
        assert run.wait(60) != 0
    _assert_nothing_left(run, tmp_path / "run")


def test_ctrl_c_at_a_breakpoint_leaves_nothing(tmp_path):
    job_file = JOBS_DIR / "preprocessing.py"
    line = line_of(job_file, 'after cleaning")')
    with _inspect(tmp_path) as run:
        _, ready = run.wait_for(READY, START_TIMEOUT)
        with DapClient.connect("127.0.0.1", int(ready["port"]), timeout=30) as dap:
            attach = dap.attach(path_mappings=path_mappings())
            dap.wait_event("initialized", timeout=30)
            dap.set_breakpoints(job_file, [line])
            dap.configuration_done()
            dap.wait_response(attach, timeout=30)
            dap.wait_event("stopped", timeout=180)
            run.interrupt()
            assert run.wait(60) != 0
    _assert_nothing_left(run, tmp_path / "run")


ATTACH = re.compile(r"docker attach (?P<container>\S+)")
EXEC = re.compile(r"docker exec -it (?P<container>\S+) bash")


def _processes(container) -> list[str]:
    return [" ".join(p[-1:]) for p in container.top()["Processes"]]


def _wait_for_log(container, text: str, timeout: float) -> str:
    def log_with_text() -> str | None:
        log = container.logs().decode(errors="replace")
        return log if text in log else None

    try:
        return wait_until(log_with_text, timeout=timeout, what=f"{text!r} in the container log")
    except WaitTimeout as error:
        raise AssertionError(f"{error}:\n{container.logs().decode(errors='replace')}") from None


def test_repl_mode_runs_python_i_and_prints_the_docker_commands(tmp_path):
    args = ["--smlocal", "--inspectlocal=repl", "-k", PREPROCESSING_TEST, CHAIN]
    with InspectRun(args, basetemp=tmp_path / "run") as run:
        _, attach = run.wait_for(ATTACH, START_TIMEOUT)
        _, exec_ = run.wait_for(EXEC, 10)
        name = attach["container"]
        assert exec_["container"] == name
        container = containers.docker_client().containers.get(name)
        # The ready line comes once the container runs; its entry script reaches the
        # interpreter a moment later (later still on a loaded machine).
        wait_until(
            lambda: any("python3 -i" in p for p in _processes(container)),
            timeout=60,
            what="python3 -i in the container",
        )
        # The script runs to its end, then the interpreter waits on the container's tty (its
        # first prompt shows only once input arrives).
        _wait_for_log(container, "test rows", 120)
        sock = container.attach_socket(params={"stdin": 1, "stream": 1})
        try:
            sock._sock.sendall(b"print(6 * 7)\n")
            # The whole echo, not "42" alone: the log's file listing may hold the clock's 42.
            # _wait_for_log fails the test when the echo does not come.
            _wait_for_log(container, ">>> print(6 * 7)\r\n42", 30)
            sock._sock.sendall(b"raise SystemExit(0)\n")
        finally:
            sock.close()
        assert run.wait(RUN_TIMEOUT) == 0, run.output
        assert "1 passed" in run.output
    _assert_nothing_left(run, tmp_path / "run")


def test_ctrl_c_in_repl_mode_removes_the_container(tmp_path):
    args = ["--smlocal", "--inspectlocal=repl", "-k", PREPROCESSING_TEST, CHAIN]
    with InspectRun(args, basetemp=tmp_path / "run") as run:
        run.wait_for(ATTACH, START_TIMEOUT)
        run.interrupt()
        assert run.wait(60) != 0
    _assert_nothing_left(run, tmp_path / "run")


def test_several_container_tests_selected_inspects_the_first_and_says_so(tmp_path):
    selection = f"{PREPROCESSING_TEST} or test_evaluation_metrics_are_in_bounds"
    args = ["--smlocal", "--inspectlocal", "--collect-only", "-k", selection, CHAIN]
    with InspectRun(args, basetemp=tmp_path / "run") as run:
        assert run.wait(RUN_TIMEOUT) == 0, run.output
    assert f"inspecting {CHAIN}::{PREPROCESSING_TEST}" in run.output
    assert "the other 1 selected container test(s) run without the debugger" in run.output


def test_xdist_is_refused_with_one_sentence(tmp_path):
    args = ["--smlocal", "--inspectlocal", "-n", "2", "-k", PREPROCESSING_TEST, CHAIN]
    with InspectRun(args, basetemp=tmp_path / "run") as run:
        assert run.wait(RUN_TIMEOUT) == pytest.ExitCode.USAGE_ERROR
    assert "cannot run under pytest-xdist" in run.output
    assert "Traceback" not in run.output


def test_inspectlocal_without_smlocal_says_what_to_add(tmp_path):
    with InspectRun(["--inspectlocal", "-k", PREPROCESSING_TEST, CHAIN]) as run:
        assert run.wait(RUN_TIMEOUT) == pytest.ExitCode.USAGE_ERROR
    assert "--inspectlocal needs --smlocal" in run.output


def test_no_container_test_selected_asks_for_k(tmp_path):
    # A free port: the default one may be held by a debug session the developer has open.
    args = ["--smlocal", "--inspectlocal", "--inspect-port", "0", "-k", "no_such_test_name", CHAIN]
    with InspectRun(args, basetemp=tmp_path / "run") as run:
        assert run.wait(RUN_TIMEOUT) == pytest.ExitCode.USAGE_ERROR
    assert "found no container test" in run.output


# A project of the user's own: its script, and a test written against the SDK that gets the
# offline session only through `sm_session`.
OWN_SCRIPT = """\
import argparse
import pathlib


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--factor", type=int, default=1)
    parser.add_argument("--out", default="/opt/ml/processing/result")
    args = parser.parse_args()
    counted = len("offline") * args.factor
    pathlib.Path(args.out, "count.txt").write_text(str(counted))  # stop here


if __name__ == "__main__":
    main()
"""

OWN_TEST = """\
import pytest
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def result_output(out):
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output

    return ProcessingOutput(
        output_name="result",
        s3_output=ProcessingS3Output(
            s3_uri=out.as_uri(), local_path="/opt/ml/processing/result", s3_upload_mode="EndOfJob"
        ),
    )


def processor(kind, image, session):
    from sagemaker.core import processing

    return getattr(processing, kind)(
        image_uri=image,
        command=["python3"],
        role=None,
        instance_type="local",
        instance_count=1,
        sagemaker_session=session,
    )


@pytest.mark.smlocal
def test_own_framework_processor(sm_session, sm_image, tmp_path):
    out = tmp_path / "result"
    out.mkdir()
    processor("FrameworkProcessor", sm_image, sm_session).run(
        code="count.py",
        source_dir=str(SCRIPTS),
        outputs=[result_output(out)],
        arguments=["--factor", "6"],
    )
    assert (out / "count.txt").read_text() == "42"


@pytest.mark.smlocal
def test_own_script_processor(sm_session, sm_image, tmp_path):
    out = tmp_path / "result"
    out.mkdir()
    processor("ScriptProcessor", sm_image, sm_session).run(
        code=str(SCRIPTS / "count.py"), outputs=[result_output(out)], arguments=["--factor", "6"]
    )
    assert (out / "count.txt").read_text() == "42"


@pytest.mark.smlocal
def test_own_model_trainer(sm_session, sm_image, tmp_path):
    import tarfile

    from sagemaker.core.training.configs import Compute, SourceCode
    from sagemaker.train import ModelTrainer
    from sagemaker.train.model_trainer import Mode

    ModelTrainer(
        training_image=sm_image,
        source_code=SourceCode(
            source_dir=str(SCRIPTS),
            command="python3 count.py --out /opt/ml/model",
            args=["--factor", "6"],
        ),
        compute=Compute(instance_type="local", instance_count=1),
        training_mode=Mode.LOCAL_CONTAINER,
        local_container_root=str(tmp_path),
        sagemaker_session=sm_session,
        role=None,
    ).train(wait=True, logs=False)
    with tarfile.open(tmp_path / "compressed_artifacts" / "model.tar.gz") as tar:
        assert tar.extractfile("count.txt").read() == b"42"
"""


@pytest.mark.parametrize(
    ("own_test", "code_root"),
    [
        ("test_own_framework_processor", PROCESSING_CODE_ROOT),
        ("test_own_script_processor", PROCESSING_CODE_ROOT),
        ("test_own_model_trainer", TRAINING_CODE_ROOT),
    ],
)
def test_own_sdk_object_through_sm_session_stops_in_the_users_script(tmp_path, own_test, code_root):
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    script = project / "scripts" / "count.py"
    script.write_text(OWN_SCRIPT)
    (project / "test_own.py").write_text(OWN_TEST)
    line = line_of(script, "# stop here")
    args = ["--smlocal", "--inspectlocal", "--inspect-port", "0", "-k", own_test, "test_own.py"]
    with InspectRun(args, basetemp=tmp_path / "run", cwd=project) as run:
        ready_at, ready = run.wait_for(READY, START_TIMEOUT)
        assert ready["job"] == f"sdk:{own_test}"
        assert ready["code"] == code_root
        [container] = [c for c in _containers_of(run) if c.status == "running"]
        assert_debugger_only_on_loopback_forward(container)

        # The user's own pathMapping: their script folder is the container's code root.
        mappings = [{"localRoot": str(script.parent), "remoteRoot": ready["code"]}]
        seen = _debug_session(int(ready["port"]), script, line, "counted", "args.factor", mappings)
        assert (seen["line"], seen["path"]) == (line, script)
        assert seen["variable"] == "42"
        assert seen["expression"] == "6"
        assert run.wait(RUN_TIMEOUT) == 0, run.output
        assert "1 passed" in run.output
        _report(f"{own_test} via sm_session (pipe)", ready_at, seen)
    _assert_nothing_left(run, tmp_path / "run")


# The example project's own SageMaker Pipeline (a processing step feeding a training step),
# run by its test through `sm_pipeline_session`.
OWN_PIPELINE = Path(__file__).resolve().parents[2] / "examples" / "ownpipeline"
PIPELINE_TEST = "test_the_pipeline_preprocesses_then_trains"


def _own_pipeline_copy(tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "ownpipeline"
    shutil.copytree(OWN_PIPELINE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_a_step_of_the_projects_own_pipeline_stops_in_its_script(tmp_path):
    project = _own_pipeline_copy(tmp_path)
    script = project / "src" / "ownpipeline" / "scripts" / "preprocess.py"
    line = line_of(script, 'with (OUTPUT / "train.csv").open')
    args = ["--smlocal", "--inspectlocal", "--inspect-port", "0", "--inspect-job", "Preprocess"]
    with InspectRun([*args, "-k", PIPELINE_TEST], basetemp=tmp_path / "run", cwd=project) as run:
        ready_at, ready = run.wait_for(READY, START_TIMEOUT)
        assert (ready["job"], ready["code"]) == ("Preprocess", PROCESSING_CODE_ROOT)
        [container] = [c for c in _containers_of(run) if c.status == "running"]
        assert_debugger_only_on_loopback_forward(container)

        # The project's own pathMapping: its scripts folder is the step's code root.
        mappings = [{"localRoot": str(script.parent), "remoteRoot": ready["code"]}]
        seen = _debug_session(int(ready["port"]), script, line, "args", "len(rows)", mappings)
        assert (seen["line"], seen["path"]) == (line, script)
        assert "min_rows=10" in str(seen["variable"])  # the pipeline's MinRows parameter
        assert seen["expression"] == "60"
        assert run.wait(RUN_TIMEOUT) == 0, run.output
        assert "1 passed" in run.output
        # Only the step named: the training step ran without a debugger.
        assert len(READY.findall(run.output)) == 1
        _report("the Preprocess step of a project's pipeline (pipe)", ready_at, seen)
    _assert_nothing_left(run, tmp_path / "run")


def test_an_inspect_job_that_is_no_step_of_the_pipeline_is_one_sentence(tmp_path):
    project = _own_pipeline_copy(tmp_path)
    args = ["--smlocal", "--inspectlocal", "--inspect-port", "0", "--inspect-job", "Preprocss"]
    with InspectRun([*args, "-k", PIPELINE_TEST], basetemp=tmp_path / "run", cwd=project) as run:
        assert run.wait(RUN_TIMEOUT) != 0
    assert (
        "--inspect-job 'Preprocss' is not a step of pipeline 'ownpipeline'; its steps are "
        "Preprocess, Train"
    ) in run.output
    assert READY.search(run.output) is None
    _assert_nothing_left(run, tmp_path / "run")


def test_an_inspect_job_that_names_nothing_the_test_ran_is_told_after_it(tmp_path):
    """A pipeline step's name is known only once the test built its pipeline, so a name that
    matched nothing is said after the test (which ran without a debugger)."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    (project / "scripts" / "count.py").write_text(OWN_SCRIPT)
    (project / "test_own.py").write_text(OWN_TEST)
    test = "test_own_script_processor"
    args = ["--smlocal", "--inspectlocal", "--inspect-port", "0", "--inspect-job", "cuont"]
    with InspectRun(
        [*args, "-k", test, "test_own.py"], basetemp=tmp_path / "run", cwd=project
    ) as run:
        assert run.wait(RUN_TIMEOUT) == 0, run.output
    assert "1 passed" in run.output
    assert READY.search(run.output) is None
    assert (
        f"mlmax: --inspect-job cuont named no job, endpoint or pipeline step that "
        f"test_own.py::{test} ran, so nothing waited for a debugger; check the name"
    ) in run.output
