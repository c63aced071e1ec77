"""Where the pages' files are: templates, static files and translation catalogs."""

from __future__ import annotations

from pathlib import Path

PAGES_DIR = Path(__file__).parent
TEMPLATES_DIR = PAGES_DIR / "templates"
STATIC_DIR = PAGES_DIR / "static"
TRANSLATIONS_DIR = PAGES_DIR / "translations"
