"""Odd and hostile input never crashes the bot, and what parents send is always escaped.

Updates go through a real Application's process_update (the entry point every update
takes), against the stand-in Bot API; the bot's error handler must never be reached.
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update

from tests.fakes.bot_api import FakeBotApi
from tests.service_harness import Harness, make_config, running

PARENT = 7007

NASTY_TEXT = [
    "x" * 4096,
    "\u200b\u200c\u200d\u2060\ufeff",  # zero-width characters
    "\u202e\u202d\u2066\u2067 right-to-left \u202c",
    "<b>bold</b> <script>alert(1)</script> & &amp; &#0; <a href='javascript:x'>x</a>",
    "/start@someone_else",
    "/" + "a" * 300,
    "\x00\x01\x02 control",
    "😀" * 1000,
    "{first_name} {{region}} %s %(x)s",
    "",
]


async def test_hostile_text_names_and_updates_never_reach_the_error_handler():
    async with running() as h:
        fake = h.fake
        updates = []
        for i, text in enumerate(NASTY_TEXT):
            updates.append(
                fake.make_text_update(PARENT + i, text or " ", first_name=NASTY_TEXT[(i + 3) % 4])
            )
        updates += [
            fake.make_text_update(PARENT, "/start", first_name="<b>Eve</b> & <i>co"),
            fake.make_edited_message_update(PARENT, "<i>edited</i>"),
            fake.make_callback_update(PARENT, "welcome|0|0000|extra", 999_999),
            fake.make_callback_update(PARENT, "~|stop|nonsense", 1),
            fake.make_callback_update(PARENT, "\u202e" * 30, 1),
            fake.make_callback_update(PARENT, "~|forget", 1, chat_type="group", chat_id=-5),
            fake.make_text_update(PARENT, "hello group", chat_type="supergroup", chat_id=-7),
            fake.make_my_chat_member_update(PARENT, new_status="kicked"),
            fake.make_my_chat_member_update(PARENT, new_status="member", old_status="kicked"),
            {
                "channel_post": {
                    "message_id": 1,
                    "date": 0,
                    "text": "channel",
                    "chat": {"id": -100, "type": "channel", "title": "c"},
                }
            },
            {"some_future_update_type": {"anything": [1, 2, {"x": None}]}},
        ]
        since = len(fake.calls)
        for update in updates:
            fake.push_update(update)
        await asyncio.sleep(2.0)
        assert h.service.stats.errors == 0
        sent = [c for c in fake.calls[since:] if c.method == "sendMessage" and c.ok]
        assert sent, "the bot answered"
        for call in sent:
            text = call.params["text"]
            assert "<script>" not in text and "<b>Eve</b>" not in text
        assert any(
            "Hello &lt;b&gt;Eve&lt;/b&gt; &amp; &lt;i&gt;co." in c.params["text"] for c in sent
        )
        # And it still serves everyone afterwards.
        assert await h.text(PARENT + 100, "/start")


# -- Fuzzing the update entry point -------------------------------------------------

ids = st.integers(min_value=-(10**13), max_value=10**13)
texts = st.one_of(
    st.text(max_size=300),
    st.sampled_from(NASTY_TEXT),
    st.sampled_from(
        [
            "/start",
            "/menu",
            "/back",
            "/forget",
            "/mydata",
            "/stats",
            "/preview crisis",
            "/language cy",
            "/reload",
            "i cant go on",
        ]
    ),
)
chat_types = st.sampled_from(["private", "group", "supergroup", "channel", "sender"])


@st.composite
def users(draw):
    return {
        "id": draw(ids),
        "is_bot": draw(st.booleans()),
        "first_name": draw(texts) or "x",
        "language_code": draw(st.sampled_from(["en", "cy", "zz", ""])),
    }


@st.composite
def messages(draw):
    user = draw(users())
    chat_type = draw(chat_types)
    chat_id = user["id"] if chat_type == "private" else draw(ids)
    message = {
        "message_id": draw(st.integers(1, 10**9)),
        "date": draw(st.integers(0, 2**31)),
        "chat": {"id": chat_id, "type": chat_type},
        "from": user,
    }
    kind = draw(st.sampled_from(["text", "sticker", "photo", "caption", "nothing"]))
    if kind == "text":
        message["text"] = draw(texts)
        if message["text"].startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(message["text"].split(" ")[0])}
            ]
    elif kind == "sticker":
        message["sticker"] = {
            "file_id": "s",
            "file_unique_id": "s",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        }
    elif kind in ("photo", "caption"):
        message["photo"] = [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
        if kind == "caption":
            message["caption"] = draw(texts)
    return message


@st.composite
def updates(draw):
    kind = draw(
        st.sampled_from(
            [
                "message",
                "edited_message",
                "channel_post",
                "callback_query",
                "my_chat_member",
                "unknown",
            ]
        )
    )
    if kind in ("message", "edited_message", "channel_post"):
        return {kind: draw(messages())}
    if kind == "callback_query":
        data = draw(
            st.one_of(
                st.text(max_size=64),
                st.sampled_from(
                    [
                        "welcome|0|0000",
                        "menu|1|ffff",
                        "~|resume",
                        "~|fresh",
                        "~|forget",
                        "~|keep",
                        "~|wipe",
                        "~|stop|wave_of_light",
                        "||",
                        "crisis|-1|x",
                    ]
                ),
            )
        )
        query = {"id": str(draw(ids)), "from": draw(users()), "chat_instance": "c", "data": data}
        if draw(st.booleans()):
            query["message"] = draw(messages())
        return {"callback_query": query}
    if kind == "my_chat_member":
        user = draw(users())
        member = {"user": user, "status": draw(st.sampled_from(["member", "kicked", "left"]))}
        return {
            "my_chat_member": {
                "chat": {"id": user["id"], "type": "private"},
                "from": user,
                "date": 0,
                "old_chat_member": member,
                "new_chat_member": member,
            }
        }
    return {
        draw(st.text(min_size=1, max_size=20)): draw(
            st.dictionaries(st.text(max_size=5), st.integers())
        )
    }


async def _process_all(batch: list[dict]) -> int:
    async with FakeBotApi() as fake:
        harness = Harness(fake, make_config(fake, admins=frozenset({1, 2, 3})))
        async with harness:
            app = harness.service.application
            for number, data in enumerate(batch, start=1):
                try:
                    update = Update.de_json({"update_id": number, **data}, app.bot)
                except Exception:  # not an update PTB can even read: PTB's concern, not ours
                    continue
                await app.process_update(update)
            await asyncio.sleep(0.05)
            return harness.service.stats.errors


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(updates(), min_size=1, max_size=12))
def test_random_updates_never_raise_or_reach_the_error_handler(batch):
    assert asyncio.run(_process_all(batch)) == 0
