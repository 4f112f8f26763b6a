"""The stand-in for sending, editing and deleting messages, and answering button presses.

Answers are realistic: per-chat message ids, "message is not modified" when an edit changes
nothing, and the checks Telegram makes (text length, HTML markup, callback_data size), so
the bot fails here the way it would fail in production.
"""

from __future__ import annotations

import html
import re
import time
from typing import Any

from .common import (
    NOT_MODIFIED_DESCRIPTION,
    BotApiError,
    Call,
    JSONDict,
    Store,
    _inline_markup,
    _utf16_len,
    bad_request,
    require,
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


class Messages:
    def __init__(
        self,
        store: Store,
        *,
        detect_not_modified: bool = True,
        validate_html: bool = True,
        max_text_length: int = 4096,
        max_caption_length: int = 1024,
    ) -> None:
        self.store = store
        self.detect_not_modified = detect_not_modified
        self.validate_html = validate_html
        self.max_text_length = max_text_length
        self.max_caption_length = max_caption_length
        self.answered_callbacks: list[JSONDict] = []

    def visible_text(self, text: Any, parse_mode: Any, *, what: str, limit: int) -> str:
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
    def check_markup(markup: Any) -> None:
        if markup is None:
            return
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")

    def _find_message(self, call: Call, action: str) -> JSONDict | None:
        chat_id, message_id = call.params.get("chat_id"), call.params.get("message_id")
        if chat_id is None or message_id is None:
            raise bad_request("message identifier is not specified")
        if (chat_id, message_id) in self.store.deleted:
            raise bad_request(f"message to {action} not found")
        message = self.store.messages.get(chat_id, {}).get(message_id)
        if message is not None and action == "edit" and not message["from"].get("is_bot"):
            raise bad_request("message can't be edited")
        return message

    def _edit(self, call: Call, changes: JSONDict) -> JSONDict | bool:
        self.check_markup(call.params.get("reply_markup"))
        if call.params.get("inline_message_id"):
            return True
        message = self._find_message(call, "edit")
        chat_id, message_id = call.params["chat_id"], call.params["message_id"]
        if message is None:  # unknown to the fake (e.g. sent before it started): accept
            message = {
                "message_id": message_id,
                "from": dict(self.store.bot_user),
                "chat": self.store.chat_for(chat_id),
                "date": int(time.time()) - 1,
            }
            self.store.messages.setdefault(chat_id, {})[message_id] = message
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

    def send_message(self, call: Call) -> JSONDict:
        require(call, "chat_id", "text")
        params = call.params
        self.visible_text(
            params["text"],
            params.get("parse_mode"),
            what="message text",
            limit=self.max_text_length,
        )
        self.check_markup(params.get("reply_markup"))
        return self.store.bot_message(
            params["chat_id"],
            text=params["text"],
            entities=params.get("entities"),
            reply_markup=_inline_markup(params.get("reply_markup")),
        )

    def edit_message_text(self, call: Call) -> JSONDict | bool:
        require(call, "text")
        params = call.params
        self.visible_text(
            params["text"],
            params.get("parse_mode"),
            what="message text",
            limit=self.max_text_length,
        )
        return self._edit(
            call,
            {"text": params["text"], "reply_markup": _inline_markup(params.get("reply_markup"))},
        )

    def edit_message_caption(self, call: Call) -> JSONDict | bool:
        params = call.params
        if params.get("caption") is not None:
            self.visible_text(
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

    def edit_message_reply_markup(self, call: Call) -> JSONDict | bool:
        return self._edit(call, {"reply_markup": _inline_markup(call.params.get("reply_markup"))})

    def answer_callback_query(self, call: Call) -> bool:
        require(call, "callback_query_id")
        text = call.params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self.answered_callbacks.append(dict(call.params))
        return True

    def send_chat_action(self, call: Call) -> bool:
        require(call, "chat_id", "action")
        return True

    def delete_message(self, call: Call) -> bool:
        self._find_message(call, "delete")
        chat_id, message_id = call.params["chat_id"], call.params["message_id"]
        self.store.messages.get(chat_id, {}).pop(message_id, None)
        self.store.deleted.add((chat_id, message_id))
        return True

    def delete_messages(self, call: Call) -> bool:
        chat_id = call.params.get("chat_id")
        for message_id in call.params.get("message_ids") or []:
            self.store.messages.get(chat_id, {}).pop(message_id, None)
            self.store.deleted.add((chat_id, message_id))
        return True
