"""The command line, run as a real process (``python -m node.cli``) against real databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.support.accounts import PASSWORD


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


@pytest.fixture
def node_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "ASASAP_DATA_DIR": str(tmp_path / "node"),
        "ASASAP_DATABASE_URL": database_url,
        "ASASAP_BASE_URL": "http://127.0.0.1:8123",
    }


@pytest.fixture
def empty_env(tmp_path: Path) -> dict[str, str]:
    return {"ASASAP_DATA_DIR": str(tmp_path / "fresh")}


def test_help_for_every_command() -> None:
    top = run_cli({}, "--help")
    assert top.returncode == 0 and "init" in top.stdout and "doctor" in top.stdout
    for command in (
        ["init"],
        ["migrate"],
        ["serve"],
        ["doctor"],
        ["user"],
        ["user", "create"],
        ["user", "list"],
        ["user", "set-role"],
        ["user", "suspend"],
        ["user", "token"],
        ["invite", "create"],
    ):
        result = run_cli({}, *command, "--help")
        assert result.returncode == 0, command
        assert "usage: asasap" in result.stdout


def test_init_creates_everything_and_doctor_agrees(empty_env: dict[str, str], tmp_path: Path) -> None:
    doctor = run_cli(empty_env, "doctor", "--json")
    assert doctor.returncode == 1
    init = run_cli(empty_env, "init", "--admin", "chef", "--password-stdin", "--json", stdin=PASSWORD + "\n")
    assert init.returncode == 0, init.stderr
    data = json.loads(init.stdout)
    assert data["admin"] == "chef" and data["node_key_created"] is True
    secret_file = tmp_path / "fresh" / "secret.key"
    assert secret_file.exists() and oct(secret_file.stat().st_mode)[-3:] == "600"
    vapid_file = tmp_path / "fresh" / "vapid.pem"
    assert data["vapid_key_created"] is True and oct(vapid_file.stat().st_mode)[-3:] == "600"
    doctor = run_cli(empty_env, "doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout
    assert all(check["ok"] for check in json.loads(doctor.stdout)["checks"])
    (push_check,) = [c for c in json.loads(doctor.stdout)["checks"] if c["check"] == "web push key"]
    assert "vapid.pem" in push_check["detail"]
    pem = vapid_file.read_bytes()
    again = run_cli(empty_env, "init", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["node_key_created"] is False
    assert json.loads(again.stdout)["vapid_key_created"] is False and vapid_file.read_bytes() == pem
    vapid_file.chmod(0o644)
    doctor = run_cli(empty_env, "doctor")
    assert doctor.returncode == 1 and "[FAIL] web push key" in doctor.stdout


def test_doctor_reports_a_changed_secret(empty_env: dict[str, str]) -> None:
    assert run_cli(empty_env, "init").returncode == 0
    doctor = run_cli(
        {**empty_env, "ASASAP_SECRET_KEY": "another-secret-that-is-long-enough-0123456789"}, "doctor"
    )
    assert doctor.returncode == 1
    assert "[FAIL] node key" in doctor.stdout


def test_serve_refuses_unmigrated_database(empty_env: dict[str, str]) -> None:
    result = run_cli({**empty_env, "ASASAP_SECRET_KEY": "x" * 40}, "serve", "--port", "8999")
    assert result.returncode == 1
    assert "asasap migrate" in result.stderr


def test_user_commands(node_env: dict[str, str]) -> None:
    env = {**node_env, "ASASAP_SECRET_KEY": "y" * 40}
    assert run_cli(env, "migrate").returncode == 0
    created = run_cli(
        env,
        "user",
        "create",
        "amina",
        "--email",
        "a@example.org",
        "--password-stdin",
        "--json",
        stdin=PASSWORD,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["role"] == "member"
    duplicate = run_cli(env, "user", "create", "amina", "--password-stdin", stdin=PASSWORD)
    assert duplicate.returncode == 1 and "already taken" in duplicate.stderr
    weak = run_cli(env, "user", "create", "bernard", "--password-stdin", stdin="123")
    assert weak.returncode == 1 and "password" in weak.stderr
    no_password = run_cli(env, "user", "create", "bernard")
    assert no_password.returncode == 1 and "--password-stdin" in no_password.stderr
    assert run_cli(env, "user", "set-role", "amina", "coordinator").returncode == 0
    listing = json.loads(run_cli(env, "user", "list", "--json").stdout)
    assert [(u["username"], u["role"]) for u in listing] == [("amina", "coordinator")]
    assert "amina" in run_cli(env, "user", "list").stdout
    token = run_cli(env, "user", "token", "amina").stdout.strip()
    assert token.startswith("asa_")
    suspended = json.loads(run_cli(env, "user", "suspend", "amina", "--json").stdout)
    assert suspended["status"] == "suspended"
    missing = run_cli(env, "user", "suspend", "nobody")
    assert missing.returncode == 1 and "No such account" in missing.stderr
    invite = run_cli(env, "invite", "create", "--note", "Zoé", "--json")
    assert json.loads(invite.stdout)["url"].startswith("http://127.0.0.1:8123/register?invite=")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_user_create_with_a_token(node_env: dict[str, str], client: TestClient) -> None:
    env = {**node_env, "ASASAP_SECRET_KEY": "y" * 40}
    created = run_cli(env, "user", "create", "amina", "--password-stdin", "--token", stdin=PASSWORD)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("asa_") and created.stdout == token + "\n"  # the token alone, for scripts
    assert "Created member account amina." in created.stderr
    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["username"] == "amina"

    scripted = run_cli(
        env,
        "user",
        "create",
        "bernard",
        "--role",
        "coordinator",
        "--password-stdin",
        "--token",
        "--token-name",
        "tableur",
        "--json",
        stdin=PASSWORD,
    )
    assert scripted.returncode == 0, scripted.stderr
    data = json.loads(scripted.stdout)
    assert (data["username"], data["role"], data["status"]) == ("bernard", "coordinator", "active")
    listed = client.get("/api/v1/tokens", headers=bearer(data["token"]))
    assert listed.status_code == 200, listed.text
    assert [(t["id"], t["name"]) for t in listed.json()] == [(data["token_id"], "tableur")]

    # Refused: a clear message, exit 1, no token printed, and neither account nor token created.
    duplicate = run_cli(env, "user", "create", "amina", "--password-stdin", "--token", stdin=PASSWORD)
    assert duplicate.returncode == 1 and "already taken" in duplicate.stderr and duplicate.stdout == ""
    weak = run_cli(env, "user", "create", "chloe", "--password-stdin", "--token", stdin="123")
    assert weak.returncode == 1 and "password" in weak.stderr and weak.stdout == ""
    unnamed = run_cli(
        env, "user", "create", "chloe", "--password-stdin", "--token", "--token-name", " ", stdin=PASSWORD
    )
    assert unnamed.returncode == 1 and "1 to 80 characters" in unnamed.stderr and unnamed.stdout == ""
    listing = json.loads(run_cli(env, "user", "list", "--json").stdout)
    assert sorted(u["username"] for u in listing) == ["amina", "bernard"]
    assert [t["name"] for t in client.get("/api/v1/tokens", headers=bearer(token)).json()] == ["command line"]


def test_user_create_refusals_before_any_account(empty_env: dict[str, str]) -> None:
    stray = run_cli(
        empty_env, "user", "create", "chloe", "--token-name", "x", "--password-stdin", stdin=PASSWORD
    )
    assert stray.returncode == 1 and stray.stdout == ""
    assert stray.stderr == "asasap: error: --token-name names the token that --token creates: add --token\n"
    no_password = run_cli(empty_env, "user", "create", "chloe", "--token")
    assert (
        no_password.returncode == 1 and no_password.stdout == "" and "--password-stdin" in no_password.stderr
    )


def test_bad_settings_exit_2(empty_env: dict[str, str]) -> None:
    result = run_cli({**empty_env, "ASASAP_MODE": "feudal"}, "user", "list")
    assert (
        result.returncode == 2 and "ASASAP_MODE" in result.stderr and "market, cooperative" in result.stderr
    )
    doctor = run_cli({**empty_env, "ASASAP_MODE": "feudal"}, "doctor")
    assert doctor.returncode == 1 and "[FAIL] settings: ASASAP_MODE" in doctor.stdout


def test_each_command_loads_only_its_module() -> None:
    """`asasap user list` imports the users commands and not the web application: the table of which
    module defines which command must say what each module really registers."""
    import argparse
    import importlib

    from node import cli

    for name, commands in cli.MODULES.items():
        parser = argparse.ArgumentParser()
        importlib.import_module(name).register(parser.add_subparsers(dest="command"))
        (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        assert tuple(action.choices) == commands, name
    assert cli._command_in(["--config", "user", "demo", "--port", "1"]) == "demo"
    assert cli._command_in(["--help"]) is None
    top = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)][0]
    assert set(top.choices) == {c for commands in cli.MODULES.values() for c in commands}
    one = [a for a in cli.build_parser("user")._actions if isinstance(a, argparse._SubParsersAction)][0]
    assert set(one.choices) == {"user", "invite"}
