#!/bin/sh
# The job image's recipe: the Python and libraries every mlmax job runs with. No job code
# lives here; the SageMaker SDK mounts the workspace's current code at run time.
#
# Runs once, as root, in a container of the base image (any Debian-like image with python3
# 3.11 and its venv module) with no network: mlmax uploads this folder's files and a
# wheelhouse/ of cp311 wheels into /tmp/mlmax, then commits the container as the image with
# the config in image.toml. The upload is removed before the command ends, so the wheels
# are not in the image (a file added and removed in one container layer is not in its diff).
set -eu
recipe=/tmp/mlmax
python3 -m venv /opt/venv
# One pip run for both files: one start-up and one resolution of the whole stack.
/opt/venv/bin/pip install --no-index --find-links "$recipe/wheelhouse" --no-cache-dir \
    --disable-pip-version-check --progress-bar off \
    -r "$recipe/requirements.txt" -r "$recipe/requirements-debug.txt"
# SageMaker hosting runs the container with the argument `serve` (the endpoint's contract server).
install -m 755 "$recipe/serve" /usr/local/bin/serve
rm -rf "$recipe"
