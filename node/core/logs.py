"""Logging of a node's processes: plain lines or one JSON object a line (``ASASAP_LOG_FORMAT``), each
with the id of the request it belongs to.

The web middleware sets :data:`request_id` for the duration of a request (taken from a valid
``X-Request-Id`` sent by the reverse proxy, else a new one) and sends it back in the response, so a
line in the proxy's log, the node's log and a person's bug report can be matched. Log lines never hold
personal data: no addresses, e-mails, tokens, passwords or request bodies; requests are logged by
route template (``/users/{name}``), never by the path asked for.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("asasap_request_id", default="-")
REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, request id, message, the extra fields given to
    the call (``log.info("...", extra={"status": 202})``) and the exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure(level: str, log_format: str) -> None:
    """Send the process's log records to standard error, as text or JSON lines, at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # uvicorn's access lines carry the client's address and the path asked for (invitation codes...):
    # the node writes its own, by route template (node.http.middleware).
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True
