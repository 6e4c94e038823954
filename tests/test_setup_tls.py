"""scripts/setup.sh behind a TLS-intercepting proxy: uv trusts what the system and pip trust.

Offline, on loopback: a package index served over HTTPS with a certificate from a private CA
(as an intercepting proxy's), which only the system store knows (bind-mounted over the
system bundle in a private mount namespace, so nothing outside this test sees it) or only
pip's configured bundle (PIP_CERT). setup.sh runs in a copy of a tiny project whose lock and
build backend come from that index; the same uv without setup.sh's settings is refused,
which shows the index really needs them.
"""

from __future__ import annotations

import datetime
import hashlib
import http.server
import ipaddress
import os
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[1]
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
UV = Path(sys.executable).parent / "uv"
# The settings a developer's shell may carry that would let uv or pip through on their own.
TLS_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "PIP_CERT", "REQUESTS_CA_BUNDLE",
                 "CURL_CA_BUNDLE", "UV_SYSTEM_CERTS", "UV_NATIVE_TLS")  # fmt: skip

# The project's build backend, served by the index too: writes an editable wheel of nothing.
BACKEND = """\
import base64, hashlib, zipfile

def wheel(directory, name, version, files):
    stem = f"{name.replace('-', '_')}-{version}"
    meta = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n"
    tags = "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files = {**files, f"{stem}.dist-info/METADATA": meta, f"{stem}.dist-info/WHEEL": tags}
    record = []
    for path, text in files.items():
        digest = hashlib.sha256(text.encode()).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{path},sha256={encoded},{len(text.encode())}")
    record.append(f"{stem}.dist-info/RECORD,,")
    files[f"{stem}.dist-info/RECORD"] = "\\n".join(record) + "\\n"
    with zipfile.ZipFile(f"{directory}/{stem}-py3-none-any.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return f"{stem}-py3-none-any.whl"


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return wheel(wheel_directory, "tls-probe-project", "1.0", {"tls_probe_project.pth": ""})

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return build_editable(wheel_directory)
"""
PYPROJECT = """\
[project]
name = "tls-probe-project"
version = "1.0"

[build-system]
requires = ["tls-probe-backend==1.0"]
build-backend = "tls_probe_backend"
"""
# setup.sh reads uv's pin from the lock; the marker keeps uv from installing it (the venv
# already has the suite's uv binary, at that pin).
LOCK = "uv=={uv} ; sys_platform == 'never'\ntls-probe-package==1.0\n"


def _private_ca(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) for 127.0.0.1, as PEM files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlmax test intercepting CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def _index(root: Path, backend: dict[str, object]) -> None:
    """A simple-API index (PEP 503) of the backend and one package, in `root`."""
    files = root / "files"
    files.mkdir(parents=True)
    wheels = {
        "tls-probe-backend": backend["wheel"](str(files), "tls-probe-backend", "1.0",
                                              {"tls_probe_backend.py": BACKEND}),
        "tls-probe-package": backend["wheel"](str(files), "tls-probe-package", "1.0",
                                              {"tls_probe_package.py": "VALUE = 1\n"}),
    }  # fmt: skip
    for project, filename in wheels.items():
        digest = hashlib.sha256((files / filename).read_bytes()).hexdigest()
        page = root / "simple" / project
        page.mkdir(parents=True)
        (page / "index.html").write_text(
            f'<html><body><a href="../../files/{filename}#sha256={digest}">{filename}</a>'
            "</body></html>\n"
        )


@pytest.fixture(scope="module")
def https_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(the index URL, the private CA's certificate), served until the module ends."""
    root = tmp_path_factory.mktemp("tls-index")
    backend: dict[str, object] = {}
    exec(BACKEND, backend)  # the one wheel writer, for the index as for the backend
    _index(root / "www", backend)
    ca, certificate, key = _private_ca(root)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = lambda *a: Quiet(*a, directory=str(root / "www"))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/simple", ca
    finally:
        server.shutdown()
        server.server_close()


def _can_unshare_mounts() -> bool:
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with setup.sh, the lock, a backend from the index, and a venv with uv."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "setup.sh", project / "scripts" / "setup.sh")
    version = subprocess.run([str(UV), "--version"], capture_output=True, text=True, check=True)
    (project / "requirements.lock").write_text(LOCK.format(uv=version.stdout.split()[1]))
    (project / "pyproject.toml").write_text(PYPROJECT)
    subprocess.run([sys.executable, "-m", "venv", str(project / ".venv")], check=True)
    (project / ".venv" / "bin" / "uv").symlink_to(UV)
    return project


def _environment(project: Path, index: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TLS_VARIABLES}
    env.pop("VIRTUAL_ENV", None)
    return {
        **env,
        "PIP_CONFIG_FILE": os.devnull,  # no pip.conf: only what the test says is trusted
        "UV_DEFAULT_INDEX": index,
        "UV_CACHE_DIR": str(project / "uv-cache"),
        "UV_NO_CONFIG": "1",
        "MLMAX_SKIP_IMAGE": "1",
        **extra,
    }


def _with_system_bundle(bundle: Path, *command: str) -> list[str]:
    """`command` in a mount namespace where the system store is `bundle`."""
    script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, "sh", str(bundle), str(SYSTEM_BUNDLE), *command]


def _installed(project: Path) -> bool:
    check = "import tls_probe_package; print(tls_probe_package.VALUE)"
    done = subprocess.run([str(project / ".venv" / "bin" / "python"), "-c", check],
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.stdout.strip() == "1"


def test_setup_installs_through_a_ca_only_the_system_store_knows(
    https_index: tuple[str, Path], project: Path, tmp_path: Path
) -> None:
    if os.geteuid() != 0 or not _can_unshare_mounts():
        pytest.skip("needs root's private mount namespace (unshare -m) to change the system store")
    index, ca = https_index
    bundle = tmp_path / "system-bundle.crt"
    bundle.write_text(SYSTEM_BUNDLE.read_text() + ca.read_text())
    env = _environment(project, index)

    plain = subprocess.run(
        _with_system_bundle(bundle, str(UV), "pip", "install", "--python",
                            str(project / ".venv" / "bin" / "python"), "tls-probe-package"),
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert plain.returncode != 0 and "UnknownIssuer" in plain.stderr, plain.stderr

    done = subprocess.run(
        _with_system_bundle(bundle, "bash", "scripts/setup.sh"),
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert _installed(project)


@pytest.mark.parametrize("given", ["PIP_CERT", "pip.conf"])
def test_setup_installs_through_the_bundle_pip_is_given(
    given: str, https_index: tuple[str, Path], project: Path, tmp_path: Path
) -> None:
    index, ca = https_index
    bundle = tmp_path / "pip-bundle.crt"
    bundle.write_text(SYSTEM_BUNDLE.read_text() + ca.read_text())
    if given == "PIP_CERT":
        env = _environment(project, index, PIP_CERT=str(bundle))
    else:
        config = tmp_path / "pip.conf"
        config.write_text(f"[global]\ncert = {bundle}\n")
        env = _environment(project, index, PIP_CONFIG_FILE=str(config))
    done = subprocess.run(["bash", "scripts/setup.sh"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert _installed(project)
