"""A job under a debugger in its container: the debugpy command and bootstrap, the relay on the
host's loopback, and readiness read from the container's socket table."""

from .command import DEBUGPY_HOST as DEBUGPY_HOST
from .command import DEBUGPY_PORT as DEBUGPY_PORT
from .command import DEFAULT_WAIT_TIMEOUT as DEFAULT_WAIT_TIMEOUT
from .command import INSPECT_MODES as INSPECT_MODES
from .command import DebugOptions as DebugOptions
from .command import InspectMode as InspectMode
from .errors import DEBUG_COMMAND_FLAGS as DEBUG_COMMAND_FLAGS
from .errors import INSPECT_FLAGS as INSPECT_FLAGS
from .errors import SERVE_COMMAND_FLAGS as SERVE_COMMAND_FLAGS
from .errors import DebugFlags as DebugFlags
from .errors import DebuggerNotAttachedError as DebuggerNotAttachedError
from .errors import InspectError as InspectError
from .forward import DEFAULT_INSPECT_PORT as DEFAULT_INSPECT_PORT
from .forward import open_forward as open_forward
from .forward import resolve_host_port as resolve_host_port
from .readiness import ReadyInfo as ReadyInfo
from .readiness import ReadyWatch as ReadyWatch
from .readiness import ReplInfo as ReplInfo
from .readiness import code_root as code_root
from .readiness import ready_line as ready_line
from .relay import PortForward as PortForward
from .sdk_hooks import sdk_objects_under_debugger as sdk_objects_under_debugger
from .sockets import container_sockets as container_sockets
from .sockets import is_listening as is_listening
from .step_command import DEBUGGABLE_KINDS as DEBUGGABLE_KINDS
from .step_command import step_under_debugger as step_under_debugger
from .watched import WatchedCall as WatchedCall
