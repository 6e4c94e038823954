"""Pins the SDK hosting internals mlmax changes (serving_hooks.py): an SDK upgrade that
renames or reshapes them fails here, loudly, instead of publishing endpoints on every
interface or waiting 120 s again."""

from __future__ import annotations

import inspect
import sys

import pytest

from mlmax.localmode.sdk import serving_hooks


def _serving_container(tmp_path, container_config, serving_port):
    from sagemaker.core.local.image import _SageMakerContainer

    container = _SageMakerContainer.__new__(_SageMakerContainer)
    local = {"container_config": container_config, "serving_port": serving_port}
    container.sagemaker_session = type("S", (), {"config": {"local": local}})()
    container.container_root = str(tmp_path)
    container.image = "probe:1"
    container.is_studio = False
    container.instance_type = "local"
    container.container_entrypoint = None
    container.container_arguments = None
    return container


def test_sdk_still_publishes_the_serving_port_on_every_interface_without_the_hook(tmp_path):
    from sagemaker.core.local.image import _SageMakerContainer

    # Every layer: other hooks (mounts, credentials) may have stacked on this one already in
    # this process, depending on which tests ran first.
    original = inspect.unwrap(_SageMakerContainer._create_docker_host)
    container = _serving_container(tmp_path, {"labels": {"org.mlmax.session": "s"}}, 8123)
    container.sagemaker_session.config["local"]["container_config"]["ports"] = ["1:2"]
    service = original(container, "algo-1-x", [], set(), "serve", [])
    # What the hook exists for: the SDK replaces container_config's ports with this.
    assert service["ports"] == ["8123:8080"]
    assert service["command"] == "serve"


def test_hook_binds_mlmax_endpoints_to_loopback_only(tmp_path):
    serving_hooks.install_serving_hooks()
    ours = _serving_container(tmp_path, {"labels": {"org.mlmax.session": "s"}}, 8123)
    foreign = _serving_container(tmp_path, {}, 8124)
    assert ours._create_docker_host("algo-1-x", [], set(), "serve", [])["ports"] == [
        "127.0.0.1:8123:8080"
    ]
    assert foreign._create_docker_host("algo-1-x", [], set(), "serve", [])["ports"] == ["8124:8080"]


def test_loopback_ports_keeps_other_mappings():
    assert serving_hooks.loopback_ports(["9000:8080", "127.0.0.1:5799:5678"]) == [
        "127.0.0.1:9000:8080",
        "127.0.0.1:5799:5678",
    ]


def test_health_check_is_handed_to_the_registered_waiter_only():
    from sagemaker.core.local import entities

    serving_hooks.install_serving_hooks()
    original = entities._wait_for_serving_container.__wrapped__
    assert list(inspect.signature(original).parameters)[:2] == ["serving_port", "timeout"]
    calls = []
    serving_hooks.register_ready_waiter(61001, lambda: calls.append("waited"))
    try:
        entities._wait_for_serving_container(61001, timeout=120)
    finally:
        serving_hooks.forget_endpoint(61001, "")
    assert calls == ["waited"]
    # Any other port still gets the SDK's own loop (which gives up at once with timeout 5).
    with pytest.raises(RuntimeError, match="didn't launch correctly"):
        entities._wait_for_serving_container(61002, timeout=5)


def test_hosting_thread_of_mlmax_endpoints_is_quiet_and_keeps_the_exit_code(tmp_path, capfd):
    from sagemaker.core.local.image import _HostingContainer

    serving_hooks.install_serving_hooks()
    code = "print('compose says hello'); raise SystemExit(3)"
    command = [sys.executable, "-c", code, str(tmp_path)]
    with pytest.raises(RuntimeError, match="Failed to run"):
        _HostingContainer(command).run()  # not ours: the SDK's own behaviour
    assert "compose says hello" in capfd.readouterr().out
    serving_hooks.manage_endpoint(str(tmp_path))
    try:
        ours = _HostingContainer(command)
        ours.run()  # no raise (no thread traceback): mlmax watches the container itself
        assert ours.exit_code == 3
        assert "compose says hello" not in capfd.readouterr().out
    finally:
        serving_hooks.forget_endpoint(0, str(tmp_path))
