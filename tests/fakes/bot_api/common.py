"""What every part of the stand-in Bot API shares: one recorded call, the Bot API's
errors, and what the fake Telegram knows (users, chats, the messages in each, and ids)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSONDict = dict[str, Any]
Handler = Callable[["Call"], Any]

DEFAULT_TOKEN = "123456789:AAFakeTokenForTests_babyloss-bot-0000000"

NOT_MODIFIED_DESCRIPTION = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
FORBIDDEN_DESCRIPTION = "Forbidden: bot was blocked by the user"


class BotApiError(Exception):
    """Raise from a handler (see :meth:`FakeBotApi.register`) to answer with a Bot API error."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(what: str) -> BotApiError:
    """A 400 error with Telegram's ``"Bad Request: ..."`` prefix."""
    return BotApiError(400, f"Bad Request: {what}")


def error_response(err: BotApiError) -> web.Response:
    return web.json_response(err.payload(), status=err.status)


def require(call: Call, *names: str) -> None:
    for name in names:
        if call.params.get(name) in (None, ""):
            raise bad_request(f"{name} is empty" if name == "text" else f"{name} is required")


@dataclass
class UploadedFile:
    """A file received in a multipart upload."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes
    file_id: str = ""

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Call:
    """One request received by the fake.

    ``time`` is ``time.monotonic()`` at arrival. ``status`` is the HTTP status sent (``None``
    while the request is in flight or when the connection was dropped). ``ok`` is True when the
    call took effect (for ``drop_after`` it is True although no answer was sent). ``fault`` names
    the injected fault that shaped the answer ("429", "slow", ..., "blocked" for
    :meth:`FakeBotApi.block_user`), ``delay`` the injected sleep in seconds.
    """

    method: str
    params: JSONDict
    time: float
    files: dict[str, UploadedFile] = field(default_factory=dict)
    http_method: str = "POST"
    fault: str | None = None
    delay: float = 0.0
    status: int | None = None
    ok: bool = False
    result: Any = None
    error: str | None = None
    finished: float | None = None

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    @property
    def text(self) -> str | None:
        return self.params.get("text")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _norm_chat_id(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def _inline_markup(markup: Any) -> JSONDict | None:
    """Telegram only echoes inline keyboards in Message.reply_markup."""
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return markup
    return None


class Store:
    """The fake Telegram's memory: users, chats, every message by chat, deleted ids."""

    def __init__(self, bot_user: JSONDict) -> None:
        self.bot_user = bot_user
        self.users: dict[int, JSONDict] = {}
        self.chats: dict[Any, JSONDict] = {}
        self.messages: dict[Any, dict[int, JSONDict]] = {}
        self.deleted: set[tuple[Any, int]] = set()
        self.next_message_id: dict[Any, int] = {}
        self.last_user_message: dict[tuple[Any, int], int] = {}
        self._counter = 0

    def new_id(self) -> int:
        self._counter += 1
        return self._counter

    def user(self, user_id: int, first_name: str) -> JSONDict:
        user = self.users.setdefault(
            user_id,
            {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"},
        )
        user["first_name"] = first_name
        return dict(user)

    def chat(self, user: JSONDict, chat_type: str, chat_id: int | None) -> JSONDict:
        if chat_type == "private":
            chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        else:
            cid = chat_id if chat_id is not None else -1_000_000_000_000 - user["id"]
            chat = {"id": cid, "type": chat_type, "title": "Test group"}
        self.chats[chat["id"]] = chat
        return dict(chat)

    def chat_for(self, chat_id: Any) -> JSONDict:
        if chat_id in self.chats:
            return dict(self.chats[chat_id])
        if isinstance(chat_id, int) and chat_id > 0:
            first_name = self.users.get(chat_id, {}).get("first_name", "User")
            return {"id": chat_id, "type": "private", "first_name": first_name}
        if isinstance(chat_id, int):
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "type": kind, "title": "Test group"}
        return {"id": -1_001_000_000_001, "type": "channel", "title": str(chat_id)}

    def allocate_message_id(self, chat_id: Any) -> int:
        message_id = self.next_message_id.get(chat_id, 1)
        self.next_message_id[chat_id] = message_id + 1
        return message_id

    def incoming(
        self,
        user_id: int,
        first_name: str,
        chat_type: str,
        chat_id: int | None,
        **content: Any,
    ) -> JSONDict:
        user = self.user(user_id, first_name)
        chat = self.chat(user, chat_type, chat_id)
        message_id = self.allocate_message_id(chat["id"])
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **content,
        }
        self.messages.setdefault(chat["id"], {})[message_id] = message
        self.last_user_message[(chat["id"], user_id)] = message_id
        return message

    def bot_message(self, chat_id: Any, **content: Any) -> JSONDict:
        message_id = self.allocate_message_id(chat_id)
        message: JSONDict = {
            "message_id": message_id,
            "from": dict(self.bot_user),
            "chat": self.chat_for(chat_id),
            "date": int(time.time()),
        }
        message.update({k: v for k, v in content.items() if v is not None})
        self.messages.setdefault(chat_id, {})[message_id] = message
        return message
