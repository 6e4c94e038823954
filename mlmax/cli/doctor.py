"""`mlmax doctor`: can this machine run the jobs (or reach managed SageMaker)? A fix per failure."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mlmax.cli.common import EXIT_FAILURE, EXIT_OK
from mlmax.localmode.debug import DEFAULT_INSPECT_PORT

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlmax.cli.common import Commands
    from mlmax.localmode.image import DeclaredImage
    from mlmax.project import Project

# name, passed, what was found, how to fix it
Check = tuple[str, bool, str, str]


def register(commands: Commands) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check that this machine can run the jobs",
        description="Check Docker, Compose, disk space, the images and the debug port; each "
        "line says how to fix what fails. In a project (a pyproject.toml with [tool.mlmax]), "
        "the images are those its jobs and tests run in. Exit code 1 if anything fails.",
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


def _image_checks(project: Project | None) -> list[Check]:
    """Is the base image here, and every image the project's jobs and tests run in (outside
    a project: mlmax's job image)?"""
    import docker.errors

    from mlmax.localmode.engine import fresh_docker_client
    from mlmax.localmode.image import DeclaredImage, declared_images, local_base_image

    def present(tag: str) -> bool:
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
        return True

    client = fresh_docker_client()
    try:
        base = local_base_image(client)
        if base is None:
            build = "Run `mlmax image build` (offline; it shows progress)."
            return [
                ("Base image", False, "no base image in the engine", build),
                *mmdebstrap_check(),
            ]
        images = declared_images(project) if project else [DeclaredImage(None, None, ())]
        return [
            ("Base image", True, base, ""),
            *(_image_check(i, project, present) for i in images),
        ]
    finally:
        client.close()


def _image_check(
    declared: DeclaredImage, project: Project | None, present: Callable[[str], bool]
) -> Check:
    from mlmax.localmode.image import current_job_tags

    who = f" ({declared.who()})" if declared.users else ""
    if declared.image:  # a tag the project names: mlmax does not build it
        ok = present(declared.image)
        return (
            "Declared image",
            ok,
            f"{declared.image}{who}" + ("" if ok else " is not in the engine"),
            f"Load it (`docker load -i FILE`) or build it (`docker build -t {declared.image} "
            "...`), or declare requirements instead of image and mlmax builds it.",
        )
    own = project is not None and declared.requirements is not None
    tags = current_job_tags(
        requirements=declared.requirements, project=project.name if project and own else None
    )
    name = f"{project.name} job image" if project and own else "Job image"
    built = [t for t in tags if present(t)]
    if built:
        return name, True, f"{built[0]}{who}", ""
    where = f" in {project.root}" if project else ""
    return (
        name,
        False,
        f"{tags[0] if tags else 'the job image'}{who} is not built yet",
        f"Run `mlmax image build`{where} (offline; it shows progress).",
    )


def mmdebstrap_check() -> list[Check]:
    """mmdebstrap, when mlmax would build the missing base image with it (on Debian, with no
    base image chosen and none pullable)."""
    import shutil

    from mlmax.localmode.image import offline_base_tag, requested_base_image

    if requested_base_image()[1] or offline_base_tag() is None:
        return []
    path = shutil.which("mmdebstrap")
    if path:
        return [("mmdebstrap", True, path, "")]
    return [
        (
            "mmdebstrap",
            False,
            "mmdebstrap is not installed; mlmax builds the base image with it when no base "
            "image can be pulled",
            "Install it: `apt-get install -y mmdebstrap`.",
        )
    ]


def _sdk_check() -> Check:
    """SDK v3 installed, not an SDK v2 environment's `sagemaker` (read without importing it)."""
    from mlmax.common import installed_core_version, installed_sdk_version, sdk_v2_sentence

    version = installed_sdk_version()
    v2 = sdk_v2_sentence()
    if v2 is not None:
        found, _, fix = v2.partition("; ")
        return "SageMaker SDK", False, found, fix[0].upper() + fix[1:] + "."
    # mlmax installs SDK v3's distributions; the `sagemaker` meta-package may be absent.
    core = installed_core_version()
    if core is None:
        return "SageMaker SDK", False, "not installed", "Install mlmax with its dependencies."
    return (
        "SageMaker SDK",
        True,
        f"sagemaker {version}" if version else f"sagemaker-core {core}",
        "",
    )


def run_doctor(args: argparse.Namespace) -> int:
    if args.cloud:
        from mlmax.cloud import cloud_checks

        checks = [(c.name, c.ok, c.detail, c.fix) for c in cloud_checks()]
        checks.append(_sdk_check())
    else:
        from mlmax.localmode.engine import check_environment

        checks = [(c.name, c.ok, c.detail, c.fix) for c in check_environment()]
        if all(ok for name, ok, _, _ in checks if name == "Docker daemon"):
            from mlmax.project import current_project

            checks += _image_checks(current_project())
        checks.append(_sdk_check())
        checks.append(_port_check(DEFAULT_INSPECT_PORT))
    for name, ok, detail, fix in checks:
        mark = "✓" if ok else "✗"
        print(f"{mark} {name}: {detail}" + ("" if ok else f"\n    fix: {fix}"))
    failed = sum(not ok for _, ok, _, _ in checks)
    print(f"{len(checks) - failed} of {len(checks)} checks passed")
    return EXIT_FAILURE if failed else EXIT_OK
