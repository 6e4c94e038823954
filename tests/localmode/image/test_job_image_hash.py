"""The job image's cache keys and wheelhouse, without Docker (the wheelhouse test needs pip)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mlmax.common.cache import cache_root
from mlmax.localmode.image import wheelhouse
from mlmax.localmode.image.job_image import image_hash
from mlmax.localmode.image.wheelhouse import (
    WheelhouseError,
    ensure_wheelhouse,
    manylinux_tags,
    wheelhouse_key,
)

RECIPE = {
    "install.sh": b"python3 -m venv /opt/venv\n",
    "image.toml": b'[job]\ncmd = ["python3"]\n',
    "requirements.txt": b"pandas==3.1.1\n",
    "requirements-debug.txt": b"debugpy==1\n",
    "serve": b"exec python3 serving.py\n",
}
BASE_ID = "sha256:" + "a" * 64
VARIANT = {"BASE_IMAGE": "mlmax-base:x", "WITH_DEBUGPY": "1"}


def test_image_hash_is_stable_for_the_same_inputs() -> None:
    first = image_hash(RECIPE, BASE_ID, VARIANT)
    reordered = image_hash(dict(reversed(RECIPE.items())), BASE_ID, dict(reversed(VARIANT.items())))
    assert first == reordered
    assert len(first) == 64 and int(first, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        *({"recipe_files": {**RECIPE, name: content + b"#\n"}} for name, content in RECIPE.items()),
        {"base_image_id": "sha256:" + "b" * 64},
        {"variant": {**VARIANT, "WITH_DEBUGPY": "0"}},
        {"variant": {**VARIANT, "BASE_IMAGE": "python:3.11-slim"}},
    ],
    ids=[*RECIPE, "base-id", "debugpy-variant", "base-name"],
)
def test_image_hash_changes_with_every_input(change: dict) -> None:
    inputs = {"recipe_files": RECIPE, "base_image_id": BASE_ID, "variant": VARIANT}
    assert image_hash(**{**inputs, **change}) != image_hash(**inputs)


def test_the_job_image_hash_covers_every_file_of_its_recipe() -> None:
    # A file in job_image/ that the hash leaves out could change the image without a rebuild.
    from mlmax.localmode.image.debug_variant import DEBUG_RECIPE
    from mlmax.localmode.image.job_image import JOB_RECIPE, recipe_dir

    shipped = {p.name for p in recipe_dir().iterdir() if p.is_file()}
    assert shipped == set(JOB_RECIPE) | set(DEBUG_RECIPE)
    assert set(JOB_RECIPE) == set(RECIPE)


def test_manylinux_tags_cover_every_glibc_up_to_the_images() -> None:
    bookworm = manylinux_tags(36)
    assert bookworm[0] == "manylinux_2_36_x86_64"
    assert {"manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"} <= set(
        bookworm
    )
    assert bookworm[-1] == "manylinux1_x86_64"
    older = manylinux_tags(31)
    assert "manylinux_2_32_x86_64" not in older and "manylinux_2_31_x86_64" in older


def test_cache_root_prefers_mlmax_cache_dir_then_xdg_then_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MLMAX_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "mlmax"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "mlmax"
    monkeypatch.setenv("MLMAX_CACHE_DIR", str(tmp_path / "own"))
    assert cache_root() == tmp_path / "own"


def test_wheelhouse_key_follows_its_inputs(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.17.0\n")
    key = wheelhouse_key([requirements])
    assert wheelhouse_key([requirements]) == key
    assert wheelhouse_key([requirements], python_version="3.12") != key
    assert wheelhouse_key([requirements], platforms=manylinux_tags(31)) != key
    requirements.write_text("six==1.16.0\n")
    assert wheelhouse_key([requirements]) != key


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("MLMAX_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "wheelhouse"


def test_wheelhouse_downloads_once_then_reuses(cache: Path, tmp_path: Path, monkeypatch) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.17.0\n")
    lines: list[str] = []
    folder = ensure_wheelhouse([requirements], progress=lines.append)
    assert [p.name for p in folder.iterdir()] == ["six-1.17.0-py2.py3-none-any.whl"]
    assert folder.parent == cache
    assert [p.name for p in cache.iterdir()] == [folder.name]  # no partial download left
    assert any("Downloaded 1 wheels" in line for line in lines)

    def no_download(*args, **kwargs):
        raise AssertionError("pip ran although the wheelhouse was complete")

    monkeypatch.setattr(wheelhouse, "_pip_download", no_download)
    assert ensure_wheelhouse([requirements], progress=lines.append) == folder


def test_failed_download_raises_one_sentence_and_leaves_nothing(
    cache: Path, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("this is not a requirement !!\n")  # pip rejects it before any network
    with pytest.raises(WheelhouseError) as caught:
        ensure_wheelhouse([requirements], progress=lambda line: None)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("Downloading the image's wheels failed")
    assert list(cache.iterdir()) == []


def test_interrupted_download_never_looks_complete(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.17.0\n")

    def killed_halfway(files, dest: Path, *args) -> None:
        (dest / "six-1.17.0-py2.py3-none-any.whl").write_bytes(b"half a wheel")
        raise KeyboardInterrupt

    monkeypatch.setattr(wheelhouse, "_pip_download", killed_halfway)
    with pytest.raises(KeyboardInterrupt):
        ensure_wheelhouse([requirements], progress=lambda line: None)
    assert list(cache.iterdir()) == []


def test_a_day_old_partial_download_is_cleared(cache: Path, tmp_path: Path) -> None:
    abandoned = cache / ".partial-killed"
    abandoned.mkdir(parents=True)
    (abandoned / "half.whl").write_bytes(b"x")
    day_ago = time.time() - 25 * 3600
    os.utime(abandoned, (day_ago, day_ago))
    recent = cache / ".partial-running"
    recent.mkdir()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.17.0\n")
    folder = ensure_wheelhouse([requirements], progress=lambda line: None)
    assert sorted(p.name for p in cache.iterdir()) == sorted([".partial-running", folder.name])


def test_debian_sources_are_found_under_either_name(tmp_path: Path) -> None:
    # A Debian host names the file debian.sources; an image made by mmdebstrap (such as the
    # dev container built from the offline base) names it 0000debian.sources.
    from mlmax.localmode.image.base import debian_sources

    assert debian_sources(tmp_path) is None
    (tmp_path / "0000debian.sources").write_text("Types: deb\n")
    assert debian_sources(tmp_path) == tmp_path / "0000debian.sources"
    (tmp_path / "debian.sources").write_text("Types: deb\n")
    assert debian_sources(tmp_path) == tmp_path / "debian.sources"
