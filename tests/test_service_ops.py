"""What deployers rely on: configuration errors, logs without secrets or personal data,
the health check, and clean stops and reloads of the real process."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.service.config import ConfigError, load_config, parse_config
from bot.service.health import Health
from bot.service.logs import setup_logging
from tests.conftest import ROOT
from tests.fakes.bot_api import FakeBotApi
from tests.service_harness import EXAMPLE, running

# -- Configuration -----------------------------------------------------------------


def test_the_example_config_is_valid_and_documents_every_key() -> None:
    from bot.service.config import SCHEMA

    text = (ROOT / "config.example.yaml").read_text()
    config = load_config(ROOT / "config.example.yaml", env={})
    assert config.mode == "polling" and config.variables == {"shop_link": "show"}
    for key in SCHEMA:
        assert key.rsplit(".", 1)[-1] + ":" in text, f"{key} is not in config.example.yaml"


def test_unknown_key_names_the_key_the_file_and_the_line() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(b"telegram:\n  mode: polling\n  tokn: abc\n", "bot.yaml", env={})
    assert str(err.value).startswith(
        "bot.yaml:3: unknown key 'telegram.tokn'. Did you mean 'token'?"
    )


@pytest.mark.parametrize(
    "text, message",
    [
        (b"pacing:\n  typing_delay_ms: fast\n", "'pacing.typing_delay_ms' should be milliseconds"),
        (
            b"telegram:\n  mode: carrier-pigeon\n",
            "'telegram.mode' should be 'polling' or 'webhook'",
        ),
        (b"health:\n  port: 99999\n", "'health.port' should be a port number"),
        (b"admins: [alice]\n", "'admins' should be a list of Telegram user ids"),
        (b"telegram: [1, 2]\n", "'telegram' should be a section of keys"),
        (b"- a\n- b\n", "should be a mapping of sections"),
        (b"telegram:\n  mode: webhook\n", "telegram.webhook.url is required"),
        (b"telegram:\n  mode: webhook\n  webhook: {url: 'https://x.org/t'}\n", "secret_token"),
        (b"logging: {level: LOUD}\n", "'logging.level' should be DEBUG, INFO, WARNING or ERROR"),
        (b"key: [unclosed\n", "BL001"),
    ],
)
def test_bad_values_are_explained(text: bytes, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "bot.yaml", env={})
    assert message in str(err.value)


def test_token_from_the_environment_wins_and_is_never_shown() -> None:
    config = parse_config(
        b"telegram:\n  token: '111:file'\n", "c.yaml", env={"TELEGRAM_BOT_TOKEN": "222:env"}
    )
    assert config.token == "222:env"
    assert "222:env" not in repr(config) and "222" not in str(config)
    with pytest.raises(ConfigError) as err:
        parse_config(b"telegram:\n  token: 12345\n", "c.yaml", env={})
    assert "12345" not in str(err.value) and "<hidden>" in str(err.value)


def test_run_without_a_token_says_what_to_do(tmp_path: Path) -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and "babyloss-bot chat" in result.stderr
    assert "Traceback" not in result.stderr


# -- Logs --------------------------------------------------------------------------


async def test_logs_never_hold_the_token_or_what_a_parent_said_even_at_debug() -> None:
    stream = io.StringIO()
    async with FakeBotApi() as fake:
        handler = setup_logging("DEBUG", "text", secrets=[fake.token], stream=stream)
        try:
            from tests.service_harness import Harness, make_config

            async with Harness(fake, make_config(fake, admins=frozenset())) as h:
                await h.step(fake.make_text_update(424242421, "/start", first_name="Zelda"))
                await h.step(
                    fake.make_text_update(424242421, "purple elephant question", first_name="Zelda")
                )
                await h.step(fake.make_text_update(424242421, "i want to die", first_name="Zelda"))
                fake.fail_next("sendMessage", "bad_request")
                fake.push_update(fake.make_text_update(424242421, "/menu", first_name="Zelda"))
                await fake.wait_for(lambda c: c.fault == "bad_request")
                await asyncio.sleep(0.3)
                logging.getLogger("test").debug("direct mention of %s", fake.token)
        finally:
            logging.getLogger().removeHandler(handler)
    logs = stream.getvalue()
    assert "started: babyloss-bot" in logs and "crisis reply sent" in logs
    assert "failed: BadRequest" in logs  # errors are logged, with the update id
    for secret in (
        fake.token,
        fake.token.split(":")[1],
        "purple elephant",
        "Zelda",
        "424242421",
        "want to die",
    ):
        assert secret not in logs, secret
    assert "[REDACTED]" in logs


def test_json_logs_are_one_object_per_line() -> None:
    stream = io.StringIO()
    handler = setup_logging("INFO", "json", secrets=["999:SECRET"], stream=stream)
    try:
        logging.getLogger("babyloss.test").info("hello %s", "999:SECRET")
    finally:
        logging.getLogger().removeHandler(handler)
    entry = json.loads(stream.getvalue().strip())
    assert entry["message"] == "hello [REDACTED]" and entry["level"] == "INFO"


# -- Health ------------------------------------------------------------------------


async def test_healthz_reports_ok_with_version_and_uptime(unused_tcp_port) -> None:
    async with running({"health_port": unused_tcp_port}) as h:
        url = f"http://127.0.0.1:{unused_tcp_port}/healthz"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            body = await response.json()
            assert response.status == 200
            assert body["status"] == "ok"
            assert body["dialogue_version"] == h.service.dialogue.version
            assert body["uptime_seconds"] >= 0


async def test_health_goes_503_when_a_dependency_fails() -> None:
    async def telegram_down() -> bool:
        raise ConnectionError("no route")

    async def database_ok() -> bool:
        return True

    health = Health(version=lambda: "v1", telegram=telegram_down, database=database_ok)
    status, body = await health.report()
    assert status == 503 and body["telegram"] == "unreachable" and body["database"] == "ok"


# -- The real process: SIGTERM, SIGHUP -----------------------------------------------


async def _start_process(fake: FakeBotApi, tmp_path: Path, procs: list, dialogues: Path = EXAMPLE):
    config = tmp_path / "config.yaml"
    config.write_text(
        f"telegram:\n  base_url: {fake.base_url}\n"
        f"dialogues:\n  path: {dialogues}\npacing:\n  typing_delay_ms: 0\n"
        "logging:\n  level: DEBUG\n"
    )
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--config",
        str(config),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    procs.append(proc)
    await fake.wait_for(lambda c: c.method == "getUpdates", timeout=20)
    return proc


async def test_sigterm_finishes_in_flight_updates_and_exits_0_within_10_s(
    tmp_path, child_processes
) -> None:
    async with FakeBotApi() as fake:
        proc = await _start_process(fake, tmp_path, child_processes)
        fake.fail_next("sendMessage", "slow", seconds=2)
        fake.push_update(fake.make_text_update(5005, "/start"))
        await fake.wait_for(lambda c: c.method == "sendMessage", timeout=10)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=12)
        assert proc.returncode == 0, err.decode()
        assert loop.time() - t0 < 10
        assert len(fake.sent_messages(5005, methods={"sendMessage"})) == 3
        logs = err.decode()
        assert "stopped" in logs and fake.token not in logs and "Traceback" not in logs


async def test_sighup_reloads_and_rejects_a_broken_version(tmp_path, child_processes) -> None:
    import shutil

    folder = tmp_path / "d"
    shutil.copytree(EXAMPLE, folder)
    main = folder / "main.yaml"
    async with FakeBotApi() as fake:
        proc = await _start_process(fake, tmp_path, child_processes, folder)
        main.write_text(main.read_text().replace("to: about", "to: abuot"))
        proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(1.5)
        fake.push_update(fake.make_text_update(6006, "/start"))
        await fake.wait_for_messages(6006, 3, timeout=10)  # still serving the old version
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=12)
    logs = err.decode()
    assert proc.returncode == 0
    assert "reload rejected" in logs and "BL011" in logs and "still serving" in logs


async def test_metrics_count_steps_without_personal_data(unused_tcp_port) -> None:
    async with running({"health_port": unused_tcp_port, "health_metrics": True}) as h:
        await h.text(31337, "/start")
        await h.text(31337, "i cant go on")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{unused_tcp_port}/metrics") as response:
                assert response.status == 200
                body = await response.text()
    assert "babyloss_steps_total 2.0" in body
    assert "babyloss_crisis_replies_total 1.0" in body
    assert "babyloss_step_seconds_count 2.0" in body
    assert "31337" not in body and "cant go on" not in body


async def test_metrics_are_off_unless_asked_for(unused_tcp_port) -> None:
    async with running({"health_port": unused_tcp_port}), aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{unused_tcp_port}/metrics") as response:
            assert response.status == 404


def test_stats_command_prints_anonymous_figures(tmp_path) -> None:
    import subprocess

    from bot.dialogue.engine import Session
    from bot.storage.database import Database

    async def fill() -> None:
        db = await Database.open(tmp_path / "bot.sqlite3")
        await db.save(9_876_543_210, Session(node="menu"), "1")
        await db.add_visits([("anniversary_saved", 3), ("menu", 7)])
        await db.close()

    asyncio.run(fill())
    config = tmp_path / "config.yaml"
    config.write_text(
        f"storage:\n  path: {tmp_path / 'bot.sqlite3'}\ndialogues:\n  path: {EXAMPLE}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "stats", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert "Parents who asked to be remembered: 1" in result.stdout
    assert "Paths completed: anniversary chosen 3" in result.stdout
    assert "menu 7" in result.stdout and "9876543210" not in result.stdout


def test_library_logs_of_unparsable_updates_keep_no_parent_data() -> None:
    stream = io.StringIO()
    handler = setup_logging("INFO", "text", secrets=[], stream=stream)
    try:
        logging.getLogger("telegram.ext.ExtBot").critical(
            "Error while parsing updates! Received data was %r",
            [{"message": {"from": {"id": 424242, "first_name": "Zelda"}, "text": "my words"}}],
        )
    finally:
        logging.getLogger().removeHandler(handler)
    logs = stream.getvalue()
    assert "Error while parsing updates!" in logs and "[update data not logged]" in logs
    for secret in ("424242", "Zelda", "my words"):
        assert secret not in logs


def test_freed_memory_is_handed_back_to_the_system_once_a_minute() -> None:
    import platform

    from bot.service.memory import release_free_memory

    # glibc keeps freed heap memory; malloc_trim returns it. Elsewhere it is a no-op.
    assert release_free_memory() is (platform.libc_ver()[0] == "glibc")


def test_housekeeping_includes_handing_memory_back() -> None:
    from bot.dialogue.loader import load_dialogue_dir
    from bot.service.config import Config
    from bot.telegram.adapter import BabylossBot

    dialogue = load_dialogue_dir(EXAMPLE).dialogue
    config = Config(token="123:abc", dialogues_path=EXAMPLE, source="test")
    service = BabylossBot(config, dialogue)
    app = service.build_application()
    service.schedule_housekeeping(app)
    jobs = app.job_queue.get_jobs_by_name("release-memory")
    assert len(jobs) == 1 and jobs[0].job.trigger.interval.total_seconds() == 60
