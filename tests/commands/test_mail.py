"""``asasap mail test``, as a real process, against a real SMTP server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.smtp import mail_server


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_a_test_e_mail_is_sent_or_the_reason_said(tmp_path: Path) -> None:
    env = {"ASASAP_DATA_DIR": str(tmp_path), "ASASAP_SECRET_KEY": "x" * 40, "ASASAP_NODE_NAME": "Montreuil"}
    off = run(env, "mail", "test", "admin@example.org")
    assert off.returncode == 1 and "ASASAP_SMTP_HOST" in off.stderr
    with mail_server() as server:
        smtp = {
            "ASASAP_SMTP_HOST": server.host,
            "ASASAP_SMTP_PORT": str(server.port),
            "ASASAP_SMTP_SECURITY": "none",
        }
        sent = run({**env, **smtp}, "mail", "test", "admin@example.org")
        assert sent.returncode == 0, sent.stderr
        [message] = server.received
        assert message["To"] == "admin@example.org" and "Montreuil" in message.get_content()
        server.refuse = "550 5.1.1 no such mailbox"
        refused = run({**env, **smtp}, "mail", "test", "nobody@example.org")
        assert refused.returncode == 1 and "550" in refused.stderr
