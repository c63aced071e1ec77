"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the e-mail tests.

``refuse`` makes it answer every message with a given SMTP reply (``"451 ..."`` for a transient
refusal, ``"550 ..."`` for a permanent one); ``users`` makes it require STARTTLS (a self-signed
certificate for ``localhost``, which :func:`trusting` makes the client trust) then a login.
"""

from __future__ import annotations

import email.policy
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from node.settings import Settings
from tests.support.nodes import free_port
from tests.support.tls import certificate


@dataclass
class MailServer:
    """What the server received, and how it should answer the next messages."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: str | None = None
    users: dict[str, str] = field(default_factory=dict)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        if self.refuse:
            return self.refuse
        parsed = BytesParser(policy=email.policy.default).parsebytes(envelope.original_content)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            if self.users.get(login) == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    certificate_file: Path | None = None

    def settings_for(self, settings: Settings) -> Settings:
        """``settings`` sending through this server: plain SMTP on loopback, or STARTTLS to ``localhost``
        and a login when it wants one."""
        if not self.users:
            return settings.replace(smtp_host=self.host, smtp_port=self.port, smtp_security="none")
        user, password = next(iter(self.users.items()))
        return settings.replace(
            smtp_host="localhost",
            smtp_port=self.port,
            smtp_security="starttls",
            smtp_user=user,
            smtp_password=password,
        )


@contextmanager
def mail_server(users: dict[str, str] | None = None, *, folder: Path | None = None) -> Iterator[MailServer]:
    """A running SMTP server on a free loopback port, stopped at the end of the block. With ``users``,
    its certificate is written in ``folder``."""
    server = MailServer(port=free_port(), users=users or {})
    options: dict[str, Any] = {}
    if server.users:
        assert folder is not None, "a server with logins needs a folder for its certificate"
        cert, key = certificate("localhost")
        server.certificate_file = folder / "smtp-cert.pem"
        server.certificate_file.write_bytes(cert)
        (folder / "smtp-key.pem").write_bytes(key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(server.certificate_file, folder / "smtp-key.pem")
        options = {
            "authenticator": server.authenticate,
            "auth_required": True,
            "tls_context": context,
            "require_starttls": True,
        }
    controller = Controller(server, hostname=server.host, port=server.port, **options)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def trusting(server: MailServer, monkeypatch: Any) -> None:
    """Make this process's default TLS contexts trust ``server``'s certificate (``SSL_CERT_FILE``)."""
    assert server.certificate_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(server.certificate_file))
