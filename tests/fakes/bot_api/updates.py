"""The stand-in for updates: what parents do (make_*_update), getUpdates with long polling
and offset confirmation as Telegram does, and webhooks (set, delete, info, and POSTing an
update to a bot's webhook endpoint)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable

from aiohttp import ClientSession, ClientTimeout

from .common import BotApiError, Call, JSONDict, Store, _utf16_len, require

_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")


class Updates:
    def __init__(self, store: Store, stopping: Callable[[], asyncio.Event]) -> None:
        self.store = store
        self.stopping = stopping  # set when the server stops: long polls return at once
        self.webhook: JSONDict | None = None
        self._pending: list[JSONDict] = []
        self._next_update_id = 1
        self._poll_generation = 0
        self._updates_changed = asyncio.Event()
        self._session: ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def pending_update_count(self) -> int:
        return len(self._pending)

    def drop_pending_updates(self) -> None:
        """Forget every queued update, as ``drop_pending_updates`` does on the real API."""
        self._pending.clear()

    def push_update(self, update: JSONDict) -> int:
        """Queue an update for getUpdates; assigns ``update_id`` if missing. Returns it."""
        update = dict(update)
        update_id = update.get("update_id")
        if update_id is None:
            update_id = self._next_update_id
            update["update_id"] = update_id
        self._next_update_id = max(self._next_update_id, update_id + 1)
        self._pending.append(update)
        self._wake_pollers()
        return update_id

    def _wake_pollers(self) -> None:
        changed, self._updates_changed = self._updates_changed, asyncio.Event()
        changed.set()

    def make_text_update(
        self,
        user_id: int,
        text: str,
        first_name: str = "Sam",
        chat_type: str = "private",
        *,
        chat_id: int | None = None,
    ) -> JSONDict:
        """A ``message`` update; a leading ``/command`` gets its bot_command entity."""
        content: JSONDict = {"text": text}
        command = _COMMAND_RE.match(text)
        if command:
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command.group(0))}
            ]
        return {"message": self.store.incoming(user_id, first_name, chat_type, chat_id, **content)}

    def make_callback_update(
        self,
        user_id: int,
        data: str,
        message_id: int,
        first_name: str = "Sam",
        chat_type: str = "private",
        *,
        chat_id: int | None = None,
    ) -> JSONDict:
        """A ``callback_query`` from a button on message ``message_id``. If the bot sent that
        message through this fake, the stored message (text, keyboard) is attached."""
        user = self.store.user(user_id, first_name)
        chat = self.store.chat(user, chat_type, chat_id)
        message = self.store.messages.get(chat["id"], {}).get(message_id)
        if message is None:
            message = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat,
                "from": dict(self.store.bot_user),
            }
        n = self.store.new_id()
        return {
            "callback_query": {
                "id": str(4_000_000_000_000 + n),
                "from": user,
                "message": message,
                "chat_instance": str(-7_000_000_000_000 - abs(chat["id"])),
                "data": data,
            }
        }

    def make_sticker_update(
        self,
        user_id: int,
        first_name: str = "Sam",
        chat_type: str = "private",
        *,
        emoji: str = "\N{SLIGHTLY SMILING FACE}",
        chat_id: int | None = None,
    ) -> JSONDict:
        n = self.store.new_id()
        sticker = {
            "file_id": f"CAACAgFAKE-sticker-{n}",
            "file_unique_id": f"AgADsticker{n}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "FakeStickers",
            "file_size": 20_000,
        }
        message = self.store.incoming(user_id, first_name, chat_type, chat_id, sticker=sticker)
        return {"message": message}

    def make_photo_update(
        self,
        user_id: int,
        first_name: str = "Sam",
        chat_type: str = "private",
        *,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> JSONDict:
        n = self.store.new_id()
        photo = [
            {
                "file_id": f"AgACAgFAKE-photo-{n}-{size}",
                "file_unique_id": f"AQADphoto{n}{size}",
                "width": size,
                "height": size * 3 // 4,
                "file_size": size * 40,
            }
            for size in (90, 320, 800)
        ]
        content: JSONDict = {"photo": photo}
        if caption is not None:
            content["caption"] = caption
        return {"message": self.store.incoming(user_id, first_name, chat_type, chat_id, **content)}

    def make_voice_update(
        self,
        user_id: int,
        first_name: str = "Sam",
        chat_type: str = "private",
        *,
        duration: int = 3,
        chat_id: int | None = None,
    ) -> JSONDict:
        n = self.store.new_id()
        voice = {
            "file_id": f"AwACAgFAKE-voice-{n}",
            "file_unique_id": f"AgADvoice{n}",
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 4_000 * duration,
        }
        message = self.store.incoming(user_id, first_name, chat_type, chat_id, voice=voice)
        return {"message": message}

    def make_edited_message_update(
        self,
        user_id: int,
        text: str,
        message_id: int | None = None,
        first_name: str = "Sam",
        chat_type: str = "private",
        *,
        chat_id: int | None = None,
    ) -> JSONDict:
        """An ``edited_message`` update; by default edits the user's latest message."""
        user = self.store.user(user_id, first_name)
        chat = self.store.chat(user, chat_type, chat_id)
        if message_id is None:
            message_id = self.store.last_user_message.get((chat["id"], user_id))
        if message_id is None:
            message_id = self.store.allocate_message_id(chat["id"])
        now = int(time.time())
        original = self.store.messages.get(chat["id"], {}).get(message_id, {})
        message = {
            "message_id": message_id,
            "date": original.get("date", now - 5),
            "edit_date": now,
            "chat": chat,
            "from": user,
            "text": text,
        }
        self.store.messages.setdefault(chat["id"], {})[message_id] = message
        return {"edited_message": message}

    def make_my_chat_member_update(
        self,
        user_id: int,
        new_status: str = "kicked",
        old_status: str = "member",
        first_name: str = "Sam",
    ) -> JSONDict:
        """A ``my_chat_member`` update; ``new_status="kicked"`` is "user blocked the bot"."""
        user = self.store.user(user_id, first_name)
        chat = self.store.chat(user, "private", None)
        now = int(time.time())

        def member(status: str) -> JSONDict:
            data: JSONDict = {"status": status, "user": dict(self.store.bot_user)}
            if status == "kicked":
                data["until_date"] = 0
            return data

        return {
            "my_chat_member": {
                "chat": chat,
                "from": user,
                "date": now,
                "old_chat_member": member(old_status),
                "new_chat_member": member(new_status),
            }
        }

    async def post_webhook(
        self, url: str, update: JSONDict, secret_token: str | None = None
    ) -> int:
        """POST ``update`` (``update_id`` assigned if missing) to a bot's webhook like Telegram
        does, with ``X-Telegram-Bot-Api-Secret-Token`` if given. Returns the HTTP status."""
        update = dict(update)
        if update.get("update_id") is None:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        headers = {}
        if secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        if self._session is None or self._session.closed:
            self._session = ClientSession(timeout=ClientTimeout(total=10))
        async with self._session.post(url, json=update, headers=headers) as response:
            await response.read()
            return response.status

    async def get_updates(self, call: Call) -> list[JSONDict]:
        if self.webhook is not None:
            raise BotApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        params = call.params
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        allowed = params.get("allowed_updates") or None
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()  # terminates an older, still waiting getUpdates (409 below)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise BotApiError(409, "Conflict: terminated by other getUpdates request")
            ready = [
                u for u in self._pending if allowed is None or any(key in u for key in allowed)
            ][:limit]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self.stopping().is_set():
                return ready
            changed = self._updates_changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def set_webhook(self, call: Call) -> bool:
        require(call, "url")
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = dict(call.params)
        return True

    def delete_webhook(self, call: Call) -> bool:
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = None
        return True

    def get_webhook_info(self, call: Call) -> JSONDict:
        info: JSONDict = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook is not None:
            info["url"] = self.webhook["url"]
            info["max_connections"] = self.webhook.get("max_connections", 40)
            if self.webhook.get("allowed_updates"):
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info
