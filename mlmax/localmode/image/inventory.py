"""The images mlmax made in this engine: listed, and pruned when no longer current."""

from __future__ import annotations

from dataclasses import dataclass

import docker.errors

from mlmax.localmode.image.base import LABEL_PREFIX, LOCAL_BASE_REPOSITORY
from mlmax.localmode.image.build import engine
from mlmax.localmode.image.debug_variant import DEBUG_REPOSITORY
from mlmax.localmode.image.job_image import DEBUGPY_LABEL, JOB_REPOSITORY, current_job_tags

# An image is ours when both its label and its repository say so: images built FROM ours
# (a dev container, a user's own) inherit our labels but not our repository names.
_REPOSITORY_OF_ROLE = {
    "job": JOB_REPOSITORY,
    "debug": DEBUG_REPOSITORY,
    "base": LOCAL_BASE_REPOSITORY,
}


@dataclass(frozen=True)
class JobImage:
    """One image mlmax made: a job image, a debug image derived from one, or a base."""

    tag: str
    id: str
    role: str
    debugpy: bool | None
    size_mb: float
    created: int


@dataclass(frozen=True)
class PruneResult:
    removed: list[str]
    kept: list[str]
    in_use: list[str]


def list_job_images() -> list[JobImage]:
    """Every image mlmax built in this engine, newest first."""
    with engine() as client:
        images: list[JobImage] = []
        for entry in client.api.images(filters={"label": f"{LABEL_PREFIX}.role"}):
            labels = entry.get("Labels") or {}
            role = labels.get(f"{LABEL_PREFIX}.role", "")
            debugpy = {"1": True, "0": False}.get(labels.get(DEBUGPY_LABEL, ""))
            if role == "debug":
                debugpy = True
            ours = [
                tag
                for tag in entry.get("RepoTags") or []
                if tag.partition(":")[0] == _REPOSITORY_OF_ROLE.get(role)
                or (role == "job" and tag.startswith(JOB_REPOSITORY + "-"))
            ]
            for tag in ours:
                images.append(
                    JobImage(
                        tag=tag,
                        id=entry["Id"],
                        role=role,
                        debugpy=debugpy,
                        size_mb=entry["Size"] / 1e6,
                        created=entry["Created"],
                    )
                )
        return sorted(images, key=lambda image: (-image.created, image.tag))


def _newest_of_each_project(images: list[JobImage]) -> set[str]:
    """The newest image of each variant in each project's repository (`mlmax-job-<project>`).

    Which image is a project's current one depends on its own requirements file, which only
    that project's commands read; pruning from anywhere must not take it away (its next run
    would rebuild it, or fail if it runs meanwhile), so the newest stands for it."""
    newest: dict[tuple[str, bool | None], str] = {}
    for image in images:  # newest first
        repository = image.tag.partition(":")[0]
        if image.role == "job" and repository != JOB_REPOSITORY:
            newest.setdefault((repository, image.debugpy), image.tag)
    return set(newest.values())


def prune_job_images(keep_current: bool = True) -> PruneResult:
    """Remove job and debug images (bases are kept: they are slow to remake offline).

    With keep_current, the images the current workspace would use stay, and the newest of
    each project's own (their current ones, as far as this workspace can tell), and the debug
    images derived from them. Images a container still uses are left and reported.
    """
    with engine() as client:
        images = [image for image in list_job_images() if image.role in ("job", "debug")]
        keep_tags = (
            set(current_job_tags()) | _newest_of_each_project(images) if keep_current else set()
        )
        keep_ids = {image.id for image in images if image.tag in keep_tags}
        removed: list[str] = []
        kept: list[str] = []
        in_use: list[str] = []
        for image in images:
            source_id = ""
            if image.role == "debug":
                labels = client.api.inspect_image(image.id)["Config"].get("Labels") or {}
                source_id = labels.get(f"{LABEL_PREFIX}.source-image-id", "")
            if image.id in keep_ids or source_id in keep_ids:
                kept.append(image.tag)
                continue
            try:
                client.api.remove_image(image.tag)
            except docker.errors.APIError as error:
                if error.status_code == 409:
                    in_use.append(image.tag)
                    continue
                raise
            removed.append(image.tag)
        return PruneResult(removed=removed, kept=kept, in_use=in_use)
