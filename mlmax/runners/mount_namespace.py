"""Run a command where /opt/ml is the run's own directory: a user and mount namespace.

A SageMaker script may use its container paths as they are (/opt/ml/processing/input/...,
/opt/ml/model). On the host those paths do not exist and an ordinary user may not create
them, but Linux lets any user make a user namespace and, owned by it, a mount namespace, in
which they may mount: there /opt/ml is bound to the run's private root and each channel to
its host file or directory, seen by the job and its children only and gone when they end.

The caller's uid and gid map onto themselves, so the job runs as the caller and what it
writes is the caller's on the host; root is no exception (root's job can then override
permissions only on files that root or nobody else owns). The host's /opt has no `ml` in it
and belongs to root: a tmpfs is mounted over /opt and each of its entries bound back, so the
rest of /opt looks as it did.

This file is also the program that does it, run by path (`python -I -S mount_namespace.py
SPEC -- COMMAND...`): it enters the namespaces, mounts, then execs COMMAND, so the job is the
very process the runner started (its signals, its exit code). It imports only the standard
library, and nothing of mlmax.

Where Linux refuses (user namespaces disabled, a seccomp or AppArmor policy), the program
prints one line starting with `UNAVAILABLE` and exits with `UNAVAILABLE_EXIT`;
`unavailable_reason()` runs it once to ask.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

OPT = "/opt"
OPT_ML = "/opt/ml"
UNAVAILABLE = "mlmax: cannot map /opt/ml: "
UNAVAILABLE_EXIT = 125
PROBE_TIMEOUT = 60

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18

# Settings that switch unprivileged user namespaces off, and the value that does it.
_SWITCHES = (
    ("/proc/sys/user/max_user_namespaces", "0"),
    ("/proc/sys/kernel/unprivileged_userns_clone", "0"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1"),
)


class NamespaceUnavailable(Exception):
    """Linux refused a step; the message says which and, when a setting explains it, why."""


def _refused(step: str, code: int) -> NamespaceUnavailable:
    for path, value in _SWITCHES:
        try:
            current = Path(path).read_text(encoding="ascii").strip()
        except OSError:
            continue
        if current == value:
            return NamespaceUnavailable(f"user namespaces are disabled ({path} is {value})")
    return NamespaceUnavailable(f"{step} failed: {os.strerror(code)}")


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, step: str) -> None:
    if result != 0:
        raise _refused(step, ctypes.get_errno())


def _bind(libc: ctypes.CDLL, source: str, target: str) -> None:
    _check(
        libc.mount(source.encode(), target.encode(), None, _MS_BIND | _MS_REC, None),
        f"binding {source} to {target}",
    )


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="ascii")
    except OSError as error:
        raise _refused(f"writing {path}", error.errno or errno.EPERM) from None


def _mount_point(source: str, target: str) -> None:
    """An empty directory or file at `target` for `source` to be bound onto."""
    if os.path.lexists(target):
        return
    if os.path.isdir(source):
        os.makedirs(target)
    else:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).touch()


def _make_opt_ml(libc: ctypes.CDLL) -> None:
    """Make /opt/ml exist in this mount namespace, leaving the rest of /opt as it is."""
    if os.path.isdir(OPT_ML):
        return
    if not os.path.isdir(OPT):
        raise NamespaceUnavailable(f"this machine has no {OPT} directory to hold {OPT_ML}")
    # The host's /opt stays reachable through this descriptor once the tmpfs covers it.
    host_opt = os.open(OPT, os.O_RDONLY | os.O_DIRECTORY)
    try:
        entries = os.listdir(host_opt)
        _check(libc.mount(b"tmpfs", OPT.encode(), b"tmpfs", 0, b"mode=755"), f"mounting {OPT}")
        for name in entries:
            source, target = f"/proc/self/fd/{host_opt}/{name}", f"{OPT}/{name}"
            if os.path.islink(source):
                os.symlink(os.readlink(source), target)
                continue
            _mount_point(source, target)
            _bind(libc, source, target)
        os.mkdir(OPT_ML)
    finally:
        os.close(host_opt)


def enter(root: str, binds: Iterable[tuple[str, str]]) -> None:
    """Enter new user and mount namespaces where /opt/ml is `root`, then bind each host
    path onto its container path (parents first). Raises NamespaceUnavailable."""
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    _check(libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS), "creating a user namespace")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    # Nothing mounted here may reach the host's mount table.
    _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "making mounts private")
    _make_opt_ml(libc)
    _bind(libc, root, OPT_ML)
    for source, target in sorted(binds, key=lambda bind: bind[1].count("/")):
        _mount_point(source, target)
        _bind(libc, source, target)


def command(
    argv: Sequence[str], *, root: Path, binds: Iterable[tuple[Path, str]], cwd: Path
) -> list[str]:
    """The command line that runs `argv` in `cwd` with /opt/ml mapped (no argv: only try)."""
    spec = {"root": str(root), "binds": [[str(s), t] for s, t in binds], "cwd": str(cwd)}
    # -I -S: this program needs neither the caller's paths nor site-packages.
    return [sys.executable, "-I", "-S", __file__, json.dumps(spec), "--", *argv]


def reason_in(output: str) -> str | None:
    """Why /opt/ml could not be mapped, if `output` begins with the program's refusal."""
    first = output.lstrip().partition("\n")[0]
    return first.removeprefix(UNAVAILABLE) if first.startswith(UNAVAILABLE) else None


def unavailable_reason() -> str | None:
    """None when this process may run jobs with /opt/ml mapped; else why not, in a phrase."""
    with tempfile.TemporaryDirectory(prefix="mlmax-opt-ml-") as root:
        try:
            done = subprocess.run(
                command([], root=Path(root), binds=(), cwd=Path(root)),
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"the namespace check could not run ({error})"
    if done.returncode == 0:
        return None
    return reason_in(done.stderr) or (
        f"the namespace check exited with code {done.returncode}: {done.stderr.strip()[-300:]}"
    )


def main(argv: Sequence[str]) -> int:
    spec, job = json.loads(argv[0]), list(argv[2:])
    try:
        enter(spec["root"], [(source, target) for source, target in spec["binds"]])
    except (NamespaceUnavailable, OSError) as refusal:
        print(f"{UNAVAILABLE}{refusal}", file=sys.stderr, flush=True)
        return UNAVAILABLE_EXIT
    if not job:
        return 0
    os.chdir(spec["cwd"])
    os.execv(job[0], job)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
