"""`mlmax doctor`: can this machine run the jobs (or reach managed SageMaker)? A fix per failure."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mlmax.cli.common import EXIT_FAILURE, EXIT_OK
from mlmax.localmode.debug import DEFAULT_INSPECT_PORT

if TYPE_CHECKING:
    from mlmax.cli.common import Commands

# name, passed, what was found, how to fix it
Check = tuple[str, bool, str, str]


def register(commands: Commands) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check that this machine can run the jobs",
        description="Check Docker, Compose, disk space and the debug port; each line says "
        "how to fix what fails. Exit code 1 if anything fails.",
    )
    doctor.add_argument(
        "--cloud",
        action="store_true",
        help="check the set-up for managed SageMaker instead (credentials, region, role, "
        "bucket, image), without calling AWS",
    )
    doctor.set_defaults(handler=run_doctor)


def _port_check(port: int) -> Check:
    # The same check the debug runs make (a port in TIME_WAIT after a debug session is
    # usable; a listening one is not), so doctor never disagrees with them.
    from mlmax.localmode.engine import port_is_free

    name = f"Debug port {port}"
    if not port_is_free(port):
        return (
            name,
            False,
            f"127.0.0.1:{port} is in use",
            "Stop what listens there, or pick another port (`mlmax debug --port`, "
            "`pytest --inspect-port`).",
        )
    return name, True, f"127.0.0.1:{port} is free", ""


def _image_checks() -> list[Check]:
    """Is the base image here, and the job image of the current workspace?"""
    import docker.errors

    from mlmax.localmode.engine import fresh_docker_client
    from mlmax.localmode.image import current_job_tags, local_base_image

    def present(tag: str) -> bool:
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
        return True

    build = "Run `mlmax image build` (offline; it shows progress)."
    client = fresh_docker_client()
    try:
        base = local_base_image(client)
        if base is None:
            return [("Base image", False, "no base image in the engine", build)]
        checks: list[Check] = [("Base image", True, base, "")]
        tags = current_job_tags()
        built = [t for t in tags if present(t)]
        if built:
            checks.append(("Job image", True, built[0], ""))
        else:
            wanted = tags[0] if tags else "the job image"
            checks.append(("Job image", False, f"{wanted} is not built yet", build))
        return checks
    finally:
        client.close()


def _sdk_check() -> Check:
    """SDK v3 installed, not an SDK v2 environment's `sagemaker` (read without importing it)."""
    from mlmax.common import installed_sdk_version, sdk_v2_sentence

    version = installed_sdk_version()
    v2 = sdk_v2_sentence()
    if v2 is not None:
        found, _, fix = v2.partition("; ")
        return "SageMaker SDK", False, found, fix[0].upper() + fix[1:] + "."
    if version is None:
        return "SageMaker SDK", False, "not installed", "Install mlmax with its dependencies."
    return "SageMaker SDK", True, f"sagemaker {version}", ""


def run_doctor(args: argparse.Namespace) -> int:
    if args.cloud:
        from mlmax.cloud import cloud_checks

        checks = [(c.name, c.ok, c.detail, c.fix) for c in cloud_checks()]
        checks.append(_sdk_check())
    else:
        from mlmax.localmode.engine import check_environment

        checks = [(c.name, c.ok, c.detail, c.fix) for c in check_environment()]
        if all(ok for name, ok, _, _ in checks if name == "Docker daemon"):
            checks += _image_checks()
        checks.append(_sdk_check())
        checks.append(_port_check(DEFAULT_INSPECT_PORT))
    for name, ok, detail, fix in checks:
        mark = "✓" if ok else "✗"
        print(f"{mark} {name}: {detail}" + ("" if ok else f"\n    fix: {fix}"))
    failed = sum(not ok for _, ok, _, _ in checks)
    print(f"{len(checks) - failed} of {len(checks)} checks passed")
    return EXIT_FAILURE if failed else EXIT_OK
