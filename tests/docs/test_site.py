"""The documentation site builds with `mkdocs build --strict`, and its generated parts say
what the code says: every command, option, fixture, error message and benchmark figure."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.docs.hooks import hook_module

REPO = Path(__file__).resolve().parents[2]


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=REPO,  # the snippets' base path
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("site")
    done = _build(REPO / "mkdocs.yml", built)
    assert done.returncode == 0, done.stderr[-5000:]
    assert "WARNING" not in done.stderr, done.stderr[-5000:]
    return built


def squash(text: str) -> str:
    """Text without whitespace: what a page shows, however it was split into elements."""
    return "".join(text.split())


def text_of(site: Path, page: str) -> str:
    """A built page's article as plain text, squashed."""
    content = (site / page / "index.html").read_text(encoding="utf-8")
    article = content[content.index("<article") : content.index("</article>")]
    return squash(html.unescape(re.sub(r"<[^>]+>", "", article)))


def _nav_pages(nav: list) -> list[str]:
    pages = []
    for entry in nav:
        for value in entry.values():
            pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_every_page_of_the_navigation_is_built(site: Path) -> None:
    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=yaml.Loader)
    pages = _nav_pages(config["nav"])
    assert len(pages) >= 14
    for page in pages:
        built = site / ("" if page == "index.md" else page.removesuffix(".md")) / "index.html"
        assert built.is_file(), page
    # Every page in docs/ is in the navigation (an orphan page is found by nobody).
    on_disk = {str(p.relative_to(REPO / "docs")) for p in (REPO / "docs").rglob("*.md")}
    assert on_disk == set(pages)


def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    docs = Path(shutil.copytree(REPO / "docs", tmp_path / "docs"))
    page = docs / "getting-started.md"
    page.write_text(page.read_text() + "\nSee [the missing page](missing.md).\n")
    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=yaml.Loader)
    config["docs_dir"] = str(docs)
    config["hooks"] = [str(REPO / hook) for hook in config["hooks"]]
    written = tmp_path / "mkdocs.yml"
    written.write_text(yaml.dump(config))
    done = _build(written, tmp_path / "site")
    assert done.returncode != 0
    assert "missing.md" in done.stderr


def test_the_command_reference_has_every_subcommands_help(site: Path) -> None:
    page = text_of(site, "cli")
    for name, help_text in hook_module("reference").commands():
        assert squash(help_text) in page, name


def test_the_plugin_reference_has_every_option_and_fixture(site: Path) -> None:
    reference = hook_module("reference")
    page = text_of(site, "pytest-plugin")
    options = reference.options()
    assert {"--smlocal", "--inspectlocal", "--test-at"} <= {n for o in options for n in o["names"]}
    for option in options:
        assert squash(option["help"]) in page
    fixtures = reference.fixtures()
    assert {"sm_local", "sm_session", "sm_endpoint", "sm_image"} <= {f[0] for f in fixtures}
    for name, scope, _ in fixtures:
        assert squash(f"{name} {scope}") in page


def test_troubleshooting_lists_every_message(site: Path) -> None:
    sites, relayed = hook_module("error_index").scan()
    page = text_of(site, "troubleshooting")
    missing = [s for s in sites if squash(s.message.replace("`", "")) not in page]
    assert not missing, missing[:5]
    for item in relayed:
        assert squash(f"{item.path}:{item.line}") in page


def test_the_benchmark_page_shows_every_result_file(site: Path) -> None:
    page = text_of(site, "benchmarks")
    tables = hook_module("benchmark_tables")
    names = tables.names()
    assert {"fast_loops", "debug_startup", "scale", "localmode_overhead"} <= set(names)
    for name in names:
        document = json.loads((tables.RESULTS / f"{name}.json").read_text())
        assert squash(document["command"]) in page
        for figure in document["figures"]:
            base = figure.get("base") or figure["commit"]
            assert squash(figure["what"]) in page and base[:8] in page
    plot = site / "img" / "scale.png"
    assert plot.read_bytes().startswith(b"\x89PNG")
