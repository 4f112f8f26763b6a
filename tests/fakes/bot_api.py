"""A stand-in Telegram Bot API server for tests and benchmarks.

``FakeBotApi`` is a small aiohttp server on 127.0.0.1 (free port) that speaks enough of the
Bot API for a *real* python-telegram-bot ``Application`` to run against it with long polling,
so handler code can be exercised end to end without network access or a real bot token::

    async with FakeBotApi() as fake:
        app = (
            ApplicationBuilder()
            .token(fake.token)
            .base_url(fake.base_url)            # "http://127.0.0.1:<port>/bot"
            .base_file_url(fake.base_file_url)  # "http://127.0.0.1:<port>/file/bot"
            .build()
        )                                       # or simply: app = fake.builder().build()
        app.add_handler(...)
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)
            fake.push_update(fake.make_text_update(42, "/start"))
            (reply,) = await fake.wait_for_messages(42, 1)
            await app.updater.stop()
            await app.stop()

PTB builds request URLs as ``f"{base_url}{token}/{method}"`` (unless ``base_url`` contains a
``{token}`` placeholder), so the server routes ``/bot{token}/{method}``.

What it offers:

* Recording: every request becomes a :class:`Call` in :attr:`FakeBotApi.calls`; see
  :meth:`FakeBotApi.sent_messages`, :meth:`FakeBotApi.wait_for`,
  :meth:`FakeBotApi.wait_for_messages`.
* Injecting updates: :meth:`FakeBotApi.push_update` plus ``make_*_update`` builders.
  ``getUpdates`` implements long polling and ``offset`` confirmation like Telegram does.
* Fault injection: :meth:`FakeBotApi.fail_next` (exact, per method or ``"*"``) and a seeded,
  probabilistic :class:`FaultPlan` (global via :attr:`FakeBotApi.faults` or per method via
  :meth:`FakeBotApi.set_faults`). ``getUpdates`` is only affected when targeted explicitly.
  :meth:`FakeBotApi.block_user` makes every send/edit to a chat fail with 403 Forbidden.
* Realistic answers: ``Message`` objects with per-chat incrementing ``message_id``; "message is
  not modified" when an edit changes nothing; basic validation of text length, HTML markup and
  ``callback_data`` size, so the bot fails here the way it would fail in production.
* Webhooks: :meth:`FakeBotApi.post_webhook` POSTs an update to a bot's webhook endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import inspect
import json
import logging
import random
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, ClientSession, ClientTimeout, web

if TYPE_CHECKING:
    from telegram.ext import ApplicationBuilder

_LOGGER = logging.getLogger(__name__)

JSONDict = dict[str, Any]
Handler = Callable[["Call"], Any]

DEFAULT_TOKEN = "123456789:AAFakeTokenForTests_babyloss-bot-0000000"

FAULT_KINDS = frozenset(
    {"429", "5xx", "slow", "drop", "drop_after", "forbidden", "not_modified", "bad_request"}
)
"""Kinds accepted by :meth:`FakeBotApi.fail_next`.

