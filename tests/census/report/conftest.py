"""Helpers for checking the report's files."""

from __future__ import annotations

from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_valid_png(path: Path, min_side: int = 200) -> None:
    """A real, decodable, non-trivial PNG (not an empty or placeholder file)."""
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    pixels = matplotlib.image.imread(path)
    height, width = pixels.shape[:2]
    assert height >= min_side and width >= min_side, f"{path} is only {width}x{height}"
    # A drawn chart has many distinct colours; a blank canvas has one.
    assert len({tuple(p) for p in pixels.reshape(-1, pixels.shape[-1])[::97]}) > 5
