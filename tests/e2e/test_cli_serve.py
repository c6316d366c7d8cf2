"""`carekey serve` for real: two workers over TLS, the request log on stderr; options checked; --version; --data
defaults to $CAREKEY_DATA_DIR, else var, on every command."""

from __future__ import annotations

import datetime as dt
import inspect
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from carekey import __version__
from carekey.interfaces.cli.main import app
from carekey.interfaces.cli.serving import uvicorn_options

CAREKEY = [sys.executable, "-m", "carekey.interfaces.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.mark.slow
def test_serve_two_workers_over_tls_with_a_request_log(tmp_path):
    data = tmp_path / "data"
    env = os.environ | {"CAREKEY_DATA_DIR": str(data), "CAREKEY_ARGON2_MEMORY_KIB": "64"}
    subprocess.run([*CAREKEY, "init"], env=env, check=True, capture_output=True)
    cert, key = self_signed(tmp_path)
    port = _free_port()
    log = tmp_path / "serve.log"
    trust = ssl.create_default_context(cafile=str(cert))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *CAREKEY,
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
                "--tls-cert",
                str(cert),
                "--tls-key",
                str(key),
                "--trusted-proxy",
                "127.0.0.1",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            for _ in range(600):  # workers import the biometric engines first
                try:
                    r = httpx.get(f"https://127.0.0.1:{port}/health", verify=trust, timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                pytest.fail(f"server did not start: {log.read_text()}")
            assert r.json() == {"status": "ok"}
            r = httpx.get(f"https://127.0.0.1:{port}/visits/V-0123456789/people/CK-AAAA-BBBB", verify=trust)
            assert r.status_code == 401
            time.sleep(0.3)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
    text = log.read_text()
    assert "with 2 worker(s)" in text and "https://127.0.0.1" in text
    assert "request GET /health 200" in text
    assert "request GET /visits/{visit_id}/people/{person_id} 401" in text
    assert "CK-AAAA-BBBB" not in text and "V-0123456789" not in text


def test_serve_options_are_checked_and_mapped(tmp_path):
    with pytest.raises(typer.BadParameter, match="go together"):
        uvicorn_options("127.0.0.1", 1, 1, [], tmp_path / "c.pem", None, True)
    with pytest.raises(typer.BadParameter, match="not a readable file"):
        uvicorn_options("127.0.0.1", 1, 1, [], tmp_path / "c.pem", tmp_path / "k.pem", True)
    with pytest.raises(typer.BadParameter, match="1 or more"):
        uvicorn_options("127.0.0.1", 1, 0, [], None, None, True)
    untrusted = uvicorn_options("0.0.0.0", 8000, 1, [], None, None, True)
    assert untrusted["proxy_headers"] is False and untrusted["access_log"] is False
    trusted = uvicorn_options("0.0.0.0", 8000, 4, ["10.0.0.1", "10.0.0.2"], None, None, False)
    assert trusted["proxy_headers"] is True and trusted["forwarded_allow_ips"] == "10.0.0.1,10.0.0.2"
    assert trusted["log_config"]["loggers"]["carekey.requests"]["level"] == "WARNING"


def test_version_and_one_data_default_on_every_command(tmp_path, monkeypatch):
    runner = CliRunner()
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"carekey {__version__}"
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text and "\nversion =" not in text.split("[tool.setuptools.dynamic]")[0]
    commands = []

    def walk(group):  # type: ignore[no-untyped-def]
        for info in group.registered_commands:
            commands.append(info.callback)
        for sub in group.registered_groups:
            walk(sub.typer_instance)

    walk(app)
    with_data = [c for c in commands if "data" in inspect.signature(c).parameters]
    assert len(with_data) > 20
    for callback in with_data:
        param = inspect.signature(callback).parameters["data"]
        assert param.default is inspect.Parameter.empty, f"{callback.__name__} has its own --data default"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CAREKEY_DATA_DIR", raising=False)
    assert runner.invoke(app, ["init"]).exit_code == 0 and (tmp_path / "var" / "carekey.keys").exists()
    monkeypatch.setenv("CAREKEY_DATA_DIR", str(tmp_path / "elsewhere"))
    assert runner.invoke(app, ["init"]).exit_code == 0 and (tmp_path / "elsewhere" / "carekey.keys").exists()
    r = runner.invoke(app, ["transparency", "refusals"])
    assert r.exit_code == 0 and "no refused requests" in r.output