``drop`` closes the connection before the call takes effect; ``drop_after`` lets the call take
effect (e.g. the message *is* sent) and then closes the connection without answering.
"""

ANY_METHOD = "*"

MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "sendDocument",
        "sendPhoto",
    }
)
"""Methods whose successful calls :meth:`FakeBotApi.sent_messages` reports by default."""

NOT_MODIFIED_DESCRIPTION = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
FORBIDDEN_DESCRIPTION = "Forbidden: bot was blocked by the user"

_5XX_DESCRIPTIONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# Form/multipart values are JSON-encoded by PTB unless they are plain strings. These parameters
# are always strings, so they must never be JSON-decoded (a text of "42" must stay "42").
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "data",
        "url",
        "secret_token",
        "ip_address",
        "callback_query_id",
        "inline_query_id",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "action",
        "emoji",
        "name",
        "description",
        "short_description",
        "language_code",
        "file_id",
        "document",
        "photo",
        "sticker",
        "voice",
        "audio",
        "video",
        "animation",
        "thumbnail",
        "title",
        "question",
        "first_name",
        "last_name",
        "phone_number",
        "address",
        "payload",
        "currency",
        "start_parameter",
    }
)

_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
        "tg-time",
    }
)
_TAG_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")
_BOT_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


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


@dataclass
class FaultPlan:
    """Probabilistic faults, deterministic for a given ``seed``.

    Every affected call draws four numbers from the plan's own RNG (slow, drop, 5xx, 429, in
    that order), so the outcome sequence depends only on the seed and the number of calls.
    "slow" may combine with one of the others; drop beats 5xx beats 429.
    """

    rate_429: float = 0.0
    retry_after: int = 1
    rate_5xx: float = 0.0
    status_5xx: int = 502
    slow_seconds: float = 0.0
    slow_rate: float = 0.0
    drop_rate: float = 0.0
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def roll(self) -> list[str]:
        r_slow, r_drop, r_5xx, r_429 = (self._rng.random() for _ in range(4))
        kinds: list[str] = []
        if self.slow_seconds > 0 and r_slow < self.slow_rate:
            kinds.append("slow")
        if r_drop < self.drop_rate:
            kinds.append("drop")
        elif r_5xx < self.rate_5xx:
            kinds.append("5xx")
        elif r_429 < self.rate_429:
            kinds.append("429")
        return kinds


@dataclass
class _ScheduledFault:
    kind: str
    remaining: int
    retry_after: int
    seconds: float
    status: int
    description: str | None


@dataclass
class _Fault:
    kind: str
    retry_after: int = 1
    seconds: float = 0.0
    status: int = 502
    description: str | None = None


class _Dropped(Exception):
    """Internal: the connection was closed without an answer."""


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def parse_html(text: str) -> str:
    """Check ``text`` the way Telegram's HTML parse mode does (roughly); return visible text.

    Raises :class:`BotApiError` ("Bad Request: can't parse entities: ...") for unsupported or
    unbalanced tags and unescaped ``<``.
    """
    visible: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        lt = text.find("<", i)
        if lt == -1:
            visible.append(text[i:])
            break
        visible.append(text[i:lt])
        gt = text.find(">", lt)
        offset = _byte_offset(text, lt)
        if gt == -1:
            raise bad_request(f"can't parse entities: Unclosed start tag at byte offset {offset}")
        inner = text[lt + 1 : gt]
        closing = inner.startswith("/")
        match = _TAG_NAME_RE.match(inner[1:] if closing else inner)
        if match is None:
            raise bad_request(
                f"can't parse entities: Unsupported start tag at byte offset {offset}"
            )
        name = match.group(0).lower()
        if closing:
            if not stack:
                raise bad_request(
                    f"can't parse entities: Unexpected end tag at byte offset {offset}"
                )
            expected = stack.pop()
            if name != expected:
                raise bad_request(
                    f"can't parse entities: Unmatched end tag at byte offset {offset}, "
                    f'expected "</{expected}>", found "</{name}>"'
                )
        else:
            if name not in _HTML_TAGS:
                raise bad_request(
                    f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {offset}'
                )
            stack.append(name)
        i = gt + 1
    if stack:
        raise bad_request(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\""
        )
    return html.unescape("".join(visible))


def _decode_value(key: str, value: str) -> Any:
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _norm_chat_id(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def _inline_markup(markup: Any) -> JSONDict | None:
    """Telegram only echoes inline keyboards in Message.reply_markup."""
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return markup
    return None


class FakeBotApi:
    """In-process fake of the Telegram Bot API (see the module docstring)."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        bot_first_name: str = "Fake Bot",
        bot_username: str = "fake_test_bot",
        faults: FaultPlan | None = None,
        detect_not_modified: bool = True,
        validate_html: bool = True,
        max_text_length: int = 4096,
        max_caption_length: int = 1024,
    ) -> None:
        self.token = token
        self.host = host
        self.port: int = 0
        self.faults: FaultPlan = faults or FaultPlan()
        self.method_faults: dict[str, FaultPlan] = {}
        self.detect_not_modified = detect_not_modified
        self.validate_html = validate_html
        self.max_text_length = max_text_length
        self.max_caption_length = max_caption_length

        prefix = token.split(":", 1)[0]
        self.bot_user: JSONDict = {
            "id": int(prefix) if prefix.isdigit() else 123456789,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }

        self.calls: list[Call] = []
        self.users: dict[int, JSONDict] = {}
        self.chats: dict[Any, JSONDict] = {}
        self.messages: dict[Any, dict[int, JSONDict]] = {}
        self.deleted: set[tuple[Any, int]] = set()
        self.uploads: dict[str, UploadedFile] = {}
        self.commands: dict[str, list[JSONDict]] = {}
        self.settings: dict[str, JSONDict] = {}
        self.answered_callbacks: list[JSONDict] = []
        self.blocked: set[Any] = set()
        self.webhook: JSONDict | None = None

        self._pending: list[JSONDict] = []
        self._next_update_id = 1
        self._next_message_id: dict[Any, int] = {}
        self._last_user_message: dict[tuple[Any, int], int] = {}
        self._counter = 0
        self._scheduled: dict[str, list[_ScheduledFault]] = {}
        self._poll_generation = 0
        self._updates_changed = asyncio.Event()
        self._calls_changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None

        self._handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "getFile": self._get_file,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "close": self._true,
            "logOut": self._true,
            "setMyDescription": self._store_setting,
            "setMyShortDescription": self._store_setting,
            "setMyName": self._store_setting,
            "setChatMenuButton": self._store_setting,
            "getMyDescription": self._get_setting("setMyDescription", "description"),
            "getMyShortDescription": self._get_setting(
                "setMyShortDescription", "short_description"
            ),
            "getMyName": self._get_setting("setMyName", "name"),
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """Pass to ``ApplicationBuilder().base_url(...)``; PTB appends ``{token}/{method}``."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Pass to ``ApplicationBuilder().base_file_url(...)``."""
        return f"http://{self.host}:{self.port}/file/bot"

    def builder(self) -> ApplicationBuilder:
        """An ``ApplicationBuilder`` already pointed at this fake (token and both URLs)."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
        )

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, backlog=1024).start()

    async def stop(self) -> None:
        """Stop serving. Pending long polls and injected sleeps return at once."""
        self._stopping.set()
        self._wake_pollers()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ customisation

    def register(self, method: str, handler: Handler) -> None:
        """Add or replace a method. ``handler(call)`` returns the ``result`` (or an awaitable
        of it) or raises :class:`BotApiError`."""
        self._handlers[method] = handler

    def block_user(self, chat_id: int | str) -> None:
        """Every send/edit/copy/forward to ``chat_id`` now fails with 403 Forbidden."""
        self.blocked.add(_norm_chat_id(chat_id))

    def unblock_user(self, chat_id: int | str) -> None:
        self.blocked.discard(_norm_chat_id(chat_id))

    def fail_next(
        self,
        method: str,
        kind: str,
        count: int = 1,
        *,
        retry_after: int = 1,
        seconds: float = 1.0,
        status: int = 502,
        description: str | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail with ``kind`` (see FAULT_KINDS).

        ``method="*"`` targets any method except getUpdates. ``retry_after`` is used by "429",
        ``seconds`` by "slow", ``status`` by "5xx"; ``description`` overrides the error text.
        Scheduled faults for a specific method are used before "*" ones.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if count < 1:
            raise ValueError("count must be >= 1")
        self._scheduled.setdefault(method, []).append(
            _ScheduledFault(kind, count, retry_after, seconds, status, description)
        )

    def set_faults(self, plan: FaultPlan | None, *, method: str | None = None) -> None:
        """Set the global plan (``method=None``) or a per-method plan that replaces it for
        that method. ``plan=None`` removes a per-method plan / resets the global one."""
        if method is None:
            self.faults = plan or FaultPlan()
        elif plan is None:
            self.method_faults.pop(method, None)
        else:
            self.method_faults[method] = plan

    def clear_faults(self) -> None:
        self._scheduled.clear()
        self.method_faults.clear()
        self.faults = FaultPlan()

    # ------------------------------------------------------------------ recording helpers

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def call_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.calls:
            counts[c.method] = counts.get(c.method, 0) + 1
        return counts

    def clear_calls(self) -> None:
        self.calls.clear()

    def sent_messages(
        self, chat_id: int | str | None = None, *, methods: Iterable[str] = MESSAGE_METHODS
    ) -> list[JSONDict]:
        """Params of calls that took effect (``Call.ok``) for message sends *and* edits
        (:data:`MESSAGE_METHODS`), optionally for one chat, in arrival order."""
        wanted = set(methods)
        target = None if chat_id is None else str(_norm_chat_id(chat_id))
        return [
            c.params
            for c in self.calls
            if c.ok
            and c.method in wanted
            and (target is None or str(c.params.get("chat_id")) == target)
        ]

    async def wait_for(
        self, predicate: Callable[[Call], bool], timeout: float = 5.0, *, since: int = 0
    ) -> Call:
        """Return the first call in ``calls[since:]`` satisfying ``predicate``, waiting up to
        ``timeout`` seconds. Predicates are re-checked when calls arrive *and* finish, so
        ``lambda c: c.method == "sendMessage" and c.ok`` works. Raises TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for call in self.calls[since:]:
                if predicate(call):
                    return call
            changed = self._calls_changed
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"no matching Bot API call within {timeout}s; calls so far: {self._summary()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    async def wait_for_messages(
        self,
        chat_id: int | str,
        count: int,
        timeout: float = 5.0,
        *,
        methods: Iterable[str] = MESSAGE_METHODS,
    ) -> list[JSONDict]:
        """Wait until :meth:`sent_messages` for ``chat_id`` has at least ``count`` entries and
        return them all. Raises TimeoutError."""
        methods = frozenset(methods)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.sent_messages(chat_id, methods=methods)
            if len(found) >= count:
                return found
            changed = self._calls_changed
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"expected {count} message(s) to chat {chat_id} within {timeout}s, got "
                    f"{len(found)}: {found}; calls so far: {self._summary()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def _summary(self) -> str:
        parts = [
            f"{c.method}({c.status if c.status is not None else 'dropped/pending'})"
            for c in self.calls[-30:]
            if c.method != "getUpdates"
        ]
        return ", ".join(parts) or "(none besides getUpdates)"

    def _notify_calls(self) -> None:
        changed, self._calls_changed = self._calls_changed, asyncio.Event()
        changed.set()

    # ------------------------------------------------------------------ updates

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

    def _new_id(self) -> int:
        self._counter += 1
        return self._counter

    def _user(self, user_id: int, first_name: str) -> JSONDict:
        user = self.users.setdefault(
            user_id,
            {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"},
        )
        user["first_name"] = first_name
        return dict(user)

    def _chat(self, user: JSONDict, chat_type: str, chat_id: int | None) -> JSONDict:
        if chat_type == "private":
            chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        else:
            cid = chat_id if chat_id is not None else -1_000_000_000_000 - user["id"]
            chat = {"id": cid, "type": chat_type, "title": "Test group"}
        self.chats[chat["id"]] = chat
        return dict(chat)

    def _chat_for(self, chat_id: Any) -> JSONDict:
        if chat_id in self.chats:
            return dict(self.chats[chat_id])
        if isinstance(chat_id, int) and chat_id > 0:
            first_name = self.users.get(chat_id, {}).get("first_name", "User")
            return {"id": chat_id, "type": "private", "first_name": first_name}
        if isinstance(chat_id, int):
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "type": kind, "title": "Test group"}
        return {"id": -1_001_000_000_001, "type": "channel", "title": str(chat_id)}

    def _allocate_message_id(self, chat_id: Any) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _incoming(
        self,
        user_id: int,
        first_name: str,
        chat_type: str,
        chat_id: int | None,
        **content: Any,
    ) -> JSONDict:
        user = self._user(user_id, first_name)
        chat = self._chat(user, chat_type, chat_id)
        message_id = self._allocate_message_id(chat["id"])
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **content,
        }
        self.messages.setdefault(chat["id"], {})[message_id] = message
        self._last_user_message[(chat["id"], user_id)] = message_id
        return message

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
        return {"message": self._incoming(user_id, first_name, chat_type, chat_id, **content)}

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
        user = self._user(user_id, first_name)
        chat = self._chat(user, chat_type, chat_id)
        message = self.messages.get(chat["id"], {}).get(message_id)
        if message is None:
            message = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat,
                "from": dict(self.bot_user),
            }
        n = self._new_id()
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
        n = self._new_id()
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
        return {"message": self._incoming(user_id, first_name, chat_type, chat_id, sticker=sticker)}

    def make_photo_update(
        self,
        user_id: int,
        first_name: str = "Sam",
        chat_type: str = "private",
        *,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> JSONDict:
        n = self._new_id()
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
        return {"message": self._incoming(user_id, first_name, chat_type, chat_id, **content)}

    def make_voice_update(
        self,
        user_id: int,
        first_name: str = "Sam",
        chat_type: str = "private",
        *,
        duration: int = 3,
        chat_id: int | None = None,
    ) -> JSONDict:
        n = self._new_id()
        voice = {
            "file_id": f"AwACAgFAKE-voice-{n}",
            "file_unique_id": f"AgADvoice{n}",
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 4_000 * duration,
        }
        return {"message": self._incoming(user_id, first_name, chat_type, chat_id, voice=voice)}

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
        user = self._user(user_id, first_name)
        chat = self._chat(user, chat_type, chat_id)
        if message_id is None:
            message_id = self._last_user_message.get((chat["id"], user_id))
        if message_id is None:
            message_id = self._allocate_message_id(chat["id"])
        now = int(time.time())
        original = self.messages.get(chat["id"], {}).get(message_id, {})
        message = {
            "message_id": message_id,
            "date": original.get("date", now - 5),
            "edit_date": now,
            "chat": chat,
            "from": user,
            "text": text,
        }
        self.messages.setdefault(chat["id"], {})[message_id] = message
        return {"edited_message": message}

    def make_my_chat_member_update(
        self,
        user_id: int,
        new_status: str = "kicked",
        old_status: str = "member",
        first_name: str = "Sam",
    ) -> JSONDict:
        """A ``my_chat_member`` update; ``new_status="kicked"`` is "user blocked the bot"."""
        user = self._user(user_id, first_name)
        chat = self._chat(user, "private", None)
        now = int(time.time())

        def member(status: str) -> JSONDict:
            data: JSONDict = {"status": status, "user": dict(self.bot_user)}
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

    # ------------------------------------------------------------------ webhook client

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

    # ------------------------------------------------------------------ HTTP plumbing

    async def _parse(self, request: web.Request) -> tuple[JSONDict, dict[str, UploadedFile]]:
        raw: dict[str, str] = dict(request.query)
        typed: JSONDict = {}
        files: dict[str, UploadedFile] = {}
        ctype = request.content_type
        if ctype == "application/json":
            body = await request.read()
            if body:
                data = json.loads(body)
                if not isinstance(data, dict):
                    raise bad_request("JSON body must be an object")
                typed.update(data)
        elif ctype.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    data_bytes = bytes(await part.read(decode=False))
                    files[part.name] = UploadedFile(
                        field=part.name,
                        filename=part.filename,
                        content_type=part.headers.get("Content-Type"),
                        data=data_bytes,
                    )
                else:
                    raw[part.name] = await part.text()
        elif ctype == "application/x-www-form-urlencoded":
            form = await request.post()
            raw.update({k: v for k, v in form.items() if isinstance(v, str)})
        params = {key: _decode_value(key, value) for key, value in raw.items()}
        params.update(typed)
        if "chat_id" in params:
            params["chat_id"] = _norm_chat_id(params["chat_id"])
        return params, files

    @staticmethod
    def _error(err: BotApiError) -> web.Response:
        return web.json_response(err.payload(), status=err.status)

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["method"]
        canonical = {m.lower(): m for m in self._handlers}.get(name.lower(), name)
        try:
            params, files = await self._parse(request)
        except (BotApiError, ValueError) as exc:
            err = exc if isinstance(exc, BotApiError) else bad_request(f"can't parse body: {exc}")
            params, files = {}, {}
            call = Call(canonical, params, time.monotonic(), files, request.method)
            self.calls.append(call)
            return self._finish(call, err)
        call = Call(canonical, params, time.monotonic(), files, request.method)
        self.calls.append(call)
        self._notify_calls()
        if request.match_info["token"] != self.token:
            return self._finish(call, BotApiError(401, "Unauthorized"))
        try:
            return await self._serve(request, call)
        except _Dropped:
            call.status = None
            call.finished = time.monotonic()
            self._notify_calls()
            self._drop(request)
            return web.Response(status=499)
        except Exception as exc:  # a bug in the fake or a custom handler: say so clearly
            _LOGGER.exception("FakeBotApi failed while serving %s", call.method)
            return self._finish(call, BotApiError(500, f"Internal Server Error: {exc!r}"))

    def _finish(self, call: Call, outcome: BotApiError | Any) -> web.Response:
        call.finished = time.monotonic()
        if isinstance(outcome, BotApiError):
            call.status, call.ok, call.error = outcome.status, False, outcome.description
            response = self._error(outcome)
        else:
            call.status, call.ok, call.result = 200, True, outcome
            response = web.json_response({"ok": True, "result": outcome})
        self._notify_calls()
        return response

    @staticmethod
    def _drop(request: web.Request) -> None:
        transport = request.transport
        if transport is not None:
            transport.abort()

    async def _serve(self, request: web.Request, call: Call) -> web.Response:
        faults = self._pick_faults(call.method)
        outcome_fault: _Fault | None = None
        for fault in faults:
            if fault.kind == "slow":
                call.fault = call.fault or "slow"
                call.delay += fault.seconds
                await self._sleep(fault.seconds)
            else:
                outcome_fault = fault
        if outcome_fault is not None:
            call.fault = outcome_fault.kind
            if outcome_fault.kind == "drop":
                raise _Dropped
            if outcome_fault.kind != "drop_after":
                return self._finish(call, self._fault_error(outcome_fault))

        handler = self._handlers.get(call.method)
        if handler is None:
            return self._finish(call, BotApiError(404, "Not Found: method not found"))
        chat_id = call.params.get("chat_id")
        if chat_id in self.blocked and call.method.startswith(("send", "edit", "copy", "forward")):
            call.fault = call.fault or "blocked"
            return self._finish(call, BotApiError(403, FORBIDDEN_DESCRIPTION))
        try:
            result = handler(call)
            if inspect.isawaitable(result):
                result = await result
        except BotApiError as err:
            return self._finish(call, err)
        if outcome_fault is not None and outcome_fault.kind == "drop_after":
            call.ok, call.result = True, result
            raise _Dropped
        return self._finish(call, result)

    def _pick_faults(self, method: str) -> list[_Fault]:
        for key in (method, ANY_METHOD):
            if key == ANY_METHOD and method == "getUpdates":
                break
            queue = self._scheduled.get(key)
            if queue:
                scheduled = queue[0]
                scheduled.remaining -= 1
                if scheduled.remaining <= 0:
                    queue.pop(0)
                return [
                    _Fault(
                        scheduled.kind,
                        scheduled.retry_after,
                        scheduled.seconds,
                        scheduled.status,
                        scheduled.description,
                    )
                ]
        plan = self.method_faults.get(method)
        if plan is None:
            if method == "getUpdates":
                return []
            plan = self.faults
        return [
            _Fault(kind, plan.retry_after, plan.slow_seconds, plan.status_5xx)
            for kind in plan.roll()
        ]

    @staticmethod
    def _fault_error(fault: _Fault) -> BotApiError:
        if fault.kind == "429":
            return BotApiError(
                429,
                fault.description or f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        if fault.kind == "5xx":
            return BotApiError(
                fault.status,
                fault.description or _5XX_DESCRIPTIONS.get(fault.status, "Internal Server Error"),
            )
        if fault.kind == "forbidden":
            return BotApiError(403, fault.description or FORBIDDEN_DESCRIPTION)
        if fault.kind == "not_modified":
            return BotApiError(400, fault.description or NOT_MODIFIED_DESCRIPTION)
        return BotApiError(400, fault.description or "Bad Request: injected failure")

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error(BotApiError(401, "Unauthorized"))
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        upload = self.uploads.get(file_id)
        if upload is None:
            return self._error(BotApiError(404, "Not Found"))
        return web.Response(
            body=upload.data, content_type=upload.content_type or "application/octet-stream"
        )

    # ------------------------------------------------------------------ validation helpers

    def _visible_text(self, text: Any, parse_mode: Any, *, what: str, limit: int) -> str:
        if not isinstance(text, str):
            raise bad_request(f"{what} must be a string")
        visible = text
        if isinstance(parse_mode, str) and parse_mode.upper() == "HTML" and self.validate_html:
            visible = parse_html(text)
        if what == "message text" and not visible.strip():
            raise bad_request("message text is empty")
        if _utf16_len(visible) > limit:
            too_long = "message is too long" if what == "message text" else f"{what} is too long"
            raise bad_request(too_long)
        return visible

    @staticmethod
    def _check_markup(markup: Any) -> None:
        if markup is None:
            return
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")

    @staticmethod
    def _require(call: Call, *names: str) -> None:
        for name in names:
            if call.params.get(name) in (None, ""):
                raise bad_request(f"{name} is empty" if name == "text" else f"{name} is required")

    def _bot_message(self, chat_id: Any, **content: Any) -> JSONDict:
        message_id = self._allocate_message_id(chat_id)
        message: JSONDict = {
            "message_id": message_id,
            "from": dict(self.bot_user),
            "chat": self._chat_for(chat_id),
            "date": int(time.time()),
        }
        message.update({k: v for k, v in content.items() if v is not None})
        self.messages.setdefault(chat_id, {})[message_id] = message
        return message

    def _find_message(self, call: Call, action: str) -> JSONDict | None:
        chat_id, message_id = call.params.get("chat_id"), call.params.get("message_id")
        if chat_id is None or message_id is None:
            raise bad_request("message identifier is not specified")
        if (chat_id, message_id) in self.deleted:
            raise bad_request(f"message to {action} not found")
        message = self.messages.get(chat_id, {}).get(message_id)
        if message is not None and action == "edit" and not message["from"].get("is_bot"):
            raise bad_request("message can't be edited")
        return message

    def _edit(self, call: Call, changes: JSONDict) -> JSONDict | bool:
        self._check_markup(call.params.get("reply_markup"))
        if call.params.get("inline_message_id"):
            return True
        message = self._find_message(call, "edit")
        chat_id, message_id = call.params["chat_id"], call.params["message_id"]
        if message is None:  # unknown to the fake (e.g. sent before it started): accept
            message = {
                "message_id": message_id,
                "from": dict(self.bot_user),
                "chat": self._chat_for(chat_id),
                "date": int(time.time()) - 1,
            }
            self.messages.setdefault(chat_id, {})[message_id] = message
        elif self.detect_not_modified and all(
            message.get(key) == value for key, value in changes.items()
        ):
            raise BotApiError(400, NOT_MODIFIED_DESCRIPTION)
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = int(time.time())
        return dict(message)

    # ------------------------------------------------------------------ Bot API methods

    @staticmethod
    def _true(call: Call) -> bool:
        return True

    def _get_me(self, call: Call) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, call: Call) -> list[JSONDict]:
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
            if ready or remaining <= 0 or self._stopping.is_set():
                return ready
            changed = self._updates_changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def _set_webhook(self, call: Call) -> bool:
        self._require(call, "url")
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = dict(call.params)
        return True

    def _delete_webhook(self, call: Call) -> bool:
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = None
        return True

    def _get_webhook_info(self, call: Call) -> JSONDict:
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

    @staticmethod
    def _commands_key(call: Call) -> str:
        scope = call.params.get("scope") or {"type": "default"}
        return json.dumps([scope, call.params.get("language_code") or ""], sort_keys=True)

    def _set_my_commands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            if not _BOT_COMMAND_RE.match(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("command description is empty")
        self.commands[self._commands_key(call)] = commands
        return True

    def _get_my_commands(self, call: Call) -> list[JSONDict]:
        return self.commands.get(self._commands_key(call), [])

    def _delete_my_commands(self, call: Call) -> bool:
        self.commands.pop(self._commands_key(call), None)
        return True

    def _send_message(self, call: Call) -> JSONDict:
        self._require(call, "chat_id", "text")
        params = call.params
        self._visible_text(
            params["text"],
            params.get("parse_mode"),
            what="message text",
            limit=self.max_text_length,
        )
        self._check_markup(params.get("reply_markup"))
        return self._bot_message(
            params["chat_id"],
            text=params["text"],
            entities=params.get("entities"),
            reply_markup=_inline_markup(params.get("reply_markup")),
        )

    def _edit_message_text(self, call: Call) -> JSONDict | bool:
        self._require(call, "text")
        params = call.params
        self._visible_text(
            params["text"],
            params.get("parse_mode"),
            what="message text",
            limit=self.max_text_length,
        )
        return self._edit(
            call,
            {"text": params["text"], "reply_markup": _inline_markup(params.get("reply_markup"))},
        )

    def _edit_message_caption(self, call: Call) -> JSONDict | bool:
        params = call.params
        if params.get("caption") is not None:
            self._visible_text(
                params["caption"],
                params.get("parse_mode"),
                what="message caption",
                limit=self.max_caption_length,
            )
        return self._edit(
            call,
            {
                "caption": params.get("caption"),
                "reply_markup": _inline_markup(params.get("reply_markup")),
            },
        )

    def _edit_message_reply_markup(self, call: Call) -> JSONDict | bool:
        return self._edit(call, {"reply_markup": _inline_markup(call.params.get("reply_markup"))})

    def _answer_callback_query(self, call: Call) -> bool:
        self._require(call, "callback_query_id")
        text = call.params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self.answered_callbacks.append(dict(call.params))
        return True

    def _send_chat_action(self, call: Call) -> bool:
        self._require(call, "chat_id", "action")
        return True

    def _file_for(self, call: Call, field_name: str) -> tuple[UploadedFile | None, str]:
        """The uploaded file for ``field_name`` (direct or via attach://) or a file_id/URL."""
        value = call.params.get(field_name)
        upload = call.files.get(field_name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = call.files.get(value.removeprefix("attach://"))
        if upload is None:
            if not value:
                raise bad_request(f"there is no {field_name} in the request")
            return None, str(value)
        n = self._new_id()
        upload.file_id = f"BQACAgFAKE-{field_name}-{n}"
        self.uploads[upload.file_id] = upload
        return upload, upload.file_id

    def _caption(self, call: Call) -> str | None:
        caption = call.params.get("caption")
        if caption is not None:
            self._visible_text(
                caption,
                call.params.get("parse_mode"),
                what="message caption",
                limit=self.max_caption_length,
            )
        return caption

    def _send_document(self, call: Call) -> JSONDict:
        self._require(call, "chat_id")
        upload, file_id = self._file_for(call, "document")
        caption = self._caption(call)
        self._check_markup(call.params.get("reply_markup"))
        document: JSONDict = {"file_id": file_id, "file_unique_id": f"AgAD{file_id[-12:]}"}
        if upload is not None:
            document.update(
                file_name=upload.filename,
                mime_type=upload.content_type or "application/octet-stream",
                file_size=upload.size,
            )
        return self._bot_message(
            call.params["chat_id"],
            document=document,
            caption=caption,
            reply_markup=_inline_markup(call.params.get("reply_markup")),
        )

    def _send_photo(self, call: Call) -> JSONDict:
        self._require(call, "chat_id")
        upload, file_id = self._file_for(call, "photo")
        caption = self._caption(call)
        self._check_markup(call.params.get("reply_markup"))
        size = upload.size if upload is not None else 50_000
        photo = [
            {
                "file_id": f"{file_id}-{width}",
                "file_unique_id": f"AQAD{file_id[-10:]}{width}",
                "width": width,
                "height": width * 3 // 4,
                "file_size": size * width // 1280,
            }
            for width in (90, 320, 1280)
        ]
        return self._bot_message(
            call.params["chat_id"],
            photo=photo,
            caption=caption,
            reply_markup=_inline_markup(call.params.get("reply_markup")),
        )

    def _get_file(self, call: Call) -> JSONDict:
        file_id = str(call.params.get("file_id") or "")
        upload = self.uploads.get(file_id)
        if upload is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"AgAD{file_id[-12:]}",
            "file_size": upload.size,
            "file_path": f"documents/{file_id}",
        }

    def _delete_message(self, call: Call) -> bool:
        self._find_message(call, "delete")
        chat_id, message_id = call.params["chat_id"], call.params["message_id"]
        self.messages.get(chat_id, {}).pop(message_id, None)
        self.deleted.add((chat_id, message_id))
        return True

    def _delete_messages(self, call: Call) -> bool:
        chat_id = call.params.get("chat_id")
        for message_id in call.params.get("message_ids") or []:
            self.messages.get(chat_id, {}).pop(message_id, None)
            self.deleted.add((chat_id, message_id))
        return True

    def _store_setting(self, call: Call) -> bool:
        self.settings[call.method] = dict(call.params)
        return True

    def _get_setting(self, setter: str, key: str) -> Handler:
        def getter(call: Call) -> JSONDict:
            return {key: self.settings.get(setter, {}).get(key, "")}

        return getter
