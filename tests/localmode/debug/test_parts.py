"""The pieces of inspect mode that need no container: ports, ready line, socket table."""

from __future__ import annotations

import base64
import re
import socket
import zlib

import pytest

from mlmax.localmode.debug import command as debug_command
from mlmax.localmode.debug import forward as debug_forward
from mlmax.localmode.debug import sockets as container_sockets
from mlmax.localmode.debug.command import DebugOptions
from mlmax.localmode.debug.errors import InspectPortBusyError
from mlmax.localmode.debug.forward import resolve_host_port
from mlmax.localmode.debug.readiness import ReadyInfo, ReplInfo, ready_line
from mlmax.localmode.debug.sockets import parse_socket_table
from mlmax.localmode.engine import ports
from mlmax.localmode.run import debug_run as debug
from mlmax.project.catalog import JOBS_DIR, PROCESSING_CODE_ROOT, TRAINING_CODE_ROOT
from mlmax.pytest_plugin import plugin as pytest_plugin


def test_ready_line_has_the_exact_phrase_then_job_and_code_path():
    line = ready_line(5678, "preprocessing", PROCESSING_CODE_ROOT)
    assert line == (
        "mlmax: debugpy listening on 127.0.0.1:5678 "
        "(job preprocessing, code /opt/ml/processing/input/code)"
    )
    info = ReadyInfo(job="train", port=40001, code_root=TRAINING_CODE_ROOT, container="c")
    expected = (
        r"debugpy listening on 127\.0\.0\.1:40001 \(job train, code /opt/ml/input/data/code\)"
    )
    assert re.search(expected, info.line)


def test_default_port_is_exported_by_the_plugin():
    assert pytest_plugin.DEFAULT_INSPECT_PORT == 5678 == debug_forward.DEFAULT_INSPECT_PORT


def test_debugpy_listens_on_the_containers_loopback_through_the_bootstrap():
    command = DebugOptions().python_command()
    assert command[:3] == ["python3", "-Xfrozen_modules=off", "-c"]
    # One line without newlines (the SDK's shell entry scripts fold them), carrying the
    # bootstrap's source.
    assert "\n" not in command[3]
    packed = re.search(r"b64decode\('([^']+)'\)", command[3]).group(1)
    assert zlib.decompress(base64.b64decode(packed)) == debug_command.BOOTSTRAP.read_bytes()
    # Only the forwarder's relay, inside the container, can reach it: never 0.0.0.0.
    assert command[command.index("--listen") + 1] == "127.0.0.1:5678"
    assert "--wait-for-client" in command


def test_repl_mode_runs_python_i():
    assert DebugOptions(mode="repl").python_command() == ["python3", "-i"]


def test_repl_info_prints_exact_docker_commands():
    info = ReplInfo(job="evaluation", container="abc-algo-1-xyz")
    assert "docker attach abc-algo-1-xyz" in info.lines[1]
    assert "docker exec -it abc-algo-1-xyz bash" in info.lines[2]


def test_path_mappings_cover_both_container_code_roots():
    mappings = debug.path_mappings()
    assert {m["remoteRoot"] for m in mappings} == {PROCESSING_CODE_ROOT, TRAINING_CODE_ROOT}
    assert {m["localRoot"] for m in mappings} == {str(JOBS_DIR)}


def test_busy_port_gives_one_sentence_with_the_way_out():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert not ports.port_is_free(port)
        with pytest.raises(InspectPortBusyError) as raised:
            resolve_host_port(port)
    message = str(raised.value)
    assert f"port {port} on 127.0.0.1 is already in use" in message
    assert "--inspect-port 0" in message and "--inspect-port NUMBER" in message
    assert "\n" not in message


def test_port_zero_picks_a_free_port():
    port = resolve_host_port(0)
    assert 0 < port < 65536
    assert ports.port_is_free(port)


def test_free_port_is_accepted_as_is():
    port = ports.free_port()
    assert resolve_host_port(port) == port


