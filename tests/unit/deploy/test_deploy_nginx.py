"""deploy/nginx/ and the livestream nginx of deploy/k8s/: nginx accepts them (`nginx -t`, where
nginx is installed) and socket.io's websocket upgrade passes."""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.deploy_files import K8S, NGINX, nginx_blocks, nginx_text

NGINX_BIN = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def _certificate(directory: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hearing.court.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir()
    (directory / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _nginx_t(tmp_path: Path, http_conf: str) -> None:
    """`nginx -t` of ``http_conf`` inside an http {} block, everything under tmp_path."""
    if NGINX_BIN is None:
        pytest.skip("nginx is not installed (Debian package nginx-light)")
    (tmp_path / "site.conf").write_text(http_conf, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n include {tmp_path}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [
            NGINX_BIN,
            "-t",
            "-q",
            "-p",
            str(tmp_path),
            "-e",
            str(tmp_path / "error.log"),
            "-c",
            str(tmp_path / "nginx.conf"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_compose_nginx_configuration_is_accepted(tmp_path: Path) -> None:
    _certificate(tmp_path / "tls")
    # Where compose mounts them (/etc/nginx/...), here under tmp_path.
    locations = (NGINX / "hearing-locations.conf").read_text(encoding="utf-8")
    locations = locations.replace("/etc/nginx/tls/", f"{tmp_path}/tls/")
    (tmp_path / "hearing-locations.conf").write_text(locations, encoding="utf-8")
    site = (NGINX / "hearing.conf").read_text(encoding="utf-8")
    site = site.replace("/etc/nginx/hearing-locations.conf", f"{tmp_path}/hearing-locations.conf")
    _nginx_t(tmp_path, site)


def test_k8s_livestream_nginx_configuration_is_accepted(tmp_path: Path) -> None:
    docs = yaml.safe_load_all((K8S / "livestream.yaml").read_text(encoding="utf-8"))
    conf = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["default.conf"]
    _nginx_t(tmp_path, conf.replace("listen 8080;", "listen 127.0.0.1:8080;"))


def test_socketio_websocket_upgrade_passes() -> None:
    site = nginx_text(NGINX / "hearing.conf")
    assert re.search(r"map\s+\$http_upgrade\s+\$connection_upgrade", site)
    locations = dict(nginx_blocks(nginx_text(NGINX / "hearing-locations.conf"), "location"))
    socketio = locations["/socket.io/"]
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", socketio)
    assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade;", socketio)
    assert "proxy_pass http://$hearing_upstream;" in socketio
    assert re.search(r"proxy_read_timeout\s+1h;", socketio)


def test_static_livestream_and_metrics_paths() -> None:
    locations = dict(nginx_blocks(nginx_text(NGINX / "hearing-locations.conf"), "location"))
    for path in ("/static/", "/vendor/", "/api/public/", "/watch", "/"):
        assert "proxy_pass" in locations[path], path
    hls = [body for arg, body in locations.items() if arg.startswith("~") and "/live/" in arg]
    assert len(hls) == 3
    for body in hls:
        # only public/ of a stream, never withheld/ (docs/livestream.md)
        assert re.search(r"alias\s+\S+/\$1/public/\$2;", body)
    assert "return 404" in locations["/live/"]
    assert "return 404" in locations["= /metrics"]
