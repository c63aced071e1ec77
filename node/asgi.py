"""ASGI entry point for uvicorn: ``uvicorn --factory node.asgi:app``. Builds the app from the settings."""

from __future__ import annotations

import logging
import os

from node.app import create_app
from node.http.application import Application
from node.settings import load_settings


def app() -> Application:
    """Build the node's application from the environment (and ``ASASAP_CONFIG``)."""
    settings = load_settings(config_file=os.environ.get("ASASAP__SERVE_CONFIG") or None)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return create_app(settings)