def test_socket_table_parsing_finds_listen_and_established():
    table = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
        "   0: 00000000:162E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
        "   1: 0100007F:A1B2 0100007F:162E 01 00000000:00000000 00:00000000 00000000     0\n"
        "  sl  local_address                         remote_address                        st\n"
        "   0: 0000000000000000FFFF0000020012AC:162E 0000000000000000FFFF0000010012AC:D2F0 01\n"
    )
    rows = parse_socket_table(table)
    assert (0x162E, 0x0A) in rows
    assert container_sockets.is_listening(rows, 5678)
    assert container_sockets.has_client(rows, 5678)
    assert not container_sockets.is_listening(rows, 41394)
    assert not container_sockets.has_client(parse_socket_table(table.splitlines()[1]), 5678)


def test_training_debug_command_links_the_processing_root_to_the_training_code(tmp_path):
    import subprocess

    alias = tmp_path / "processing" / "input" / "code"
    code = tmp_path / "training-code"
    code.mkdir()
    (code / "job.py").write_text("import sys; print('ran', sys.argv[1:])\n")
    options = DebugOptions(code_alias=str(alias), code_root=str(code))
    command = options.python_command()
    assert command[:2] == ["sh", "-c"]
    assert command[3:6] == ["python3", "-Xfrozen_modules=off", "-c"]
    # Run the wrapper with `echo` in place of the interpreter: it links, then execs the rest.
    wrapper = [*command[:3], "echo", "python3", "job.py", "--c", "0.5"]
    done = subprocess.run(wrapper, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "python3 job.py --c 0.5"
    assert alias.is_symlink() and (alias / "job.py").read_text() == (code / "job.py").read_text()


def test_debug_test_child_configuration_maps_each_jobs_code_to_its_source(tmp_path):
    from mlmax.project.catalog import JobDefinition, get_job
    from mlmax.pytest_plugin.debug_test import attach_configuration

    own = attach_configuration(get_job("train"), 40123)
    assert own["connect"] == {"host": "127.0.0.1", "port": 40123}
    assert own["pathMappings"] == debug.path_mappings()  # both roots -> mlmax_census/jobs
    assert own["justMyCode"] is False and own["request"] == "attach"
    declared = JobDefinition("score", "score.py", "processing", (), (), source_dir=tmp_path)
    mappings = attach_configuration(declared, 40124)["pathMappings"]
    assert mappings == [{"localRoot": str(tmp_path), "remoteRoot": PROCESSING_CODE_ROOT}]


def test_outside_a_debugger_container_tests_run_as_usual(tmp_path):
    import subprocess
    import sys

    header = "mlmax: running under a debugger"
    done = subprocess.run(
        # Not -q: the header (where a Debug Test run announces itself) must be printed.
        [sys.executable, "-m", "pytest", "--smlocal", "--collect-only", "-p",
         "no:cacheprovider", f"--basetemp={tmp_path}", "tests/localmode/run/test_chain.py"],
        cwd=JOBS_DIR.parents[1], capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "rootdir:" in done.stdout and "test_preprocessing" in done.stdout  # header, tests
    assert header not in done.stdout


@pytest.mark.parametrize(
    ("command", "debugged"),
    [
        (["python3"], True),
        (["/usr/local/bin/python3.11", "-u"], True),
        (["python"], True),
        (["bash"], False),
        (["Rscript"], False),
        (["python3-config"], False),
        ([], False),
        (None, False),
    ],
)
def test_only_a_python_command_of_an_own_processor_goes_under_debugpy(command, debugged):
    from mlmax.localmode.debug.sdk_hooks import runs_python

    assert runs_python(command) is debugged


@pytest.mark.parametrize(
    ("command", "script_and_args"),
    [
        ("python3 train.py --c 0.5", ["train.py", "--c", "0.5"]),
        ("python train.py", ["train.py"]),
        ("python3 -u train.py", None),
        ("python3 -m pkg.train", None),
        ("python3", None),
        ("bash run.sh", None),
        ("python3 prep.py && python3 train.py", None),
        ("python3 'unbalanced", None),
        (None, None),
    ],
)
def test_only_a_trainers_python_script_command_goes_under_debugpy(command, script_and_args):
    from mlmax.localmode.debug.sdk_hooks import trainer_script

    assert trainer_script(command) == script_and_args
