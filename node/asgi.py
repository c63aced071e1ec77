"""ASGI entry point for uvicorn: ``uvicorn --factory node.asgi:app``. Builds the app from the settings."""

from __future__ import annotations

import os

from node.app import create_app
from node.core import logs
from node.http.application import Application
from node.settings import load_settings


def app() -> Application:
    """Build the node's application from the environment (and ``ASASAP_CONFIG``)."""
    settings = load_settings(config_file=os.environ.get("ASASAP__SERVE_CONFIG") or None)
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings)
