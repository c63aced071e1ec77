"""The recipes of deploy/ as the machines that run them read them: `systemd-analyze verify` accepts the
units, `nginx -t` the proxy configuration (with a throwaway certificate), the settings example lists
every setting, and the compose file runs commands the node has. Each check has a broken twin that it
refuses, so that it can fail."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from node.cli import build_parser
from node.settings import fields_with_docs
from tests.support.tls import certificate
from tests.support.tools import tool

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
INSTALLED = "/opt/asasap/venv/bin/asasap"
HOST = "services.example.org"


def test_the_settings_example_lists_every_setting() -> None:
    example = (DEPLOY / "asasap.env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#? ?(ASASAP_[A-Z_]+)=", example, re.M))
    assert [name for name, *_ in fields_with_docs() if name not in listed] == []
    assert listed <= {name for name, *_ in fields_with_docs()}  # nothing stale either


def _units(tmp_path: Path, *, broken: bool = False) -> list[Path]:
    """The units, pointing at this checkout's ``asasap`` (verify checks that commands exist)."""
    here = str(Path(sys.executable).with_name("asasap"))
    units = []
    for source in sorted((DEPLOY / "systemd").iterdir()):
        text = source.read_text(encoding="utf-8").replace(INSTALLED, here)
        if broken and source.name == "asasap.service":
            text = text.replace("ProtectSystem=strict", "ProtectSystem=strictly")
        target = tmp_path / source.name
        target.write_text(text, encoding="utf-8")
        units.append(target)
    return units


def _verify(units: list[Path]) -> subprocess.CompletedProcess[str]:
    command = [tool("systemd-analyze", "systemd"), "verify", "--man=no", *map(str, units)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_systemd_units_verify(tmp_path: Path) -> None:
    units = _units(tmp_path)
    assert {unit.name for unit in units} >= {
        "asasap.service",
        "asasap-worker@.service",
        "asasap-backup.timer",
    }
    done = _verify(units)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    for unit in units:
        text = unit.read_text(encoding="utf-8")
        if "asasap serve" in text or "asasap worker" in text:
            for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/asasap"):
                assert option in text, (unit.name, option)


def test_a_broken_unit_is_refused(tmp_path: Path) -> None:
    done = _verify(_units(tmp_path, broken=True))
    assert "protect system value" in done.stderr and "strictly" in done.stderr, done.stderr


def _nginx_config(tmp_path: Path, site: str) -> Path:
    cert, key = certificate(HOST)
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    site = site.replace(f"/etc/letsencrypt/live/{HOST}/fullchain.pem", str(tmp_path / "cert.pem"))
    site = site.replace(f"/etc/letsencrypt/live/{HOST}/privkey.pem", str(tmp_path / "key.pem"))
    (tmp_path / "asasap.conf").write_text(site, encoding="utf-8")
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/asasap.conf;\n}}\n",
        encoding="utf-8",
    )
    return main


def _nginx_test(tmp_path: Path, site: str) -> subprocess.CompletedProcess[str]:
    main = _nginx_config(tmp_path, site)
    command = [tool("nginx", "nginx"), "-t", "-p", str(tmp_path), "-c", str(main)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_the_nginx_configuration_passes_nginx_t(tmp_path: Path) -> None:
    site = (DEPLOY / "nginx" / "asasap.conf").read_text(encoding="utf-8")
    done = _nginx_test(tmp_path, site)
    assert done.returncode == 0 and "test is successful" in done.stderr, done.stderr
    for directive in ("http2", "X-Forwarded-For", "X-Forwarded-Proto", "client_max_body_size", "alias"):
        assert directive in site


def test_a_broken_nginx_configuration_is_refused(tmp_path: Path) -> None:
    site = (DEPLOY / "nginx" / "asasap.conf").read_text(encoding="utf-8")
    done = _nginx_test(tmp_path, site.replace("client_max_body_size 1m;", "client_max_body_size one;"))
    assert done.returncode != 0 and "client_max_body_size" in done.stderr


@pytest.mark.parametrize("service", ["init", "web", "worker"])
def test_compose_runs_commands_the_node_has(service: str) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    spec = compose["services"][service]
    build_parser().parse_args(spec["command"])  # exits (fails the test) on an unknown command
    assert (DEPLOY / (spec["env_file"] + ".example")).exists()
    assert spec["volumes"] == ["data:/var/lib/asasap"]
    containerfile = (ROOT / compose["services"]["init"]["build"]["dockerfile"]).read_text(encoding="utf-8")
    for line in containerfile.splitlines():
        if line.startswith("COPY "):
            for source in shlex.split(line)[1:-1]:
                assert (ROOT / source).exists(), line
