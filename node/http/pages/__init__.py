"""Pages for people: handlers, templates, static files and translations (French first, English)."""
