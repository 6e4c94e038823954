"""The images jobs run in: the job image built offline and cached by content hash, its base,
its debugpy variant, the wheelhouse, and the inventory of what mlmax made in the engine."""

from .base import local_base_image as local_base_image
from .base import offline_base_tag as offline_base_tag
from .base import requested_base_image as requested_base_image
from .debug_variant import ensure_debugpy_image as ensure_debugpy_image
from .for_jobs import DeclaredImage as DeclaredImage
from .for_jobs import JobImages as JobImages
from .for_jobs import declared_images as declared_images
from .for_jobs import image_for_job as image_for_job
from .for_jobs import project_default_image as project_default_image
from .inventory import list_job_images as list_job_images
from .inventory import prune_job_images as prune_job_images
from .job_image import current_job_tags as current_job_tags
from .job_image import ensure_job_image as ensure_job_image
