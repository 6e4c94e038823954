"""`mlmax image build | ls | prune`: the Docker images the jobs run in."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from mlmax.cli.common import EXIT_OK, progress

if TYPE_CHECKING:
    from mlmax.cli.common import Commands


def register(commands: Commands) -> None:
    image = commands.add_parser(
        "image",
        help="build, list and prune the job images",
        description="Manage the Docker images the jobs run in.",
    )
    actions = image.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build",
        help="build the job image if it is missing",
        description="Build the job image (offline) unless the current one exists; shows "
        "progress. In a project (a pyproject.toml with [tool.mlmax]), every image its jobs "
        "and tests run in that mlmax builds.",
    )
    build.add_argument(
        "--base-image",
        help="base image to build on (default: $MLMAX_BASE_IMAGE, else python:3.11-slim if "
        "present or pullable, else a Debian base built offline)",
    )
    build.add_argument("--no-debugpy", action="store_true", help="leave debugpy out")
    build.set_defaults(handler=run_build)
    ls = actions.add_parser(
        "ls", help="list mlmax images", description="List the images mlmax built."
    )
    ls.set_defaults(handler=run_ls)
    prune = actions.add_parser(
        "prune",
        help="remove outdated mlmax images",
        description="Remove mlmax images that the current workspace no longer uses; each "
        "project's newest image stays (its current one, as far as this workspace can tell).",
    )
    prune.add_argument("--all", action="store_true", help="remove the current images too")
    prune.set_defaults(handler=run_prune)


def run_build(args: argparse.Namespace) -> int:
    from mlmax.localmode.image import DeclaredImage, declared_images, ensure_job_image
    from mlmax.project import current_project

    project = current_project()
    # In a project, the images its jobs and tests run in: its own, built from the
    # requirements files it names, and mlmax's where it names none. A tag it names is its own.
    images = declared_images(project) if project else [DeclaredImage(None, None, ())]
    if all(declared.image for declared in images):
        print("✓ nothing to build: the project names every image it runs in (`mlmax doctor`)")
    for declared in images:
        if declared.image:
            continue
        started = time.perf_counter()
        tag = ensure_job_image(
            base_image=args.base_image,
            with_debugpy=not args.no_debugpy,
            progress=progress,
            requirements=declared.requirements,
            project=project.name if project and declared.requirements else None,
        )
        print(f"✓ job image {tag} ready ({time.perf_counter() - started:.1f} s)")
    return EXIT_OK


def run_ls(args: argparse.Namespace) -> int:
    from mlmax.common import print_table
    from mlmax.localmode.image import list_job_images

    images = list_job_images()
    if not images:
        print("no mlmax images; build one with `mlmax image build`")
        return EXIT_OK
    debugpy = {True: "yes", False: "no", None: "-"}  # None: the image does not say
    rows = [
        [
            i.tag,
            i.role,
            debugpy[i.debugpy],
            f"{i.size_mb:.0f} MB",
            time.strftime("%Y-%m-%d %H:%M", time.localtime(i.created)),
        ]
        for i in images
    ]
    print_table(["image", "role", "debugpy", "size", "created"], rows, right=(3,))
    return EXIT_OK


def run_prune(args: argparse.Namespace) -> int:
    from mlmax.localmode.image import prune_job_images

    result = prune_job_images(keep_current=not args.all)
    for tag in result.removed:
        print(f"removed {tag}")
    for tag in result.in_use:
        print(f"kept {tag} (a container still uses it)")
    print(
        f"✓ {len(result.removed)} image(s) removed, {len(result.kept)} current kept, "
        f"{len(result.in_use)} in use"
    )
    return EXIT_OK
