"""The troubleshooting page's index finds every kind of message site mlmax writes."""

from __future__ import annotations

from pathlib import Path

from tests.docs.hooks import hook_module

error_index = hook_module("error_index")

PACKAGE = """
import argparse

class MlmaxError(Exception): ...
class UsageError(MlmaxError): ...
class NotFoundError(UsageError, ValueError): ...
class JobBroke(MlmaxError):
    def __init__(self, job):
        super().__init__(f"job {job!r} broke; run it again")

def _why(path):
    if path:
        return f"{path} is gone; create it"
    return None

def command(parser, path, port):
    if port < 0:
        parser.error("--port must be 0 or more")
    if not path:
        raise NotFoundError(f"no {path}; pass --input")
    message = f"{path} is empty; add rows"
    raise UsageError(message)

def other(path, caught):
    raise UsageError(_why(path))
    raise JobBroke("train")
    raise UsageError(str(caught))
    raise argparse.ArgumentTypeError("must be positive")

def check():
    return ("Disk", False, "1 GB free", "Free 3 GB")
"""


def test_every_kind_of_site_is_found(tmp_path: Path) -> None:
    package = tmp_path / "mlmax"
    package.mkdir()
    (package / "module.py").write_text(PACKAGE)
    sites, relayed = error_index.scan(package)
    found = {(site.kind, site.message, site.exit_code) for site in sites}
    assert found == {
        ("parser.error", "--port must be 0 or more", 2),
        ("NotFoundError", "no ‹path›; pass --input", 2),
        ("UsageError", "‹path› is empty; add rows", 2),
        ("UsageError", "‹path› is gone; create it", 2),
        ("JobBroke", "job ‹job› broke; run it again", 1),
        ("ArgumentTypeError", "must be positive", 2),
        ("failing check", "✗ Disk: 1 GB free — Free 3 GB", 1),
    }
    assert [(item.kind, item.source) for item in relayed] == [("UsageError", "str(caught)")]


def test_mlmax_has_messages_in_every_part() -> None:
    sites, _ = error_index.scan()
    parts = {site.path.split("/")[1] for site in sites}
    assert {"cli", "jobs", "localmode", "pipeline", "cloud", "pytest_plugin"} <= parts
    assert {"mlmax", "mlmax_census"} == {site.path.split("/")[0] for site in sites}
    assert len(sites) > 100
    # A message known to be there, with its fix.
    assert any("choose another with" in site.message for site in sites)
