"""Every Bot API call the adapter makes goes through a Sender: retries and "blocked" here.

Transient network errors and 5xx answers are retried with back-off; a parent who blocked
the bot is remembered (in memory only) and nothing more is sent to them until they write
again: :class:`StopSending` ends that step's sends. The Sender also remembers which
message in each chat still shows buttons, so they can be taken away once used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, LinkPreviewOptions
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.dialogue.engine import Button

log = logging.getLogger("babyloss.bot")

# Transient network errors and 5xx answers: back off and try again, then give up.
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)


class StopSending(Exception):
    """The parent has blocked the bot: stop this step's sends."""


class Sender:
    """Sends to parents through a python-telegram-bot ``Bot``.

    ``bot`` returns the Bot to use (the Application's, which exists only once it is
    built); ``sleep`` waits between retries (tests pass a quicker one)."""

    def __init__(self, bot: Callable[[], object], *, sleep=asyncio.sleep) -> None:
        self._bot = bot
        self.sleep = sleep
        self.blocked: set[int] = set()  # chat ids of parents who blocked the bot
        self.keyboards: dict[int, int] = {}  # chat id -> message id still showing buttons

    @property
    def bot(self):
        return self._bot()

    # -- Blocked or not ----------------------------------------------------------------
    def mark_blocked(self, chat_id: int) -> None:
        self.blocked.add(chat_id)
        self.keyboards.pop(chat_id, None)

    def mark_unblocked(self, chat_id: int) -> None:
        self.blocked.discard(chat_id)

    # -- Sending -----------------------------------------------------------------------
    async def send(self, chat_id: int, text: str, buttons: Iterable[Button] = ()):
        """One HTML message, with one button per row; returns Telegram's Message."""
        buttons = tuple(buttons)
        markup = (
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.label, callback_data=b.data)] for b in buttons]
            )
            if buttons
            else None
        )
        return await self.call(
            self.bot.send_message,
            chat_id=chat_id,
            text=text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    async def send_quietly(self, chat_id: int, text: str) -> None:
        """One message with no buttons; silently nothing if the parent blocked the bot."""
        with contextlib.suppress(StopSending):
            await self.send(chat_id, text)

    async def send_document(self, chat_id: int, payload: bytes, filename: str, caption: str):
        return await self.call(
            self.bot.send_document,
            chat_id=chat_id,
            document=InputFile(payload, filename=filename),
            caption=caption,
        )

    async def typing(self, chat_id: int) -> None:
        await self.call(self.bot.send_chat_action, chat_id, ChatAction.TYPING)

    async def answer(self, query) -> None:
        """Answer a button press, so the parent's app stops its spinner."""
        with contextlib.suppress(StopSending, BadRequest):  # e.g. a query too old to answer
            await self.call(query.answer)

    async def delete(self, chat_id: int, message_ids: list[int]) -> None:
        """Delete messages, 100 at a time (deleteMessages' limit); gone ones are skipped."""
        for start in range(0, len(message_ids), 100):
            with contextlib.suppress(BadRequest):
                await self.call(
                    self.bot.delete_messages,
                    chat_id=chat_id,
                    message_ids=message_ids[start : start + 100],
                )

    # -- Buttons that have been used ------------------------------------------------------
    async def remove_old_keyboard(self, chat_id: int) -> None:
        message_id = self.keyboards.pop(chat_id, None)
        if message_id is not None:
            await self.remove_keyboard(chat_id, message_id)

    async def remove_keyboard(self, chat_id: int, message_id: int) -> None:
        with contextlib.suppress(BadRequest):  # already gone or too old: nothing to tidy
            await self.call(
                self.bot.edit_message_reply_markup,
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=None,
            )

    def tidy_in_background(self, chat_id: int) -> asyncio.Task | None:
        """Start removing the last keyboard sent to this chat; never fails the step."""
        message_id = self.keyboards.pop(chat_id, None)  # now, before a new one is noted
        if message_id is None:
            return None

        async def tidy() -> None:
            try:
                await self.remove_keyboard(chat_id, message_id)
            except StopSending:
                pass  # the sends beside it stop and say so
            except TelegramError as exc:  # old buttons left behind: untidy, not harmful
                log.warning("could not remove used buttons (%s)", type(exc).__name__)

        return asyncio.create_task(tidy())

    # -- Every call ----------------------------------------------------------------------
    async def call(self, method, *args, **kwargs):
        """Call the Bot API, retrying transient failures. RetryAfter (429) is already
        honoured by the AIORateLimiter; "message is not modified" is not an error."""
        chat_id = kwargs.get("chat_id", args[0] if args else None)
        if isinstance(chat_id, int) and chat_id in self.blocked:
            raise StopSending
        for attempt in range(len(RETRY_DELAYS) + 1):
            try:
                return await method(*args, **kwargs)
            except Forbidden:
                if isinstance(chat_id, int):
                    self.mark_blocked(chat_id)
                raise StopSending from None
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return None
                raise
            except RetryAfter as exc:
                # The rate limiter has already waited and retried several times; a parent's
                # step still matters more than speed, so wait as asked and try once more.
                if attempt == len(RETRY_DELAYS):
                    raise
                await self.sleep(_seconds(exc.retry_after))
            except NetworkError:  # includes timeouts and 5xx answers
                if attempt == len(RETRY_DELAYS):
                    raise
                await self.sleep(RETRY_DELAYS[attempt])
        return None  # pragma: no cover


def _seconds(value) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)
