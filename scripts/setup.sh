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
step "Installing mlmax and its development tools into .venv (pinned by requirements.lock)"
# requirements.lock pins every package of the host environment exactly (the ML stack at the
# job image's versions, so host and container give identical results for the same seed), so
# a new release upstream cannot change a fresh clone. uv installs it, at the lock's own pin.
# Regenerate the lock after changing dependencies: see "Reproducible set-up" in the README.
uv_pin="$(grep -o '^uv==[^ ;]*' requirements.lock)"
if [ "$(.venv/bin/uv --version 2>/dev/null | cut -d' ' -f2)" != "${uv_pin#uv==}" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "$uv_pin"
fi
# Networks that inspect TLS put their CA in the system store (curl and pip trust it there) or
# give pip a bundle (PIP_CERT, or `cert` in a pip.conf). uv trusts only its own bundled roots
# unless told: have it use the system store, and pip's bundle where one is set.
export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-true}"
if [ -z "${SSL_CERT_FILE:-}" ]; then
    # pip's own view of its settings, in the order pip ranks them: PIP_CERT, then `cert` in
    # the [install] and the [global] section of its config files.
    pip_settings="$(.venv/bin/python -m pip config list 2>/dev/null || true)"
    pip_cert=""
    for section in ':env:' install global; do
        [ -n "$pip_cert" ] ||
            pip_cert="$(printf '%s\n' "$pip_settings" | sed -n "s/^$section\.cert='\(.*\)'\$/\1/p")"
    done
    if [ -n "$pip_cert" ]; then export SSL_CERT_FILE="$pip_cert"; fi
fi
# install, not sync: sync would also remove pip, which the wheelhouse (pip download) needs.
# --compile-bytecode: uv leaves no .pyc files, and jobs run with PYTHONDONTWRITEBYTECODE,
# so without it every host job would compile pandas and scikit-learn again.
.venv/bin/uv pip install --quiet --compile-bytecode --python .venv/bin/python -r requirements.lock
.venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps -e .

# --- Job image ---------------------------------------------------------------------------
if [ "${MLMAX_SKIP_IMAGE:-0}" != "1" ]; then
    step "Building the job image (cached: a no-op when nothing changed)"
    .venv/bin/mlmax image build
fi
step "Set-up complete"
