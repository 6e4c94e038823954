"""How much memory a job gets: an explicit limit, or its `ml.*` instance type's memory.

A container in Local Mode otherwise has all of this machine's memory, so a job that its
SageMaker instance would kill for using too much passes here. The table holds the memory
SageMaker lists for its instance types (GiB); the limit is the whole instance's memory,
an upper bound, since the instance's own processes use a little of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlmax.common import UsageError

# SageMaker's published memory per instance type, in GiB.
_FAMILIES: dict[str, dict[str, float]] = {
    "t3": {"medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32},
    "m4": {"xlarge": 16, "2xlarge": 32, "4xlarge": 64, "10xlarge": 160, "16xlarge": 256},
    "m5": {
        "large": 8,
        "xlarge": 16,
        "2xlarge": 32,
        "4xlarge": 64,
        "12xlarge": 192,
        "24xlarge": 384,
    },
    "c4": {"xlarge": 7.5, "2xlarge": 15, "4xlarge": 30, "8xlarge": 60},
    "c5": {
        "large": 4,
        "xlarge": 8,
        "2xlarge": 16,
        "4xlarge": 32,
        "9xlarge": 72,
        "18xlarge": 144,
    },
    "r5": {
        "large": 16,
        "xlarge": 32,
        "2xlarge": 64,
        "4xlarge": 128,
        "12xlarge": 384,
        "24xlarge": 768,
    },
    "g4dn": {
        "xlarge": 16,
        "2xlarge": 32,
        "4xlarge": 64,
        "8xlarge": 128,
        "12xlarge": 192,
        "16xlarge": 256,
    },
    "p3": {"2xlarge": 61, "8xlarge": 244, "16xlarge": 488},
}
INSTANCE_MEMORY_GIB: dict[str, float] = {
    f"ml.{family}.{size}": gib for family, sizes in _FAMILIES.items() for size, gib in sizes.items()
}
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)([kmg]?)b?$", re.IGNORECASE)
_UNIT = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}


class MemorySizeError(UsageError, ValueError):
    """A memory limit or an instance type mlmax cannot turn into a limit."""


def parse_memory(text: str) -> int:
    """`"2g"`, `"512m"`, `"1.5g"` or a byte count -> bytes; one sentence naming the fix."""
    match = _MEMORY.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise MemorySizeError(
            f"memory limit {text!r} is not a size; write a number with k, m or g, e.g. 2g"
        )
    return int(float(match.group(1)) * _UNIT[match.group(2).lower()])


def instance_memory(instance_type: str) -> int:
    """The memory of a SageMaker `ml.*` instance type, in bytes."""
    try:
        return int(INSTANCE_MEMORY_GIB[instance_type] * 2**30)
    except KeyError:
        raise MemorySizeError(
            f"instance type {instance_type!r} is not in mlmax's memory table; use one of "
            f"{', '.join(sorted(INSTANCE_MEMORY_GIB))}, or give the memory limit itself"
        ) from None


def describe_memory(size: int) -> str:
    """Bytes as a person writes them: 4g, 512m, 1.5g."""
    for unit in ("g", "m", "k"):
        value = size / _UNIT[unit]
        if value >= 1:
            return f"{value:g}{unit}"
    return str(size)


@dataclass(frozen=True)
class MemoryLimit:
    """A job's memory limit in bytes and where it came from, for the sentence that names it."""

    size: int
    source: str

    def __str__(self) -> str:
        return f"{describe_memory(self.size)} ({self.source})"


def job_memory_limit(
    instance_type: str | None, requested: str | int | None = None
) -> MemoryLimit | None:
    """The limit a job runs with: the one asked for, else its instance type's memory."""
    if requested is not None:
        size = requested if isinstance(requested, int) else parse_memory(requested)
        return MemoryLimit(size, "the memory option")
    if instance_type is not None:
        return MemoryLimit(instance_memory(instance_type), f"instance type {instance_type}")
    return None
