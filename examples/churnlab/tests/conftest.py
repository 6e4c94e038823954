from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def customers() -> Path:
    """The raw data: a folder with one CSV, as the processing job's input channel."""
    return PROJECT / "data"
