#!/usr/bin/env bash
# postCreateCommand of the dev container (.devcontainer/devcontainer.json): checks that the
# host's Docker engine is reachable through the mounted socket, creates the in-workspace
# directories Local Mode needs in docker-outside-of-docker mode, then runs the project's
# ordinary set-up (scripts/setup.sh: .venv, mlmax, the job image).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    echo "error: the dev container cannot reach the host's Docker engine through" \
        "/var/run/docker.sock; check that the host runs Docker and rebuild the container." >&2
    exit 1
fi

# Bind-mount sources are resolved by the HOST's daemon: Local Mode's directories (and every
# temp dir, see TMPDIR in devcontainer.json) must live inside the workspace, which is
# mounted at the same path on both sides.
work_dir="${MLMAX_WORK_DIR:-$repo/.mlmax}"
mkdir -p "$work_dir" "${TMPDIR:-$work_dir/tmp}"

exec bash scripts/setup.sh
