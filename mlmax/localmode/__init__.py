"""The host side of SageMaker Local Mode: the job image, Docker checks and the offline runs."""

from mlmax.localmode.engine import docker_ssh

# Before any module of this package imports docker-py (see docker_ssh: 0.3-0.5 s per process).
docker_ssh.install()
