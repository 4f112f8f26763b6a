"""Logging set up once for the service: text or JSON, and never the bot token.

The token travels in every Bot API URL, so httpx and httpcore are kept at WARNING and every
record passes a redacting formatter, at every level including DEBUG. What parents type
never reaches a log call in the first place: the service logs node ids and counts only.
"""

from __future__ import annotations

import json
import logging
import re
import sys

from telegram.error import NetworkError

from bot.service.startup import describe_network_error

# Anything shaped like a bot token, even one we were not told about.
TOKEN_SHAPE = re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}\b")
REDACTED = "[REDACTED]"


class LibraryRecordFilter(logging.Filter):
    """python-telegram-bot logs the raw updates it could not parse (names, ids, words) at
    CRITICAL. Keep the library's own words and drop the data it attaches."""

    MARKERS = ("Received data", "Update:", "update ")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("telegram"):
            if record.getMessage().startswith("Can not load invalid JSON data"):
                # A proxy's error page, with a traceback, on every retry: the NetworkError
                # raised right after it is logged by the bot in one line.
                return False
            error = record.exc_info[1] if record.exc_info else None
            if isinstance(error, NetworkError):
                # A network fault is expected on a server: one line, not a traceback.
                record.msg = f"{record.getMessage()} ({describe_network_error(error)})"
                record.args = ()
                record.exc_info = record.exc_text = None
        if record.name.startswith(("telegram", "apscheduler", "aiohttp", "tornado")):
            message = record.getMessage()
            cut = min((message.find(m) for m in self.MARKERS if m in message), default=-1)
            if cut >= 0 or len(message) > 300:
                record.msg = (
                    message[:cut] if cut >= 0 else message[:300]
                ) + " [update data not logged]"
                record.args = ()
        return True


class RedactingFormatter(logging.Formatter):
    def __init__(self, secrets: list[str], json_lines: bool = False) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = [s for s in secrets if s]
        self.json_lines = json_lines

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return TOKEN_SHAPE.sub(REDACTED, text)

    def format(self, record: logging.LogRecord) -> str:
        if self.json_lines:
            entry = {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
            if record.exc_info:
                entry["exception"] = self.formatException(record.exc_info)
            return self.redact(json.dumps(entry, ensure_ascii=False))
        return self.redact(super().format(record))


def setup_logging(
    level: str = "INFO", fmt: str = "text", secrets: list[str] | None = None, stream=None
) -> logging.Handler:
    """Configure the root logger once; returns the handler (tests attach to it)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets or [], json_lines=fmt == "json"))
    handler.addFilter(LibraryRecordFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # These log full request URLs, which contain the token.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # At DEBUG, python-telegram-bot logs whole updates: parents' names, ids and words.
    # Our own DEBUG logs are enough to debug the bot; theirs stay at INFO or above.
    for library in ("telegram", "apscheduler", "aiohttp.access", "tornado.access"):
        logging.getLogger(library).setLevel(max(logging.INFO, root.level))
    # apscheduler says "Adding job tentatively" once per job at every start: not news.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    return handler
