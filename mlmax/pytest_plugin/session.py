"""`--smlocal`'s session: the one Docker check, the one sweep, signals, the fixtures' LocalMode.

`LocalModeSession` is registered (as `LOCALMODE`) by `mlmax.pytest_plugin.plugin` only when
`--smlocal` is on; the fixtures ask it for the image and the LocalMode. Docker, Compose and the
job image are checked (and the image built) once, when the first container test needs them,
never at start-up: so collection never touches Docker and a run of unit tests never waits for
it. The outcome is remembered: an unusable Docker fails every container test with the same
error, without asking Docker again. Once Docker is known to work, what killed sessions left is
swept, once for the session.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mlmax.common import EnvironmentNotReadyError, MlmaxError, TerminationHandlers
from mlmax.pytest_plugin.debugger import debugger_of

if TYPE_CHECKING:
    from mlmax.localmode.run import LocalMode

MARKER = "smlocal"
SKIP_REASON = "need --smlocal option to run"
LOCALMODE = "mlmax-localmode"  # the name LocalModeSession is registered under


def local_mode_session(config: pytest.Config) -> LocalModeSession | None:
    """The session's LocalModeSession; None without --smlocal."""
    session: LocalModeSession | None = config.pluginmanager.get_plugin(LOCALMODE)
    return session


def say(config: pytest.Config) -> Callable[[str], None]:
    """Progress lines shown live, even while pytest captures output."""
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")

    def say(message: str) -> None:
        line = f"[mlmax] {message}"
        if reporter is None:
            print(line, file=sys.__stderr__, flush=True)
        elif capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(line)
        else:
            reporter.write_line(line)

    return say


def _worker_say(message: str) -> None:
    print(f"[mlmax] {message}", file=sys.__stderr__, flush=True)


class LocalModeSession:
    """What `--smlocal` adds to a pytest session; registered only with `--smlocal`."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._image: str | None = None
        # Why container tests cannot run here: raised again for every one of them.
        self.unusable: MlmaxError | None = None
        self._termination: TerminationHandlers | None = None

    # -- signals: SIGTERM and SIGHUP tear down like Ctrl-C ------------------------------------
    def pytest_configure(self) -> None:
        # The same teardown as Ctrl-C (containers, compose, temp dirs).
        self._termination = TerminationHandlers().install()

    @pytest.hookimpl(trylast=True)  # after the session's fixtures are torn down
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        handlers = self._termination
        if handlers is not None and handlers.received is not None:
            session.exitstatus = 128 + handlers.received  # the shell's code: 143, 129

    def pytest_unconfigure(self) -> None:
        if self._termination is not None:
            self._termination.restore()

    # -- the image, checked once ----------------------------------------------------------------
    def image(self) -> str:
        """The session's image, checked (and built if missing) on first use, then remembered.

        A failed check is remembered too: every container test then fails at once with the
        same error (its one sentence), rather than checking Docker again.
        """
        if self._image is not None:
            return self._image
        if self.unusable is None:
            try:
                self._image = self._resolve_image()
            except MlmaxError as error:  # a one-sentence error; anything else is a bug
                self.unusable = error
            else:
                self._sweep_killed_sessions()  # Docker is known to work now
                return self._image
        # Raised afresh each time: the traceback is this test's, not the first one's.
        raise self.unusable.with_traceback(None)

    def _resolve_image(self) -> str:
        """Check Docker and make sure the image exists; an MlmaxError naming the fix otherwise."""
        from mlmax.localmode.engine import require_docker

        client = require_docker()
        requested = self.config.getoption("--sm-image")
        if requested:
            import docker.errors

            try:
                client.images.get(requested)
            except docker.errors.ImageNotFound:
                raise EnvironmentNotReadyError(
                    f"image {requested!r} (from --sm-image) is not in the local Docker "
                    "engine; load it with `docker load` or drop --sm-image"
                ) from None
            return str(requested)
        from mlmax.localmode.image import project_default_image

        # xdist workers each reach this, but ensure_job_image builds under a lock shared by
        # every process (the first builds, the others wait and reuse it); a worker's progress
        # goes to the terminal's stderr, since the controller shows nothing of a worker's output.
        progress = _worker_say if hasattr(self.config, "workerinput") else say(self.config)
        return project_default_image(self.config.rootpath, progress=progress)

    def _sweep_killed_sessions(self) -> None:
        """Remove what SIGKILLed sessions left (containers, temp dirs); one line if anything."""
        from mlmax.localmode.run import describe_leftovers, reap

        swept = reap()
        if swept:
            say(self.config)(describe_leftovers(swept))

    # -- the fixtures' LocalMode ------------------------------------------------------------------
    def local_mode(self, s3_endpoint_url: str, basetemp: Path) -> LocalMode:
        """The session's LocalMode (to enter): the checked image, each declared job's own
        image, the fixture's S3 server, and the debugger's policy when one is registered."""
        from mlmax.localmode.image import JobImages
        from mlmax.localmode.run import LocalMode, debugging_runner, run_job

        image = self.image()
        override = self.config.getoption("--sm-image")
        debugger = debugger_of(self.config)
        return LocalMode(
            image=image,
            project_root=self.config.rootpath,
            # Each declared job's own image (built once, when first needed), else the image.
            image_for=JobImages(override=override, default=image),
            real_s3=False,
            s3_endpoint_url=s3_endpoint_url,
            default_timeout=self.config.getoption("--sm-timeout"),
            memory=self.config.getoption("--sm-memory"),
            temp_parent=_session_parent(basetemp),
            job_runner=run_job if debugger is None else debugging_runner(debugger.job_debugging),
        )


def _session_parent(basetemp: Path) -> Path | None:
    """pytest's basetemp when the next session's sweep looks there (the default one), else
    None: the temp root. A SIGKILLed run's dir under a --basetemp that no later run uses
    would otherwise never be swept."""
    from mlmax.localmode.run import is_swept

    return basetemp if is_swept(basetemp) else None
