"""What a new deployer met on a fresh clone, run as they ran it: ``run --check`` that passes
when ``run`` would then fail, noisy or missing start lines, a version that depends on how a
path is written, and messages that did not say which file or default was used."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from bot.dialogue.loader import load_dialogue_dir
from tests.conftest import ROOT
from tests.fakes.bot_api import FakeBotApi
from tests.service_harness import read_until

EXAMPLE = ROOT / "docs" / "examples" / "first-dialogue"
TOKEN = "424242:SecretTokenThatMustNeverBeLogged"


def bot(*args: str, token: str | None = TOKEN, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    if token is not None:
        env["TELEGRAM_BOT_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True, text=True, timeout=120, env=env, cwd=cwd,
    )  # fmt: skip


def write_config(tmp_path: Path, extra: str = "", health_port: int = 0) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"dialogues:\n  path: {EXAMPLE}\nstorage:\n  path: {tmp_path / 'bot.sqlite3'}\n"
        f"health:\n  port: {health_port}\n{extra}"
    )
    return config


# -- 8. a malformed token is caught offline, and never shown --------------------------------


@pytest.mark.parametrize("token", ["abc", "123456", ":abcdef", "123:abc def", "12a:bcd"])
def test_the_offline_check_refuses_a_token_of_the_wrong_shape(tmp_path, token) -> None:
    result = bot("run", "--config", str(write_config(tmp_path)), "--check", token=token)
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "check failed" in out
    assert "does not look like a bot token" in out and "TELEGRAM_BOT_TOKEN" in out
    assert repr(token) not in out and f" {token}\n" not in out and f"{token} " not in out


def test_a_token_of_the_right_shape_passes_offline(tmp_path) -> None:
    result = bot("run", "--config", str(write_config(tmp_path)), "--check")
    assert result.returncode == 0, result.stdout + result.stderr


# -- 7. --check fails where run would: a port that is taken --------------------------------


def test_check_fails_when_the_health_port_is_taken(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = bot("run", "--config", str(write_config(tmp_path, health_port=port)), "--check")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert f"127.0.0.1:{port}: cannot serve the health check there" in out
    assert "Traceback" not in out


def test_check_fails_when_the_webhook_port_is_taken(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        webhook = (
            "telegram:\n  mode: webhook\n  webhook:\n    listen: 127.0.0.1\n"
            f"    port: {port}\n    url: https://example.org/hook\n    secret_token: s3cret\n"
        )
        result = bot("run", "--config", str(write_config(tmp_path, webhook)), "--check")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert f"127.0.0.1:{port}: cannot listen for the webhook there" in out


def test_check_leaves_a_free_health_port_free(tmp_path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = bot("run", "--config", str(write_config(tmp_path, health_port=port)), "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"health: 127.0.0.1:{port} (free)" in result.stdout
    with socket.socket() as again:  # released: the service can take it right after
        again.bind(("127.0.0.1", port))


def test_the_readme_gives_the_health_port_and_the_config_default() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "127.0.0.1:8080" in readme
    assert "Without `--config`" in readme


# -- 6 and 9. what a start logs --------------------------------------------------------------


async def start(tmp_path: Path, base_url: str, token: str, procs: list):
    config = write_config(tmp_path, f"telegram:\n  base_url: {base_url}\n")
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": token, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    procs.append(proc)
    return proc


async def stop(proc, seen: list[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=15)
    assert proc.returncode == 0
    return "".join(seen) + err.decode()


async def test_a_start_is_one_started_line_without_scheduler_chatter(
    tmp_path, child_processes
) -> None:
    async with FakeBotApi() as fake:
        proc = await start(tmp_path, fake.base_url, fake.token, child_processes)
        seen: list[str] = []
        await read_until(proc, "started:", 30, seen)
        logs = await stop(proc, seen)
    version = load_dialogue_dir(EXAMPLE).dialogue.version
    started = [line for line in logs.splitlines() if "started:" in line]
    assert len(started) == 1, logs
    assert version in started[0] and "9 nodes" in started[0] and "polling" in started[0]
    assert "babyloss-bot 0.1.0" in started[0]
    assert "apscheduler" not in logs, logs


@pytest.fixture
async def html_502():
    """A proxy in front of a Bot API that is down: 502 with an HTML page, for every call."""

    async def bad_gateway(request: web.Request) -> web.Response:
        return web.Response(
            status=502, text="<html><body><h1>502 Bad Gateway</h1></body></html>\n" * 3,
            content_type="text/html",
        )  # fmt: skip

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", bad_gateway)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/bot"
    await runner.cleanup()


async def test_a_non_json_502_at_start_is_one_line_per_retry(
    tmp_path, child_processes, html_502
) -> None:
    proc = await start(tmp_path, html_502, TOKEN, child_processes)
    seen: list[str] = []
    await read_until(proc, "retrying in 2 s", 30, seen)
    logs = await stop(proc, seen)
    assert "Traceback" not in logs and "<html>" not in logs, logs
    assert TOKEN.split(":")[1] not in logs
    retries = [line for line in logs.splitlines() if "not reachable yet" in line]
    assert len(retries) == 2
    lines = [line for line in logs.splitlines() if line.strip()]
    others = [line for line in lines if "not reachable yet" not in line]
    assert all(" INFO " in line for line in others), others  # no other warnings or errors


async def test_a_non_json_502_under_check_online_is_one_line(tmp_path, html_502) -> None:
    config = write_config(tmp_path, f"telegram:\n  base_url: {html_502}\n")
    result = await asyncio.to_thread(bot, "run", "--config", str(config), "--check", "--online")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Traceback" not in out and "<html>" not in out and TOKEN.split(":")[1] not in out
    errors = [line for line in out.splitlines() if "Telegram" in line and "error" in line]
    assert errors == ["error: Telegram could not be reached (Bad Gateway (502), not a Bot API "
                      "answer)"], out  # fmt: skip


# -- 10. the version is the files' own ------------------------------------------------------


def test_the_version_does_not_depend_on_how_the_folder_is_written(monkeypatch) -> None:
    absolute = load_dialogue_dir(EXAMPLE).dialogue.version
    monkeypatch.chdir(EXAMPLE.parent)
    relative = load_dialogue_dir("first-dialogue").dialogue.version
    dotted = load_dialogue_dir("./first-dialogue/").dialogue.version
    assert absolute == relative == dotted


def test_check_and_chat_give_the_same_version_from_any_folder(tmp_path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"dialogues:\n  path: first-dialogue\nstorage:\n  path: {tmp_path}/b.db\n")
    config_abs = tmp_path / "abs.yaml"
    config_abs.write_text(f"dialogues:\n  path: {EXAMPLE}\nstorage:\n  path: {tmp_path}/b.db\n")
    import shutil

    shutil.copytree(EXAMPLE, tmp_path / "first-dialogue")
    one = bot("run", "--config", str(config), "--check").stdout
    two = bot("run", "--config", str(config_abs), "--check").stdout
    version = load_dialogue_dir(EXAMPLE).dialogue.version
    assert f"version {version}" in one and f"version {version}" in two


# -- 11. which file, which default -----------------------------------------------------------


def test_stats_without_a_config_names_the_default_path_and_the_option(tmp_path) -> None:
    result = bot("stats", cwd=tmp_path, token=None)
    assert result.returncode == 1
    assert f"no database yet at {tmp_path}/babyloss-bot.sqlite3" in result.stderr
    assert "(no config file)" not in result.stderr
    assert "--config" in result.stderr and "has the bot run?" in result.stderr


def test_backup_before_the_first_start_says_what_stats_says(tmp_path) -> None:
    config = write_config(tmp_path)
    backup = bot("backup", str(tmp_path / "copy.db"), "--config", str(config), token=None)
    stats = bot("stats", "--config", str(config), token=None)
    assert backup.returncode == stats.returncode == 1
    wanted = f"no database yet at {tmp_path / 'bot.sqlite3'} (storage.path in {config})"
    assert wanted in backup.stderr and wanted in stats.stderr
    assert "has the bot run?" in backup.stderr
    assert not (tmp_path / "copy.db").exists()


def test_a_network_error_while_polling_is_one_line_too() -> None:
    """After the start, python-telegram-bot logs polling errors with a traceback."""
    import io
    import logging

    from telegram.error import NetworkError

    from bot.service.logs import setup_logging

    stream = io.StringIO()
    handler = setup_logging("INFO", stream=stream)
    try:
        raise NetworkError("Bad Gateway (502). Parsing the server response b'<html>' failed")
    except NetworkError:
        logging.getLogger("telegram.ext.Updater").exception("Exception happened while polling")
    try:
        raise ValueError("Expecting value")
    except ValueError:
        logging.getLogger("telegram.request.BaseRequest").exception(
            'Can not load invalid JSON data: "%s"', "<html>"
        )
    logging.getLogger().removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        stream.getvalue().splitlines()[0].split(" ERROR ")[0]
        + " ERROR telegram.ext.Updater: Exception happened while polling "
        "(Bad Gateway (502), not a Bot API answer)"
    ]
