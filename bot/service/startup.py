"""Reaching Telegram at start, for a server that may boot before its network is up.

Network errors (no route, refused, timeouts, 5xx) are waited out with capped exponential
backoff and one log line per wait; a token Telegram rejects ends the start at once with a
clear message (retrying would never help); a stop request ends any wait at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from telegram.error import Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application

log = logging.getLogger("babyloss.run")
MAX_WAIT_SECONDS = 60
# How python-telegram-bot quotes an answer it could not parse as JSON.
NOT_JSON = re.compile(r"\. Parsing the server response .* failed$")


class TokenRejected(Exception):
    """Telegram refused the token; phrased for the deployer and never holding the token."""


def backoff(attempt: int) -> int:
    """Seconds to wait after failed attempt ``attempt`` (0-based): 1, 2, 4, ... 60."""
    return min(2 ** min(attempt, 10), MAX_WAIT_SECONDS)


def describe_network_error(exc: Exception) -> str:
    """One short line for a network error. PTB's own messages for a rejected token quote the
    token, so only network errors are described, and only their first line; a page that is
    not JSON (a proxy's 502 page) is named, not quoted."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = NOT_JSON.sub(", not a Bot API answer", text)
    return text[:200]


async def connect(app: Application, stop: asyncio.Event) -> bool:
    """Initialize ``app`` (its getMe call) until it works; False if ``stop`` was set first.

    Raises TokenRejected when Telegram answers 401/404 (or 403) to getMe.
    """
    attempt = 0
    while True:
        trying = asyncio.ensure_future(app.initialize())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({trying, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not trying.done():
            trying.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await trying
            return False
        try:
            trying.result()
            return True
        except (InvalidToken, Forbidden):
            raise TokenRejected(
                "Telegram rejected the bot token (Unauthorized). Check TELEGRAM_BOT_TOKEN "
                "(or telegram.token): it is the whole token @BotFather gave, digits:letters."
            ) from None
        except RetryAfter:  # the backoff already outgrows Telegram's short flood waits
            delay = backoff(attempt)
            reason = "Telegram asked to wait"
        except NetworkError as exc:  # TimedOut is a NetworkError too
            delay = backoff(attempt)
            reason = describe_network_error(exc)
        log.warning("Telegram not reachable yet, retrying in %d s (%s)", delay, reason)
        attempt += 1
        try:
            await asyncio.wait_for(stop.wait(), delay)
            return False
        except TimeoutError:
            pass


async def close_unstarted(app: Application) -> None:
    """Close the HTTP clients of an app whose initialize never finished.

    ``Application.shutdown`` does nothing for an app that is not initialized, but the
    request objects opened their connection pools on the first attempt.
    """
    for request in getattr(app.bot, "_request", ()):  # PTB keeps (get_updates, other)
        with contextlib.suppress(Exception):
            await request.shutdown()
