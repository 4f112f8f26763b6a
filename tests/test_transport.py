"""The aiohttp transport behaves as python-telegram-bot's own: same answers, same errors."""

from __future__ import annotations

import asyncio
import socket

import pytest
from telegram import Bot, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.telegram.transport import AiohttpRequest
from tests.fakes.bot_api import FakeBotApi

TRANSPORTS = {
    "aiohttp": lambda **kw: AiohttpRequest(**kw),
    "httpx": lambda **kw: HTTPXRequest(**kw),
}


@pytest.fixture(params=sorted(TRANSPORTS))
def make_request(request):
    return TRANSPORTS[request.param]


async def bot_for(fake: FakeBotApi, request) -> Bot:
    bot = Bot(
        fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        request=request,
        get_updates_request=request,
    )
    return bot


async def test_same_answers_and_same_errors_as_the_default_transport(make_request) -> None:
    async with FakeBotApi() as fake:
        request = make_request(read_timeout=2.0)
        async with await bot_for(fake, request) as bot:
            me = await bot.get_me()
            assert me.is_bot
            message = await bot.send_message(1, "<b>hi</b> & bye", parse_mode="HTML")
            assert message.text == "<b>hi</b> & bye" and message.chat.id == 1
            fake.fail_next("sendMessage", "429", retry_after=3)
            with pytest.raises(RetryAfter):
                await bot.send_message(1, "x")
            fake.fail_next("sendMessage", "5xx")
            with pytest.raises(NetworkError):
                await bot.send_message(1, "x")
            fake.block_user(2)
            with pytest.raises(Forbidden):
                await bot.send_message(2, "x")
            with pytest.raises(BadRequest):
                await bot.send_message(1, "<b>unclosed", parse_mode="HTML")
            fake.fail_next("sendMessage", "drop")
            with pytest.raises(NetworkError):
                await bot.send_message(1, "x")


async def test_slow_answers_time_out_as_timed_out(make_request) -> None:
    async with FakeBotApi() as fake, await bot_for(fake, make_request(read_timeout=0.3)) as bot:
        fake.fail_next("sendMessage", "slow", seconds=2)
        with pytest.raises(TimedOut):
            await bot.send_message(1, "x")


async def test_uploads_and_downloads_files(make_request, tmp_path) -> None:
    async with FakeBotApi() as fake, await bot_for(fake, make_request()) as bot:
        payload = b'{"a": 1}\n' * 1000
        message = await bot.send_document(
            1, InputFile(payload, filename="mydata.json"), caption="yours"
        )
        upload = next(iter(fake.calls_to("sendDocument")[-1].files.values()))
        assert (upload.filename, upload.data) == ("mydata.json", payload)
        handle = tmp_path / "doc.bin"
        handle.write_bytes(b"\x00\x01" * 500)
        with handle.open("rb") as f:
            await bot.send_document(1, f)
        assert (
            next(iter(fake.calls_to("sendDocument")[-1].files.values())).data == b"\x00\x01" * 500
        )
        file = await bot.get_file(message.document.file_id)
        assert bytes(await file.download_as_bytearray()) == payload


async def test_long_polling_waits_and_returns_updates(make_request) -> None:
    async with FakeBotApi() as fake, await bot_for(fake, make_request()) as bot:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await bot.get_updates(timeout=1) == ()
        assert loop.time() - t0 >= 0.9
        fake.push_update(fake.make_text_update(5, "hello"))
        updates = await bot.get_updates(timeout=5)
        assert updates[0].message.text == "hello"


async def test_unreachable_server_is_a_network_error(make_request) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bot = Bot(
        "123:abc",
        base_url=f"http://127.0.0.1:{port}/bot",
        request=make_request(connect_timeout=1.0),
        get_updates_request=make_request(),
    )
    with pytest.raises(NetworkError):
        await bot.initialize()  # asks for getMe, which cannot connect
    await bot.shutdown()


async def test_not_initialized_and_shutdown_twice() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:1/x", "POST")
    await request.initialize()
    await request.initialize()  # idempotent
    await request.shutdown()
    await request.shutdown()
