"""What a parent can ask about their own data: /mydata, /forget, and clearing the chat.

Built with what it uses: the parents' sessions, a :class:`~bot.telegram.sending.Sender`,
``text`` (a key -> the current dialogue's system text) and ``dialogue`` (the current
dialogue, for a baby's name held in memory). It also keeps the ids of
recent messages per chat (ids only, in memory), for "delete recent messages".
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable

from telegram import Update

from bot.dialogue import engine
from bot.dialogue.model import Dialogue
from bot.storage.parents import ParentSessions
from bot.telegram.sending import Sender, StopSending

log = logging.getLogger("babyloss.bot")

FORGET, KEEP, WIPE = "~|forget", "~|keep", "~|wipe"  # buttons the adapter handles itself
MESSAGE_DELETE_WINDOW = 47 * 3600  # Telegram lets bots delete messages under 48 hours old


class ParentData:
    def __init__(
        self,
        sessions: ParentSessions,
        sender: Sender,
        text: Callable[[str], str],
        dialogue: Callable[[], Dialogue],
    ):
        self.sessions = sessions
        self.sender = sender
        self.text = text
        self.dialogue = dialogue  # the current one: it changes on reload
        self.recent_messages: dict[int, deque] = {}

    async def send_my_data(self, update: Update) -> None:
        user_id, chat_id = update.effective_user.id, update.effective_chat.id
        stored = await self.sessions.stored(user_id)
        if stored is None:
            await self.sender.send_quietly(chat_id, self.text("nothing_stored"))
            # Nothing on disk, but a baby's name told in this conversation is in memory.
            session = await self.sessions.get(user_id)
            held = engine.held_in_memory(self.dialogue(), session) if session else ""
            if held:
                await self.sender.send_quietly(chat_id, held)
            return
        payload = json.dumps(stored.export(), indent=2, ensure_ascii=False).encode()
        with contextlib.suppress(StopSending):
            await self.sender.send_document(
                chat_id, payload, "mydata.json", self.text("mydata_caption")
            )

    async def ask_to_forget(self, update: Update) -> None:
        buttons = (
            engine.Button(self.text("forget_yes_label"), FORGET),
            engine.Button(self.text("forget_no_label"), KEEP),
        )
        with contextlib.suppress(StopSending):
            await self.sender.remove_old_keyboard(update.effective_chat.id)
            message = await self.sender.send(
                update.effective_chat.id, self.text("forget_confirm"), buttons
            )
            self.sender.keyboards[update.effective_chat.id] = message.message_id

    async def on_forget_button(self, update: Update, data: str) -> None:
        user_id, chat_id = update.effective_user.id, update.effective_chat.id
        with contextlib.suppress(StopSending):
            await self.sender.remove_old_keyboard(chat_id)
            if data == KEEP:
                await self.sender.send(chat_id, self.text("kept"))
            elif data == FORGET:
                await self.sessions.forget(user_id)
                log.info("a parent's data was deleted on request")
                await self.sender.send(chat_id, self.text("forgotten"))
                message = await self.sender.send(
                    chat_id,
                    self.text("chat_messages"),
                    (engine.Button(self.text("wipe_label"), WIPE),),
                )
                self.sender.keyboards[chat_id] = message.message_id
            elif data == WIPE:
                await self.delete_recent_messages(chat_id)
                await self.sender.send(chat_id, self.text("wiped"))

    async def delete_recent_messages(self, chat_id: int) -> int:
        now = time.monotonic()
        recent = self.recent_messages.pop(chat_id, ())
        ids = sorted({m for m, at in recent if now - at < MESSAGE_DELETE_WINDOW})
        self.sender.keyboards.pop(chat_id, None)
        await self.sender.delete(chat_id, ids)
        return len(ids)

    def note_message(self, chat_id: int, message) -> None:
        if message is None or getattr(message, "message_id", None) is None:
            return
        recent = self.recent_messages.get(chat_id)
        if recent is None:
            recent = self.recent_messages[chat_id] = deque(maxlen=300)
        recent.append((message.message_id, time.monotonic()))
