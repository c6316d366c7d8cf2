"""The files docs/deploy.md installs pass their tools' own checkers (skipped where the tool is missing):
systemd-analyze verify for the units and timer, nginx -t for the reverse proxy (with a throwaway certificate)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy"
CAREKEY = Path(sys.executable).parent / "carekey"


def test_systemd_units_verify(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    units = []
    for name in ("carekey.service", "carekey-backup.service", "carekey-backup.timer"):
        text = (DEPLOY / name).read_text().replace("/opt/carekey/.venv/bin/carekey", str(CAREKEY))
        (tmp_path / name).write_text(text.replace("User=carekey", "User=root").replace("Group=carekey", "Group=root"))
        units.append(str(tmp_path / name))
    done = subprocess.run([tool, "verify", *units], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Unknown" not in done.stderr and "ignoring" not in done.stderr, done.stderr


def test_nginx_site_passes_nginx_t(tmp_path):
    tool = shutil.which("nginx")
    if tool is None:
        pytest.skip("nginx is not installed")
    ssl = tmp_path / "ssl"
    ssl.mkdir()
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(ssl / "privkey.pem"),
            "-out",
            str(ssl / "fullchain.pem"),
            "-days",
            "1",
            "-subj",
            "/CN=carekey.example.org",
        ],
        check=True,
        capture_output=True,
    )
    site = tmp_path / "site.conf"
    site.write_text((DEPLOY / "nginx-carekey.conf").read_text().replace("/etc/ssl/carekey", str(ssl)))
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n  include {site};\n}}\n"
    )
    done = subprocess.run([tool, "-t", "-c", str(main), "-p", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0 and "syntax is ok" in done.stderr, done.stderr
