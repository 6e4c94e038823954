"""Two costs the SageMaker SDK puts on every run, cut without changing what it does.

Import: the SDK defines about 960 pydantic models at import time (its API shapes and
resources), and pydantic builds each one's validator there and then: about 0.45 s of the
SDK's 1.9 s import on 2 cores, for models a Local Mode run mostly never touches.
`deferred_model_builds` has pydantic build each one on first use instead (its documented
`defer_build` setting), for the models the SDK defines while mlmax imports it; every path
into the SDK (Local Mode, the managed runner, the export) starts with `import_sdk`.

Garbage collection: the import leaves about 180,000 objects the garbage collector tracks
(classes, functions, schemas) that live as long as the process. Every full collection walks
them again, and so does the collection at interpreter exit: 0.3-0.4 s at the end of every
process that imported the SDK. `import_sdk` moves them to the collector's permanent
generation (`gc.freeze`), which no collection walks; reference counting still frees them.

A debugger's tracer: under VS Code's Debug Test, pytest runs under debugpy, whose tracer sees
every Python call; the SDK's import then takes about twice as long (1.6 s against 0.85 s
here). `untraced` switches the tracer off for the calling thread while mlmax imports or
drives the SDK, code no one steps through, and back on after: breakpoints in the test and in
the job (its own debug session, in the container) bind as before.

Config validation: remember which SageMaker SDK configs passed schema validation.

The SDK validates the session's config dict against its full JSON schema on EVERY config
lookup, and jsonschema re-checks the schema itself each time: about 13 validations per
Local Mode job, 0.1-0.4 s each on 2 cores, most of a job that does nothing. mlmax always
passes a config (the telemetry opt-out), so it pays this on every run. The same validation
still runs once per distinct config; only its repeats are skipped. The SDK functions
wrapped here are reached (and pinned) through `mlmax.localmode.sdk.internals`.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from mlmax.localmode.sdk import internals as sdk_internals

_MARK = "_mlmax_cached"
_lock = threading.Lock()
_valid: set[str] = set()


def _cached(validate: Callable[..., Any]) -> Callable[..., Any]:
    def cached(sagemaker_config: dict | None = None) -> None:
        try:
            key = json.dumps(sagemaker_config, sort_keys=True)
        except (TypeError, ValueError):  # not JSON: validate every time, as the SDK does
            validate(sagemaker_config)
            return
        if key in _valid:
            return
        validate(sagemaker_config)  # raises on an invalid config: nothing is remembered
        with _lock:
            _valid.add(key)

    return cached


def cache_config_validation() -> None:
    """Wrap the SDK's config validation functions (idempotent)."""
    for hook in sdk_internals.CONFIG_VALIDATION:
        sdk_internals.wrap(hook, _cached, mark=_MARK)


@contextlib.contextmanager
def deferred_model_builds() -> Iterator[None]:
    """pydantic models defined inside the block build their validators on first use.

    A model class takes its config from its bases when it is defined, so the models the SDK
    defines here keep the setting and every model defined after the block is as before.
    The caller imports the SDK in the block; a module imported earlier is not changed.
    """
    import pydantic  # here: the commands that never reach the SDK need not import it

    config = pydantic.BaseModel.model_config
    previous = config.get("defer_build")
    config["defer_build"] = True
    try:
        yield
    finally:
        if previous is None:
            config.pop("defer_build", None)
        else:
            config["defer_build"] = previous


@contextlib.contextmanager
def untraced() -> Iterator[None]:
    """The calling thread runs without debugpy's tracer in the block (when it is traced)."""
    # debugpy's public trace_this_thread needs its debugger set up (pydevd's global one);
    # debugpy merely imported, or another tracer (coverage), is left alone.
    pydevd = sys.modules.get("pydevd")
    debugpy = sys.modules.get("debugpy")
    traced = pydevd is not None and pydevd.get_global_debugger() is not None
    if debugpy is None or not traced or sys.gettrace() is None:
        yield
        return
    debugpy.trace_this_thread(False)
    try:
        yield
    finally:
        debugpy.trace_this_thread(True)


def import_sdk(*modules: str) -> None:
    """Import the SDK's core (its API shapes and resources) and `modules` with the models
    they define built on first use. Modules already imported are left as they are."""
    import gc
    import importlib

    with untraced(), deferred_model_builds():
        for module in ("sagemaker.core", *modules):
            importlib.import_module(module)
    # No gc.collect() first (0.1 s): the import's few cyclic leftovers stay, once per process.
    gc.freeze()
