"""mlmax's lasting hooks on the SDK come with one explicit call, never with an import."""

from __future__ import annotations

import subprocess
import sys

# In a fresh interpreter: earlier tests of this process may have installed the hooks already.
SCRIPT = """
import inspect
from mlmax.localmode.sdk import import_sdk, install_sdk_hooks, internals
import_sdk("sagemaker.core.local", "sagemaker.train.local.local_container")
LASTING = (
    internals.TRAINING_DOCKER_HOST,
    internals.PROCESSING_DOCKER_HOST,
    internals.WAIT_FOR_SERVING,
    internals.HOSTING_RUN,
    *internals.AWS_CREDENTIALS,
    *internals.STREAM_OUTPUT,
    *internals.CONFIG_VALIDATION,
)
def wrapped():
    return [hasattr(hook.target()[2], "__wrapped__") for hook in LASTING]
def installed():
    return [inspect.getattr_static(*hook.target()[:2]) for hook in LASTING]
print(any(wrapped()))
install_sdk_hooks(local_mode=False)
print(sum(wrapped()) == len(internals.CONFIG_VALIDATION))
install_sdk_hooks()
first = installed()
install_sdk_hooks()
print(all(wrapped()), installed() == first)
"""


def test_install_sdk_hooks_wraps_each_hook_once_and_imports_wrap_nothing():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    # Before: nothing wrapped; the managed runner's call: the config cache only; then all,
    # and a second call changes nothing.
    assert done.stdout.split() == ["False", "True", "True", "True"]
