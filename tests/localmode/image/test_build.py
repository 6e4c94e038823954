"""The job image, built for real in the local engine (no registry): contents, cache, debugpy."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from mlmax.localmode.engine import containers, labels
from mlmax.localmode.image import base as base_image
from mlmax.localmode.image import debug_variant as debug_image
from mlmax.localmode.image.base import (
    LABEL_PREFIX,
    ImageBuildError,
    ensure_base_image,
    ensure_offline_base,
)
from mlmax.localmode.image.build import ROLE
from mlmax.localmode.image.debug_variant import ensure_debugpy_image
from mlmax.localmode.image.inventory import list_job_images, prune_job_images
from mlmax.localmode.image.job_image import (
    DEBUGPY_LABEL,
    JOB_REPOSITORY,
    ensure_job_image,
    recipe_dir,
)
from mlmax.localmode.run import reaper
from tests.support.leaks import container_events, wait_for
from tests.support.xdist_groups import JOB_IMAGE_BUILDS

pytestmark = [pytest.mark.smlocal, JOB_IMAGE_BUILDS]


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    client = docker.from_env(timeout=600)
    yield client
    client.close()


@pytest.fixture(scope="module")
def job_image() -> str:
    return ensure_job_image(progress=lambda line: None)


def run(client: docker.DockerClient, image: str, script: str) -> tuple[int, str]:
    """Exit code and output of `bash -c script` in a throw-away container."""
    container = client.containers.run(
        image,
        ["bash", "-c", script],
        detach=True,
        network_disabled=True,
        labels={f"{LABEL_PREFIX}.role": "test"},
    )
    try:
        code = container.wait(timeout=120)["StatusCode"]
        return code, container.logs().decode()
    finally:
        container.remove(force=True)


def pins() -> dict[str, str]:
    lines = (recipe_dir() / "requirements.txt").read_text().splitlines()
    pairs = [line.split("==") for line in lines if "==" in line and not line.startswith("#")]
    return {name.strip(): version.strip() for name, version in pairs}


def test_second_call_is_a_cache_hit(client: docker.DockerClient, job_image: str) -> None:
    before = client.images.get(job_image).id
    lines: list[str] = []
    started = time.time_ns()
    again = ensure_job_image(progress=lines.append)
    builds = container_events(
        "create", started, time.time_ns(), **{ROLE: "build", labels.OWNER_PID: str(os.getpid())}
    )
    assert again == job_image and client.images.get(again).id == before
    assert lines == []  # no build log at all
    assert builds == [], "a cache hit started a build container"


def test_image_holds_the_pinned_stack_and_what_sagemaker_drivers_need(
    client: docker.DockerClient, job_image: str
) -> None:
    script = (
        "set -e; command -v bash pip python3; "
        "python3 -c 'import sklearn, pandas, numpy, scipy, joblib, debugpy; "
        "print(sklearn.__version__, pandas.__version__, numpy.__version__, scipy.__version__)'; "
        "pip --version; env | grep -E '^PYTHON(DONTWRITEBYTECODE|UNBUFFERED)=1$' | sort; "
        "for m in matplotlib sagemaker boto3 mlmax; do "
        'python3 -c "import $m" 2>/dev/null && echo unexpected:$m; done; '
        "test ! -e /opt/ml && echo no-job-code"
    )
    code, output = run(client, job_image, script)
    assert code == 0, output
    lines = output.splitlines()
    assert lines[:3] == ["/usr/bin/bash", "/opt/venv/bin/pip", "/opt/venv/bin/python3"]
    want = pins()
    assert lines[3].split() == [
        want["scikit-learn"],
        want["pandas"],
        want["numpy"],
        want["scipy"],
    ]
    assert lines[4].startswith("pip ") and "/opt/venv/" in lines[4]
    assert lines[5:7] == ["PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"]
    assert "unexpected:" not in output
    assert lines[-1] == "no-job-code"


def test_nodebug_variant_lacks_debugpy_until_a_debug_image_adds_it(
    client: docker.DockerClient, job_image: str
) -> None:
    nodebug = ensure_job_image(with_debugpy=False, progress=lambda line: None)
    assert nodebug.endswith("-nodebug") and nodebug != job_image
    code, output = run(client, nodebug, "python3 -c 'import debugpy'")
    assert code != 0 and "No module named 'debugpy'" in output

    debug = ensure_debugpy_image(nodebug, progress=lambda line: None)
    assert debug.startswith("mlmax-debug:")
    code, output = run(client, debug, "python3 -m debugpy --version && python3 -c 'import sklearn'")
    assert code == 0, output
    assert output.strip() == "1.8.22"

    lines: list[str] = []
    assert ensure_debugpy_image(nodebug, progress=lines.append) == debug
    assert lines == []
    assert ensure_debugpy_image(job_image) == job_image  # already has debugpy


def test_a_job_image_with_debugpy_is_used_without_a_probe_container(
    client: docker.DockerClient, job_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its label says its recipe installed debugpy (proven in the image above): no container
    # is run to ask it, at the start of every debug run.
    assert client.images.get(job_image).labels[DEBUGPY_LABEL] == "1"

    def no_probe(image: str) -> dict[str, object]:
        raise AssertionError(f"probed {image}")

    monkeypatch.setattr(debug_image, "probe_image", no_probe)
    assert ensure_debugpy_image(job_image) == job_image


def build_containers(client: docker.DockerClient, digest_prefix: str) -> list[str]:
    """Build containers of a job image whose hash starts with digest_prefix, running or not."""
    found = client.containers.list(
        all=True, ignore_removed=True, filters={"label": f"{LABEL_PREFIX}.role=build"}
    )
    hashes = [c.labels.get(f"{LABEL_PREFIX}.job-hash", "") for c in found]
    return [h for h in hashes if h.startswith(digest_prefix)]


def test_fresh_build_then_cache_hit_leaves_one_layer_and_no_container(
    client: docker.DockerClient, job_image: str, tmp_path: Path
) -> None:
    recipe = tmp_path / "recipe"
    shutil.copytree(recipe_dir(), recipe)
    with (recipe / "install.sh").open("a") as script:
        script.write(f"# a variant only this test builds: {uuid.uuid4()}\n")
    # A one-wheel stack keeps this real build short; the full stack is tested above.
    (recipe / "requirements.txt").write_text("six==1.17.0\n")
    lines: list[str] = []
    tag = ensure_job_image(recipe_folder=recipe, progress=lines.append)
    project = f"{JOB_REPOSITORY}-prune-{uuid.uuid4().hex[:8]}"
    try:
        assert tag != job_image
        # The install command's own output, line by line, is the progress.
        assert "  Successfully installed debugpy-1.8.22 six-1.17.0" in lines
        assert lines[-1].startswith(f"Built {tag} (")
        image = client.images.get(tag)
        assert build_containers(client, image.labels[f"{LABEL_PREFIX}.job-hash"]) == []
        # One layer on the base, holding neither the uploaded recipe nor the wheels.
        base = client.images.get(image.labels[f"{LABEL_PREFIX}.base-image"])
        layers = image.attrs["RootFS"]["Layers"]
        assert layers[:-1] == base.attrs["RootFS"]["Layers"] and len(layers) > 1
        code, output = run(client, tag, "ls -A /tmp; command -v serve; python3 -c 'import six'")
        assert (code, output.split()) == (0, ["/usr/local/bin/serve"]), output
        # A commit keeps the build container's labels unless blanked: no owner, no `build`.
        assert image.labels[f"{LABEL_PREFIX}.role"] == "job"
        assert image.labels[f"{LABEL_PREFIX}.session"] == image.labels[f"{LABEL_PREFIX}.pid"] == ""
        assert (
            image.attrs["Config"]["Cmd"] == ["python3"] and not image.attrs["Config"]["Entrypoint"]
        )

        image_id = image.id
        again: list[str] = []
        assert ensure_job_image(recipe_folder=recipe, progress=again.append) == tag
        assert again == [] and client.images.get(tag).id == image_id
        assert tag in {image.tag for image in list_job_images()}

        # A project's images (their own repository): its older one goes, its newest stays,
        # as the project's current image may be, in use by its own run meanwhile. Two images
        # of its own, committed in turn ("newer" also wins a tie on the creation second).
        for version in ("older", "newer"):
            container = client.containers.create(job_image, ["true"])
            try:
                container.commit(repository=project, tag=version)
            finally:
                container.remove()
        result = prune_job_images(keep_current=True)
        assert tag in result.removed
        assert job_image not in result.removed and job_image in result.kept
        assert f"{project}:older" in result.removed and f"{project}:newer" in result.kept
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(tag)
    finally:
        for leftover in (tag, f"{project}:older", f"{project}:newer"):
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(leftover)


def test_failed_build_says_why_and_leaves_nothing(
    client: docker.DockerClient, job_image: str, tmp_path: Path
) -> None:
    recipe = tmp_path / "recipe"
    shutil.copytree(recipe_dir(), recipe)
    script = (recipe / "install.sh").read_text()
    marker = f"mlmax-broken-step-{uuid.uuid4().hex[:8]}"
    broken = script.replace("python3 -m venv", f"echo {marker}; exit 3\npython3 -m venv", 1)
    assert broken != script
    (recipe / "install.sh").write_text(broken)
    with pytest.raises(ImageBuildError) as caught:
        ensure_job_image(recipe_folder=recipe, progress=lambda line: None)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("Building mlmax-job:") and "exited with code 3" in message
    assert marker in message  # the command's own output, for the person reading it
    failed_tag = message.split()[1]
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(failed_tag)
    assert build_containers(client, failed_tag.split(":")[1]) == []


@contextlib.contextmanager
def slow_build(client: docker.DockerClient, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """A build in another process, held in its recipe: (that process, its build container)."""
    recipe = tmp_path / "recipe"
    shutil.copytree(recipe_dir(), recipe)
    marker = f"mlmax-slow-step-{uuid.uuid4().hex[:8]}"
    script = (recipe / "install.sh").read_text()
    (recipe / "install.sh").write_text(
        script.replace("python3 -m venv", f"echo {marker}; sleep 300\npython3 -m venv", 1)
    )
    (recipe / "requirements.txt").write_text("six==1.17.0\n")
    build = (
        "from pathlib import Path; from mlmax.localmode.image.job_image import ensure_job_image; "
        f"ensure_job_image(recipe_folder=Path({str(recipe)!r}))"
    )
    with (tmp_path / "build.log").open("w") as log:
        builder = subprocess.Popen([sys.executable, "-c", build], stdout=log, stderr=log)
    running = None
    try:
        running = wait_for(
            lambda: _build_container_of(client, builder, marker),
            timeout=180,
            what=f"the build container of pid {builder.pid} to run its recipe",
        )
        yield builder, running
    finally:
        builder.kill()
        builder.wait()
        if running is not None:
            # gone, or being removed by a sweep: both are fine
            containers.remove_containers([running])


def _build_container_of(
    client: docker.DockerClient, builder: subprocess.Popen[bytes], marker: str
) -> Any:
    """The build container `builder` started, once its recipe has printed `marker`."""
    assert builder.poll() is None, f"the build ended early (exit code {builder.returncode})"
    filters = {"label": [f"{ROLE}=build", f"{labels.OWNER_PID}={builder.pid}"]}
    for container in client.containers.list(all=True, ignore_removed=True, filters=filters):
        if marker in container.logs().decode(errors="replace"):
            return container
    return None


def _container_ids(client: docker.DockerClient) -> set[str]:
    return {c.id for c in client.containers.list(all=True, ignore_removed=True)}


def test_a_killed_build_leaves_a_container_the_next_session_sweeps(
    client: docker.DockerClient, job_image: str, tmp_path: Path
) -> None:
    with slow_build(client, tmp_path) as (builder, running):
        builder.kill()  # SIGKILL: no finally, no clean-up in the builder
        builder.wait()
        # A container run from a job image inherits its blank owner labels: nobody's orphan.
        unowned = client.containers.create(job_image, ["true"], labels={ROLE: "test"})
        try:
            # What the next session and `mlmax clean` run; roots=[]: containers only. Under
            # -n 2 the other worker's next session runs the same sweep and may be first: the
            # orphan is then already being removed, or gone, and this sweep does not list it.
            # Nothing else removes it (its builder died without any clean-up).
            reaper.reap(roots=[])
            wait_for(
                lambda: running.id not in _container_ids(client),
                timeout=60,
                what="the killed build's container to be swept",
            )
            assert unowned.id in _container_ids(client)  # blank owner labels: nobody's orphan
        finally:
            unowned.remove(force=True)


def test_an_interrupted_build_removes_its_container(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    with slow_build(client, tmp_path) as (builder, running):
        builder.send_signal(signal.SIGINT)  # Ctrl-C
        assert builder.wait(timeout=60) != 0
        output = (tmp_path / "build.log").read_text()
        assert "KeyboardInterrupt" in output, output
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(running.id)
        digest = running.labels[f"{LABEL_PREFIX}.job-hash"]
        assert client.images.list(filters={"label": f"{LABEL_PREFIX}.job-hash={digest}"}) == []


def test_missing_mmdebstrap_is_one_sentence(
    client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(base_image, "offline_base_tag", lambda: "mlmax-base:absent-for-test")
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no mmdebstrap
    with pytest.raises(ImageBuildError) as caught:
        ensure_offline_base(client, progress=lambda line: None)
    assert str(caught.value) == (
        "mmdebstrap is not installed; install it with: apt-get install -y mmdebstrap"
    )


def test_a_built_offline_base_is_used_without_asking_a_registry(
    client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Once the Debian base exists, runs never try a pull again (no traffic, no DNS wait).
    offline = ensure_offline_base(client, progress=lambda line: None)
    monkeypatch.delenv("MLMAX_BASE_IMAGE", raising=False)
    monkeypatch.setattr(base_image, "DEFAULT_BASE_IMAGE", "mlmax-test-never-pulled:1")

    def no_pull(*args: object, **kwargs: object) -> bool:
        raise AssertionError("a registry was asked although the offline base exists")

    monkeypatch.setattr(base_image, "_try_pull", no_pull)
    assert ensure_base_image(client, progress=lambda line: None) == offline


def test_an_explicit_base_that_cannot_be_had_is_not_silently_replaced(
    client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLMAX_BASE_IMAGE", "mlmax-test-absent-base:1")
    with pytest.raises(ImageBuildError) as caught:
        ensure_base_image(client, progress=lambda line: None)
    message = str(caught.value)
    assert message.startswith("Base image mlmax-test-absent-base:1 is neither in the Docker")
    assert "MLMAX_BASE_IMAGE" in message and "\n" not in message


def test_debugpy_cannot_be_added_without_pip_or_python(client: docker.DockerClient) -> None:
    base = ensure_base_image(client, progress=lambda line: None)
    # The offline Debian base has python3 without pip (a pulled slim Python image has pip).
    if base.startswith("mlmax-base:"):
        with pytest.raises(ImageBuildError, match=r"has no pip for its python3"):
            ensure_debugpy_image(base, progress=lambda line: None)

    empty = f"mlmax-test-empty:{uuid.uuid4().hex[:8]}"
    tar = io.BytesIO()
    tarfile.open(fileobj=tar, mode="w").close()
    repository, tag = empty.split(":")
    client.api.import_image_from_data(
        tar.getvalue(), repository=repository, tag=tag, changes=[f"LABEL {LABEL_PREFIX}.role=test"]
    )
    try:
        with pytest.raises(ImageBuildError) as caught:
            ensure_debugpy_image(empty, progress=lambda line: None)
        message = str(caught.value)
        assert message.startswith(f"Could not run python3 in image {empty}")
        assert "\n" not in message and "python3 on its PATH" in message
    finally:
        client.images.remove(empty)
    with pytest.raises(ImageBuildError, match="is not in the Docker engine"):
        ensure_debugpy_image(empty, progress=lambda line: None)


def test_images_built_from_ours_are_neither_listed_nor_pruned(
    client: docker.DockerClient, job_image: str
) -> None:
    # A dev container or a user's image built FROM the job image inherits its labels.
    derived = f"mlmax-test-derived:{uuid.uuid4().hex[:8]}"
    dockerfile = f"FROM {job_image}\nLABEL org.mlmax.test=derived\n".encode()
    client.images.build(fileobj=io.BytesIO(dockerfile), tag=derived, rm=True, forcerm=True)
    try:
        assert client.images.get(derived).labels[f"{LABEL_PREFIX}.role"] == "job"
        assert derived not in {image.tag for image in list_job_images()}
        result = prune_job_images(keep_current=True)
        assert derived not in result.removed
        assert client.images.get(derived).tags == [derived]
        assert job_image in result.kept
    finally:
        client.images.remove(derived)
