"""The stand-in Bot API's server: HTTP routing, the record of every call, fault injection
at the door, and the bot's own settings (getMe, commands, descriptions). What each method
does is in the part that stands in for it: updates.py, messages.py, files.py."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from .common import (
    DEFAULT_TOKEN,
    FORBIDDEN_DESCRIPTION,
    BotApiError,
    Call,
    Handler,
    JSONDict,
    Store,
    UploadedFile,
    _norm_chat_id,
    bad_request,
    error_response,
)
from .faults import FaultPlan, Faults, _Dropped, _Fault
from .files import Files
from .messages import Messages
from .updates import Updates

if TYPE_CHECKING:
    from telegram.ext import ApplicationBuilder

_LOGGER = logging.getLogger(__name__)

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
_BOT_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def _decode_value(key: str, value: str) -> Any:
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class FakeBotApi:
    """In-process fake of the Telegram Bot API (see the package docstring)."""

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

        prefix = token.split(":", 1)[0]
        self.bot_user: JSONDict = {
            "id": int(prefix) if prefix.isdigit() else 123456789,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }

        # The parts, by what they stand in for (see the package docstring).
        self.store = Store(self.bot_user)
        self.updates = Updates(self.store, lambda: self._stopping)
        self.messages_api = Messages(
            self.store,
            detect_not_modified=detect_not_modified,
            validate_html=validate_html,
            max_text_length=max_text_length,
            max_caption_length=max_caption_length,
        )
        self.files = Files(self.store, self.messages_api, token)
        self.fault_injection = Faults(faults)

        self.calls: list[Call] = []
        self.commands: dict[str, list[JSONDict]] = {}
        self.settings: dict[str, JSONDict] = {}
        self.blocked: set[Any] = set()

        self._calls_changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None

        updates, messages, files = self.updates, self.messages_api, self.files
        self._handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": updates.get_updates,
            "deleteWebhook": updates.delete_webhook,
            "setWebhook": updates.set_webhook,
            "getWebhookInfo": updates.get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": messages.send_message,
            "editMessageText": messages.edit_message_text,
            "editMessageCaption": messages.edit_message_caption,
            "editMessageReplyMarkup": messages.edit_message_reply_markup,
            "answerCallbackQuery": messages.answer_callback_query,
            "sendChatAction": messages.send_chat_action,
            "sendDocument": files.send_document,
            "sendPhoto": files.send_photo,
            "getFile": files.get_file,
            "deleteMessage": messages.delete_message,
            "deleteMessages": messages.delete_messages,
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

    # ------------------------------------------------------------------ state, by part

    @property
    def users(self) -> dict[int, JSONDict]:
        return self.store.users

    @property
    def chats(self) -> dict[Any, JSONDict]:
        return self.store.chats

    @property
    def messages(self) -> dict[Any, dict[int, JSONDict]]:
        return self.store.messages

    @property
    def deleted(self) -> set[tuple[Any, int]]:
        return self.store.deleted

    @property
    def uploads(self) -> dict[str, UploadedFile]:
        return self.files.uploads

    @property
    def answered_callbacks(self) -> list[JSONDict]:
        return self.messages_api.answered_callbacks

    @property
    def webhook(self) -> JSONDict | None:
        return self.updates.webhook

    @property
    def faults(self) -> FaultPlan:
        return self.fault_injection.plan

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        self.fault_injection.plan = plan

    @property
    def method_faults(self) -> dict[str, FaultPlan]:
        return self.fault_injection.per_method

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
        self.updates._wake_pollers()
        await self.updates.close()
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
        self.fault_injection.fail_next(
            method,
            kind,
            count,
            retry_after=retry_after,
            seconds=seconds,
            status=status,
            description=description,
        )

    def set_faults(self, plan: FaultPlan | None, *, method: str | None = None) -> None:
        """Set the global plan (``method=None``) or a per-method plan that replaces it for
        that method. ``plan=None`` removes a per-method plan / resets the global one."""
        self.fault_injection.set(plan, method=method)

    def clear_faults(self) -> None:
        self.fault_injection.clear()

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

    # ------------------------------------------------------------------ updates (updates.py)

    @property
    def pending_update_count(self) -> int:
        return self.updates.pending_update_count

    def drop_pending_updates(self) -> None:
        """Forget every queued update, as ``drop_pending_updates`` does on the real API."""
        self.updates.drop_pending_updates()

    def push_update(self, update: JSONDict) -> int:
        """Queue an update for getUpdates; assigns ``update_id`` if missing. Returns it."""
        return self.updates.push_update(update)

    def make_text_update(self, *args: Any, **kwargs: Any) -> JSONDict:
        return self.updates.make_text_update(*args, **kwargs)

    def make_callback_update(self, *args: Any, **kwargs: Any) -> JSONDict:
        return self.updates.make_callback_update(*args, **kwargs)

    def make_sticker_update(self, *args: Any, **kwargs: Any) -> JSONDict:
        return self.updates.make_sticker_update(*args, **kwargs)

    def make_photo_update(self, *args: Any, **kwargs: Any) -> JSONDict:
        return self.updates.make_photo_update(*args, **kwargs)

    def make_voice_update(self, *args: Any, **kwargs: Any) -> JSONDict:
        return self.updates.make_voice_update(*args, **kwargs)

    def make_edited_message_update(self, *args: Any, **kwargs: Any) -> JSONDict:
        return self.updates.make_edited_message_update(*args, **kwargs)

    def make_my_chat_member_update(self, *args: Any, **kwargs: Any) -> JSONDict:
        return self.updates.make_my_chat_member_update(*args, **kwargs)

    async def post_webhook(
        self, url: str, update: JSONDict, secret_token: str | None = None
    ) -> int:
        """POST ``update`` to a bot's webhook like Telegram does (see Updates.post_webhook)."""
        return await self.updates.post_webhook(url, update, secret_token)

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
        return error_response(err)

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
        faults = self.fault_injection.pick(call.method)
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
                return self._finish(call, self.fault_injection.error(outcome_fault))

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

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        return await self.files.handle_file(request)

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

    def _store_setting(self, call: Call) -> bool:
        self.settings[call.method] = dict(call.params)
        return True

    def _get_setting(self, setter: str, key: str) -> Handler:
        def getter(call: Call) -> JSONDict:
            return {key: self.settings.get(setter, {}).get(key, "")}

        return getter
