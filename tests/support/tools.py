"""System tools some tests drive (nginx, systemd-analyze): found on the PATH or in /usr/sbin; a test
skips when one is missing, unless ``ASASAP_REQUIRE_DEPLOY_TOOLS`` is set (as in CI), where it fails."""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE = "ASASAP_REQUIRE_DEPLOY_TOOLS"


def tool(name: str, package: str) -> str:
    """The path of ``name``; skips the test (fails under ``ASASAP_REQUIRE_DEPLOY_TOOLS``) without it."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    message = f"{name} is not installed (apt-get install -y {package})"
    if os.environ.get(REQUIRE):
        pytest.fail(message + f"; {REQUIRE} is set, so this test may not be skipped")
    pytest.skip(message)
