"""Which image a declared job runs in, built or checked on demand.

In order: an explicit override (`--sm-image`, `mlmax debug --image`), the job's declared
`image` (a tag already in the engine), its declared `requirements` (a job image of the
project's own, built offline like mlmax's and tagged per project), else mlmax's job image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlmax.common import Progress
from mlmax.project import JobDefinition, Project

# Who uses a project's default image: its tests (`sm_image`, `sm_session`).
TESTS_DEFAULT = "the tests' default"


class JobImages:
    """Picks each job's image; ensures every distinct image once per instance."""

    def __init__(
        self,
        *,
        override: str | None = None,
        default: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.override = override
        self.progress = progress
        self._built: dict[tuple[Path, str] | None, str] = {}
        if default is not None:
            self._built[None] = default

    def default(self) -> str:
        """mlmax's own job image (or the override)."""
        if self.override:
            return self.override
        if None not in self._built:
            from mlmax.localmode.image.job_image import ensure_job_image

            self._built[None] = ensure_job_image(progress=self.progress)
        return self._built[None]

    def __call__(self, job: JobDefinition) -> str:
        """The tag `job` runs in; builds the project's or mlmax's job image when missing."""
        from mlmax.localmode.image.job_image import ensure_job_image

        if self.override:
            return self.override
        if job.image:
            return job.image
        if not job.requirements:
            return self.default()
        key = (job.requirements, job.project)
        if key not in self._built:
            self._built[key] = ensure_job_image(
                requirements=job.requirements, project=job.project, progress=self.progress
            )
        return self._built[key]


def image_for_job(
    job: JobDefinition, *, override: str | None = None, progress: Progress | None = None
) -> str:
    """The tag one job runs in (see JobImages)."""
    return JobImages(override=override, progress=progress)(job)


def project_default_image(project_root: Path, *, progress: Progress | None = None) -> str:
    """The image a project's tests run in by default: the image or requirements its
    `[tool.mlmax]` names, else mlmax's job image."""
    from mlmax.localmode.image.job_image import ensure_job_image
    from mlmax.project import current_project

    project = current_project(project_root)
    if project is not None and project.image:
        return project.image
    if project is not None and project.requirements:
        return ensure_job_image(
            requirements=project.requirements, project=project.name, progress=progress
        )
    return ensure_job_image(progress=progress)


@dataclass(frozen=True)
class DeclaredImage:
    """One image a project's jobs or tests run in: a tag the project names (`image`), the
    project's own image built from `requirements`, or (neither) mlmax's job image."""

    image: str | None
    requirements: Path | None
    users: tuple[str, ...]

    def who(self) -> str:
        """`jobs a, b and the tests' default`: who runs in it."""
        jobs = [user for user in self.users if user != TESTS_DEFAULT]
        parts = [f"job{'s' if len(jobs) > 1 else ''} {', '.join(jobs)}"] if jobs else []
        parts += [TESTS_DEFAULT] if TESTS_DEFAULT in self.users else []
        return " and ".join(parts)


def declared_images(project: Project) -> list[DeclaredImage]:
    """Every distinct image `project` uses: its tests' default, then its jobs' in name order."""
    users: dict[tuple[str | None, Path | None], list[str]] = {
        (project.image, project.requirements): [TESTS_DEFAULT]
    }
    for name, job in sorted(project.jobs.items()):
        users.setdefault((job.image, job.requirements), []).append(name)
    return [DeclaredImage(image, req, tuple(names)) for (image, req), names in users.items()]
