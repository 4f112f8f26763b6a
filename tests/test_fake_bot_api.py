"""Proves tests/fakes/bot_api/ works with a real python-telegram-bot Application."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, EndPointNotFound, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

try:  # `python -m pytest` puts the repo root on sys.path ...
    from tests.fakes.bot_api import Call, FakeBotApi, FaultPlan
except ModuleNotFoundError:  # ... bare `pytest` (rootdir-less, no tests/__init__.py) only tests/
    from fakes.bot_api import Call, FakeBotApi, FaultPlan

USER = 4242


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


@contextlib.asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:
    """Run ``app`` with long polling against the fake, shutting down cleanly."""
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


@contextlib.asynccontextmanager
async def bot_for(fake: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        yield bot


@pytest.mark.asyncio
async def test_echo_through_real_application() -> None:
    started = time.monotonic()
    async with FakeBotApi() as fake:
        app = fake.builder().build()
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
        async with polling(app):
            update_id = fake.push_update(fake.make_text_update(USER, "hello there"))
            (sent,) = await fake.wait_for_messages(USER, 1)
            assert sent["chat_id"] == USER
            assert sent["text"] == "echo: hello there"
            assert app.bot.username == "fake_test_bot"

        methods = [c.method for c in fake.calls]
        assert methods[0] == "getMe"
        assert "deleteWebhook" in methods
        # Updater.stop() confirms the update with a final offset: nothing left pending.
        last_poll = fake.calls_to("getUpdates")[-1]
        assert last_poll.params["offset"] == update_id + 1
        assert fake.pending_update_count == 0
        # The bot's reply got the next message_id in the private chat.
        reply = fake.calls_to("sendMessage")[0]
        assert reply.result["message_id"] == 2
        assert reply.result["chat"] == {"id": USER, "type": "private", "first_name": "Sam"}
    assert time.monotonic() - started < 5


@pytest.mark.asyncio
async def test_429_once_is_retried_by_aioratelimiter() -> None:
    async with FakeBotApi() as fake:
        fake.fail_next("sendMessage", "429", retry_after=1)
        app = fake.builder().rate_limiter(AIORateLimiter(max_retries=3)).build()
        app.add_handler(MessageHandler(filters.TEXT, _echo))
        async with polling(app):
            fake.push_update(fake.make_text_update(USER, "are you there?"))
            delivered = await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok)

        first, second = fake.calls_to("sendMessage")
        assert (first.status, first.fault, first.ok) == (429, "429", False)
        assert first.error == "Too Many Requests: retry after 1"
        assert delivered is second
        assert (second.status, second.fault) == (200, None)
        assert second.time - first.time >= 1.0  # PTB honoured retry_after
        assert fake.sent_messages(USER) == [second.params]


@pytest.mark.asyncio
async def test_blocked_user_raises_forbidden() -> None:
    async with FakeBotApi() as fake, bot_for(fake) as bot:
        fake.block_user(USER)
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(USER, "are you ok?")
        assert fake.sent_messages() == []
        assert fake.calls_to("sendMessage")[0].status == 403

        fake.unblock_user(USER)
        message = await bot.send_message(USER, "are you ok?")
        assert message.text == "are you ok?"


@pytest.mark.asyncio
async def test_send_document_records_filename_and_bytes() -> None:
    payload = b"%PDF-1.4 fake leaflet\x00\xff"
    async with FakeBotApi() as fake, bot_for(fake) as bot:
        message = await bot.send_document(
            USER, document=payload, filename="support-leaflet.pdf", caption="For you"
        )
        call = fake.calls_to("sendDocument")[0]
        upload = call.files["document"]
        assert upload.filename == "support-leaflet.pdf"
        assert upload.data == payload
        assert call.params["chat_id"] == USER
        assert call.params["caption"] == "For you"
        assert message.document is not None
        assert message.document.file_name == "support-leaflet.pdf"
        assert message.document.file_size == len(payload)
        # The upload can be fetched back through getFile + base_file_url.
        tg_file = await bot.get_file(message.document.file_id)
        assert bytes(await tg_file.download_as_bytearray()) == payload


@pytest.mark.asyncio
async def test_edits_callbacks_and_not_modified() -> None:
    async with FakeBotApi() as fake, bot_for(fake) as bot:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
        sent = await bot.send_message(
            USER, "<b>Still here?</b>", parse_mode="HTML", reply_markup=keyboard
        )
        assert sent.reply_markup == keyboard
        edited = await bot.edit_message_text("Thanks", chat_id=USER, message_id=sent.message_id)
        assert edited.text == "Thanks" and edited.reply_markup is None
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("Thanks", chat_id=USER, message_id=sent.message_id)
        with pytest.raises(BadRequest, match="parse entities"):
            await bot.send_message(USER, "a <3 b", parse_mode="HTML")
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(USER, "x" * 4097)
        await bot.delete_message(USER, sent.message_id)
        with pytest.raises(BadRequest, match="not found"):
            await bot.delete_message(USER, sent.message_id)

        update = fake.make_callback_update(USER, "yes", sent.message_id)
        query = update["callback_query"]
        assert query["message"]["message_id"] == sent.message_id
        assert query["from"] == {
            "id": USER,
            "is_bot": False,
            "first_name": "Sam",
            "language_code": "en",
        }
        assert Update.de_json({"update_id": 1, **update}, bot).callback_query is not None
        assert await bot.answer_callback_query(query["id"], text="Noted")


@pytest.mark.asyncio
async def test_callback_and_command_updates_reach_handlers() -> None:
    seen: list[str] = []

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        seen.append(str(update.callback_query.data))
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("chosen")

    async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = update.effective_message
        assert msg is not None
        kind = "command" if msg.text and msg.text.startswith("/") else "media"
        if msg.sticker:
            kind = "sticker"
        elif msg.photo:
            kind = "photo"
        elif msg.voice:
            kind = "voice"
        seen.append(kind)
        await msg.reply_text(kind)

    async with FakeBotApi() as fake:
        app = fake.builder().build()
        app.add_handler(CallbackQueryHandler(on_button))
        app.add_handler(MessageHandler(filters.ALL, on_other))
        async with polling(app):
            for update in (
                fake.make_text_update(USER, "/start"),
                fake.make_sticker_update(USER),
                fake.make_photo_update(USER),
                fake.make_voice_update(USER),
            ):
                fake.push_update(update)
            await fake.wait_for_messages(USER, 4)
            bot_msg = fake.calls_to("sendMessage")[0].result["message_id"]
            fake.push_update(fake.make_callback_update(USER, "pick", bot_msg))
            await fake.wait_for(lambda c: c.method == "editMessageText" and c.ok)
        assert seen == ["command", "sticker", "photo", "voice", "pick"]
        assert fake.answered_callbacks


@pytest.mark.asyncio
async def test_fault_kinds_and_seeded_plan() -> None:
    async with FakeBotApi() as fake, bot_for(fake) as bot:
        fake.fail_next("*", "5xx")
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(USER, "hi")
        fake.fail_next("sendMessage", "drop")
        with pytest.raises(NetworkError):
            await bot.send_message(USER, "hi")
        fake.fail_next("sendMessage", "drop_after")
        with pytest.raises(NetworkError):
            await bot.send_message(USER, "hi")
        assert len(fake.sent_messages(USER)) == 1  # the drop_after one took effect
        fake.fail_next("sendMessage", "slow", seconds=0.2)
        started = time.monotonic()
        await bot.send_message(USER, "hi")
        assert time.monotonic() - started >= 0.2
        fake.fail_next("sendMessage", "429", retry_after=7)
        with pytest.raises(RetryAfter, match="Retry in 7 seconds|0:00:07"):
            await bot.send_message(USER, "hi")
        # getUpdates is left alone by global faults.
        fake.set_faults(FaultPlan(rate_5xx=1.0))
        assert await bot.get_updates(timeout=0) == ()
        fake.set_faults(None)

    def outcomes(seed: int) -> list[str | None]:
        plan = FaultPlan(rate_429=0.3, rate_5xx=0.2, drop_rate=0.1, seed=seed)
        return [next(iter(plan.roll()), None) for _ in range(50)]

    assert outcomes(7) == outcomes(7)
    assert outcomes(7) != outcomes(8)


@pytest.mark.asyncio
async def test_get_updates_returns_promptly_on_stop() -> None:
    fake = FakeBotApi()
    await fake.start()
    async with bot_for(fake) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await fake.wait_for(lambda c: c.method == "getUpdates")
        started = time.monotonic()
        await fake.stop()
        assert await asyncio.wait_for(poll, 3) == ()
        assert time.monotonic() - started < 2


@pytest.mark.asyncio
async def test_unknown_method_and_call_shape() -> None:
    async with FakeBotApi() as fake, bot_for(fake) as bot:
        with pytest.raises(EndPointNotFound):  # PTB replaces the 404 description
            await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": USER})
        call: Call = fake.calls_to("sendTelepathy")[0]
        assert call.status == 404 and call.params == {"chat_id": USER}


@pytest.mark.asyncio
async def test_parameter_encodings_and_webhook_helper() -> None:
    received: list[tuple[dict[str, object], str | None]] = []

    async def webhook(request: web.Request) -> web.Response:
        received.append(
            (await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        )
        return web.Response(status=200)

    runner = web.AppRunner(web.Application())
    runner.app.router.add_post("/hook", webhook)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    try:
        async with FakeBotApi() as fake, aiohttp.ClientSession() as http:
            url = f"{fake.base_url}{fake.token}/sendMessage"
            form = {"chat_id": "7", "text": "42", "reply_markup": '{"inline_keyboard": []}'}
            async with http.post(url, data=form) as resp:
                assert resp.status == 200
            async with http.post(url, json={"chat_id": "@channel", "text": "hi"}) as resp:
                assert (await resp.json())["result"]["chat"]["type"] == "channel"
            async with http.get(url, params={"chat_id": "7", "text": "via GET"}) as resp:
                assert resp.status == 200
            async with http.post(f"{fake.base_url}wrong:token/getMe") as resp:
                assert resp.status == 401
            first = fake.calls_to("sendMessage")[0].params
            assert first == {"chat_id": 7, "text": "42", "reply_markup": {"inline_keyboard": []}}

            update = fake.make_text_update(USER, "hi")
            status = await fake.post_webhook(
                f"http://127.0.0.1:{port}/hook", update, secret_token="s3cret"
            )
            assert status == 200
            body, secret = received[0]
            assert secret == "s3cret" and body["message"] == update["message"]
            assert isinstance(body["update_id"], int)

            with pytest.raises(TimeoutError, match="no matching Bot API call"):
                await fake.wait_for(lambda c: c.method == "sendPoll", timeout=0.05)
    finally:
        await runner.cleanup()
