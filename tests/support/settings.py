"""The settings of test nodes: the secret key they share, and the environment that gives a node
process (``asasap serve``, ``asasap worker``...) its settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hmac-0123456789"


def node_environment(
    data_dir: Path, database_url: str, base_url: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """This process's environment plus the settings of a node allowed to reach loopback addresses."""
    return {
        **os.environ,
        "ASASAP_DATA_DIR": str(data_dir),
        "ASASAP_DATABASE_URL": database_url,
        "ASASAP_BASE_URL": base_url,
        "ASASAP_SECRET_KEY": TEST_SECRET,
        "ASASAP_ALLOW_PRIVATE_ADDRESSES": "true",
        "ASASAP_LOG_LEVEL": "info",  # every request logged, as JSON lines: tests read them
        "ASASAP_LOG_FORMAT": "json",
        **(extra or {}),
    }
