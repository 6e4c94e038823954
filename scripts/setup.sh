#!/usr/bin/env bash
# One-time (and idempotent) set-up of an mlmax workspace on a Debian/Ubuntu machine:
#   - the Debian packages mlmax needs to build its job image without a registry,
#   - a virtual environment in .venv with mlmax and its development tools,
#   - the job image (built once, then cached by content hash).
# Re-running it is cheap: every step checks first and skips what is already there.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
step() { printf '\n==> %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------
# mmdebstrap builds the base image from Debian's packages when no base can be pulled;
# docker-compose runs SageMaker Local Mode jobs (the SDK falls back to it without
# the compose v2 plugin).
missing=()
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
    missing+=(docker-compose)
fi
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
if [ "${#missing[@]}" -gt 0 ]; then
    step "Installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# --- Python environment ------------------------------------------------------------------
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "error: mlmax needs Python 3.11 or newer; set PYTHON=/path/to/python3.11 and re-run." >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    step "Creating the virtual environment in .venv"
    "$python" -m venv .venv
fi
step "Installing mlmax and its development tools into .venv"
# The job image pins the ML stack; the same pins on the host make host and container
# results identical for the same seed.
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]" -c docker/requirements.txt

# --- Job image ---------------------------------------------------------------------------
if [ "${MLMAX_SKIP_IMAGE:-0}" != "1" ]; then
    step "Building the job image (cached: a no-op when nothing changed)"
    .venv/bin/mlmax image build
fi
step "Set-up complete"
