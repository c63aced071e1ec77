"""One node scaled out, as docs/admin/scale-out.md runs it: several ``asasap serve`` processes serving
the same base URL from one PostgreSQL database (embedded worker off), and several ``asasap worker``
processes sharing its queues. Used by the scale-out test and by ``bench/scale.py``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.nodes import NodeProcess, free_port


class Cluster:
    """``web`` serve processes and ``workers`` worker processes of one node on ``database_url``."""

    def __init__(self, root: Path, database_url: str, *, extra_env: dict[str, str] | None = None) -> None:
        self.root = root
        first = NodeProcess(root / "node", database_url, extra_env={"ASASAP_EMBEDDED_WORKER": "false"})
        self.env_extra = {
            "ASASAP_EMBEDDED_WORKER": "false",
            "ASASAP_BASE_URL": first.base_url,
            **(extra_env or {}),
        }
        first.extra_env = dict(self.env_extra)
        self.web: list[NodeProcess] = [first]
        self.workers: list[subprocess.Popen[bytes]] = []
        self.database_url = database_url

    @property
    def node(self) -> NodeProcess:
        """The first web process: its URL is the node's base URL."""
        return self.web[0]

    def start(self, web: int, workers: int) -> None:
        """Initialise the node, then start ``web`` serve processes and ``workers`` workers."""
        self.node.init()
        for _ in range(web - 1):
            self.web.append(
                NodeProcess(
                    self.node.data_dir, self.database_url, port=free_port(), extra_env=dict(self.env_extra)
                )
            )
        for process in self.web:
            process.launch()
        for process in self.web:
            process.wait_ready()
        for _ in range(workers):
            self.start_worker()

    def start_worker(self) -> subprocess.Popen[bytes]:
        """One more ``asasap worker`` process (its output in ``worker-N.log``)."""
        with (self.root / f"worker-{len(self.workers)}.log").open("ab") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "worker"],
                env=self.node.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(worker)
        return worker

    def stop_worker(
        self, worker: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 60
    ) -> int:
        """Signal a worker (SIGTERM: finish what is in flight; SIGKILL: die at once); its exit code."""
        if worker.poll() is None:
            os.killpg(worker.pid, sig)
        try:
            return worker.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            return worker.wait(timeout=15)

    def stop(self) -> None:
        for worker in self.workers:
            self.stop_worker(worker, signal.SIGKILL, timeout=15)
        for process in self.web:
            process.stop()
