"""Every lasting change mlmax makes to the SDK, installed by one explicit call.

Importing mlmax changes nothing in the SDK. The offline session installs the Local Mode
hooks when it makes its first SDK session (`OfflineSession.local_session`), and the managed
runner and the pipeline export install the one they need before they use the SDK; each hook
stays for the rest of the process and a second call does nothing. What each hook changes and
why is in its own module; each SDK internal they touch is pinned in `internals`.
"""

from __future__ import annotations

from mlmax.localmode.sdk.credentials import keep_embedded_keys_out_of_containers
from mlmax.localmode.sdk.mounts import create_mount_sources_first
from mlmax.localmode.sdk.output import echo_to_named_streams
from mlmax.localmode.sdk.serving_hooks import install_serving_hooks
from mlmax.localmode.sdk.speedups import cache_config_validation
from mlmax.localmode.sdk.trainer_hook import add_extra_service_config


def install_sdk_hooks(*, local_mode: bool = True) -> None:
    """Install mlmax's hooks on the SDK (idempotent; SdkHookError if the SDK changed one).

    Without `local_mode` (the managed runner, the export), only the config-validation cache,
    the one hook that is not about Local Mode's containers.
    """
    cache_config_validation()
    if not local_mode:
        return
    keep_embedded_keys_out_of_containers()
    create_mount_sources_first()
    add_extra_service_config()
    install_serving_hooks()
    echo_to_named_streams()
