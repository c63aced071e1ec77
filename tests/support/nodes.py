"""Real node processes on loopback for integration tests: ``asasap serve`` started on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class NodeProcess:
    """One node: its settings as environment variables, and the server process once started."""

    data_dir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ASASAP_DATA_DIR": str(self.data_dir),
            "ASASAP_DATABASE_URL": self.database_url,
            "ASASAP_BASE_URL": self.base_url,
            "ASASAP_SECRET_KEY": TEST_SECRET,
            "ASASAP_ALLOW_PRIVATE_ADDRESSES": "true",
            "ASASAP_REGISTRATION": "open",
            "ASASAP_LOG_LEVEL": "warning",
            **self.extra_env,
        }

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``asasap ARGS`` against this node's settings."""
        return subprocess.run(
            [sys.executable, "-m", "node.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            env=self.env,
        )

    def start(self, timeout: float = 30.0) -> None:
        """Start ``asasap serve`` and wait until it answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(self.base_url + "/api/v1/node", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"node did not answer within {timeout}s: {self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def kill(self) -> None:
        """Stop the node the hard way (``kill -9``), as a crash would."""
        self.stop(signal.SIGKILL)

    def log_tail(self, lines: int = 30) -> str:
        path = self.data_dir / "server.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
