#!/bin/sh
# Adds debugpy to an image that lacks it (for instance a SageMaker framework image), with no
# network: mlmax uploads requirements-debug.txt and a wheelhouse/ of debugpy wheels for the
# image's own Python into /tmp/mlmax, runs this in a container of the image (as the image's
# user) and commits it with the image's own CMD, ENTRYPOINT and ENV plus image.toml's
# [debugpy] settings. The upload is removed before the command ends: it is not in the image.
set -eu
recipe=/tmp/mlmax
# PIP_BREAK_SYSTEM_PACKAGES: a distribution's own python3 refuses pip installs otherwise;
# older pips ignore the variable.
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-index --no-cache-dir \
    --disable-pip-version-check --progress-bar off --find-links "$recipe/wheelhouse" \
    -r "$recipe/requirements-debug.txt"
rm -rf "$recipe"
python3 -c "import debugpy"
