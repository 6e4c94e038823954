"""Docker itself: engine checks, mlmax's labelled containers, the shared network, compose
processes and ports on the host's loopback."""

from .checks import DockerUnavailableError as DockerUnavailableError
from .checks import check_environment as check_environment
from .checks import compose_environment as compose_environment
from .checks import fresh_docker_client as fresh_docker_client
from .checks import require_docker as require_docker
from .compose import kill_processes as kill_processes
from .containers import docker_client as docker_client
from .containers import exit_codes as exit_codes
from .containers import listed_labels as listed_labels
from .containers import listed_name as listed_name
from .containers import logs_of as logs_of
from .containers import orphans as orphans
from .containers import remove_containers as remove_containers
from .containers import remove_run as remove_run
from .containers import require_image as require_image
from .containers import run_containers as run_containers
from .containers import session_containers as session_containers
from .containers import started_since as started_since
from .containers import unjudged as unjudged
from .docker_ssh import skip_ssh_transport as skip_ssh_transport
from .labels import JOB as JOB
from .labels import OWNER_PID as OWNER_PID
from .labels import SESSION as SESSION
from .labels import Owner as Owner
from .labels import current_session as current_session
from .labels import disowned as disowned
from .labels import new_run_id as new_run_id
from .network import ensure_network as ensure_network
from .ports import LOOPBACK as LOOPBACK
from .ports import bind_loopback as bind_loopback
from .ports import free_port as free_port
from .ports import port_is_free as port_is_free
from .users import container_environment as container_environment
from .users import container_user as container_user
from .users import with_container_user as with_container_user
