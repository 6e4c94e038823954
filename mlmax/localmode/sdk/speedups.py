"""What the SageMaker SDK costs every run, cut without changing what it does.

Import: the SDK defines hundreds of pydantic models at import time (its API shapes and
resources), and pydantic builds each one's validator there and then, for models a Local
Mode run mostly never touches. `deferred_model_builds` has pydantic build each one on first
use instead (its documented `defer_build` setting). pydantic reads that setting only from a
model's bases, and the SDK's models derive from `pydantic.BaseModel` itself, so the setting
is put on `BaseModel.model_config` for exactly the import of the SDK's modules: under a
lock, only for modules not imported yet, and taken off again however the import ends.
Every path into the SDK (Local Mode, the managed runner, the export) starts with
`import_sdk`.

Garbage collection: the import leaves a great many objects the collector tracks (classes,
functions, schemas) that live as long as the process; every full collection would walk
them again, and so would the collection at interpreter exit. `import_sdk` moves them to the
collector's permanent generation (`gc.freeze`), which no collection walks; reference
counting still frees them. Only mlmax's own processes import the SDK through it.

A debugger's tracer: under VS Code's Debug Test, pytest runs under debugpy, whose tracer sees
every Python call and slows the SDK's import down. `untraced` switches the tracer off for
the calling thread while mlmax imports or drives the SDK, code no one steps through, and
back on after: breakpoints in the test and in the job (its own debug session, in the
container) bind as before.

Config validation: the SDK validates the session's config dict against its full JSON schema
on every config lookup, and jsonschema re-checks the schema itself each time; mlmax always
passes a config (the telemetry opt-out), so every run would pay that many times over. The
same validation still runs once per distinct config; only its repeats are skipped. The SDK
functions wrapped here are reached (and pinned) through `mlmax.localmode.sdk.internals`.

`benchmarks/sdk_import.py` measures what the deferral and the freeze buy.
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
# One import of the SDK at a time changes pydantic's setting (see deferred_model_builds).
_import_lock = threading.Lock()
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

    A model class takes its config from its bases when it is defined, so the models defined
    here keep the setting and every model defined after the block is as before; pydantic's
    `BaseModel.model_config` is as it was when the block ends, whether it ends normally or
    by an exception. One block at a time (a lock): two overlapping blocks would otherwise
    put back each other's setting.
    """
    import pydantic  # here: the commands that never reach the SDK need not import it

    with _import_lock:
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
    they define built on first use. Modules already imported are left as they are, and when
    all of them are, nothing is changed at all."""
    import gc
    import importlib

    missing = [m for m in ("sagemaker.core", *modules) if m not in sys.modules]
    if not missing:
        return
    with untraced(), deferred_model_builds():
        for module in missing:
            importlib.import_module(module)
    # No gc.collect() first: it would walk the whole import once more, and the few cyclic
    # leftovers of an import stay only once per process.
    gc.freeze()
