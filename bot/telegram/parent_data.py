"""What a parent can ask about their own data: /mydata, /forget, and clearing the chat.

A mixin for :class:`bot.telegram.adapter.BabylossBot`, which provides the sending
helpers and the sessions it uses.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import deque

from telegram import InputFile, Update
from telegram.error import BadRequest

from bot.dialogue import engine
from bot.telegram.sending import StopSending

log = logging.getLogger("babyloss.bot")

FORGET, KEEP, WIPE = "~|forget", "~|keep", "~|wipe"  # buttons the adapter handles itself
MESSAGE_DELETE_WINDOW = 47 * 3600  # Telegram lets bots delete messages under 48 hours old


class ParentDataMixin:
    async def send_my_data(self, update: Update) -> None:
        user_id, chat_id = update.effective_user.id, update.effective_chat.id
        stored = await self.sessions.stored(user_id)
        if stored is None:
            await self.send_system(update, "nothing_stored")
            return
        payload = json.dumps(stored.export(), indent=2, ensure_ascii=False).encode()
        with contextlib.suppress(StopSending):
            await self._call(
                self._bot.send_document,
                chat_id=chat_id,
                document=InputFile(payload, filename="mydata.json"),
                caption=self._system_text("mydata_caption"),
            )

    async def ask_to_forget(self, update: Update) -> None:
        buttons = (
            engine.Button(self._system_text("forget_yes_label"), FORGET),
            engine.Button(self._system_text("forget_no_label"), KEEP),
        )
        with contextlib.suppress(StopSending):
            await self._remove_old_keyboard(update.effective_chat.id)
            message = await self._send(
                update.effective_chat.id, self._system_text("forget_confirm"), buttons
            )
            self.keyboards[update.effective_chat.id] = message.message_id

    async def on_forget_button(self, update: Update, data: str) -> None:
        user_id, chat_id = update.effective_user.id, update.effective_chat.id
        with contextlib.suppress(StopSending):
            await self._remove_old_keyboard(chat_id)
            if data == KEEP:
                await self._send(chat_id, self._system_text("kept"))
            elif data == FORGET:
                await self.sessions.forget(user_id)
                log.info("a parent's data was deleted on request")
                await self._send(chat_id, self._system_text("forgotten"))
                message = await self._send(
                    chat_id,
                    self._system_text("chat_messages"),
                    (engine.Button(self._system_text("wipe_label"), WIPE),),
                )
                self.keyboards[chat_id] = message.message_id
            elif data == WIPE:
                await self.delete_recent_messages(chat_id)
                await self._send(chat_id, self._system_text("wiped"))

    async def delete_recent_messages(self, chat_id: int) -> int:
        now = time.monotonic()
        recent = self.recent_messages.pop(chat_id, ())
        ids = sorted({m for m, at in recent if now - at < MESSAGE_DELETE_WINDOW})
        self.keyboards.pop(chat_id, None)
        for start in range(0, len(ids), 100):  # deleteMessages takes up to 100 at a time
            with contextlib.suppress(BadRequest):
                await self._call(
                    self._bot.delete_messages, chat_id=chat_id, message_ids=ids[start : start + 100]
                )
        return len(ids)

    def _note_message(self, chat_id: int, message) -> None:
        if message is None or getattr(message, "message_id", None) is None:
            return
        recent = self.recent_messages.get(chat_id)
        if recent is None:
            recent = self.recent_messages[chat_id] = deque(maxlen=300)
        recent.append((message.message_id, time.monotonic()))
