"""Starting when Telegram cannot be reached yet: retry with backoff, a bad token exits 1 at
once, SIGTERM exits 0 at any point. Driven against the stand-in Bot API and a closed port."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.conftest import ROOT
from tests.fakes.bot_api import FakeBotApi
from tests.service_harness import EXAMPLE, Harness, make_config, read_until

TOKEN = "424242:SecretTokenThatMustNeverBeLogged"


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def start_bot(tmp_path: Path, base_url: str, token: str, procs: list, health_port=0):
    config = tmp_path / "config.yaml"
    config.write_text(
        f"telegram:\n  base_url: {base_url}\n"
        f"dialogues:\n  path: {EXAMPLE}\nstorage:\n  path: {tmp_path / 'bot.sqlite3'}\n"
        f"health:\n  port: {health_port}\n"
    )
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": token, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    procs.append(proc)
    return proc


async def test_unreachable_telegram_is_retried_with_503_and_sigterm_exits_0(
    tmp_path, child_processes, unused_tcp_port
) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/bot"
    proc = await start_bot(tmp_path, base_url, TOKEN, child_processes, unused_tcp_port)
    seen: list[str] = []
    await read_until(proc, "Telegram not reachable yet, retrying in 1 s", 30, seen)
    await read_until(proc, "Telegram not reachable yet, retrying in 2 s", 10, seen)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{unused_tcp_port}/healthz") as response:
            assert response.status == 503
            assert (await response.json())["telegram"] == "unreachable"
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=12)
    logs = "".join(seen) + err.decode()
    assert proc.returncode == 0, logs
    assert loop.time() - t0 < 10
    assert "Traceback" not in logs and TOKEN not in logs and TOKEN.split(":")[1] not in logs


async def test_a_rejected_token_exits_1_at_once_with_one_clear_line(
    tmp_path, child_processes
) -> None:
    async with FakeBotApi() as fake:  # answers 401 to any other token, as Telegram does
        proc = await start_bot(tmp_path, fake.base_url, TOKEN, child_processes)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    logs = out.decode() + err.decode()
    assert proc.returncode == 1, logs
    assert "Telegram rejected the bot token" in logs and "TELEGRAM_BOT_TOKEN" in logs
    assert "Traceback" not in logs and TOKEN.split(":")[1] not in logs


async def test_502_for_a_while_then_recovers_and_serves(caplog) -> None:
    caplog.set_level("INFO")
    async with FakeBotApi() as fake:
        fake.fail_next("getMe", "5xx", count=2, status=502)
        async with Harness(fake, make_config(fake)) as h:
            await h.text(777, "/start")
    waits = [r.getMessage() for r in caplog.records if "not reachable yet" in r.getMessage()]
    assert waits == [
        "Telegram not reachable yet, retrying in 1 s (Bad Gateway)",
        "Telegram not reachable yet, retrying in 2 s (Bad Gateway)",
    ]
    assert not any(r.exc_info for r in caplog.records)


async def test_sigterm_during_the_wait_ends_serve_with_0() -> None:
    from bot.dialogue.loader import load_dialogue_dir
    from bot.service.run import serve
    from bot.telegram.adapter import BabylossBot

    async with FakeBotApi() as fake:
        fake.fail_next("getMe", "5xx", count=100, status=502)
        config = make_config(fake)
        service = BabylossBot(config, load_dialogue_dir(EXAMPLE).dialogue)
        stop = asyncio.Event()
        task = asyncio.create_task(serve(config, stop=stop, service=service))
        await fake.wait_for(lambda c: c.method == "getMe" and c.status == 502, timeout=10)
        stop.set()
        assert await asyncio.wait_for(task, timeout=5) == 0


def test_backoff_is_capped_exponential() -> None:
    from bot.service.startup import backoff

    assert [backoff(n) for n in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


async def test_a_stop_while_loading_ends_with_0_before_telegram_is_called(tmp_path) -> None:
    from bot.service.run import serve

    async with FakeBotApi() as fake:
        config = make_config(fake, storage_path=tmp_path / "bot.sqlite3")
        stop = asyncio.Event()
        stop.set()  # as if SIGTERM arrived while the database opened
        assert await asyncio.wait_for(serve(config, stop=stop), timeout=10) == 0
        assert fake.calls == []


async def test_a_health_port_in_use_is_one_line_and_exit_2(tmp_path, child_processes) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with FakeBotApi() as fake:
            proc = await start_bot(tmp_path, fake.base_url, fake.token, child_processes, port)
            out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    logs = out.decode() + err.decode()
    assert proc.returncode == 2, logs
    assert f"Cannot start: 127.0.0.1:{port}: cannot serve the health check" in logs
    assert "Traceback" not in logs
