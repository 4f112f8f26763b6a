"""Checks that check: --check tries what run will do with the database, says it has not
contacted Telegram (and --online does), and stats/backup say plainly what is wrong."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.fakes.bot_api import FakeBotApi
from tests.service_harness import EXAMPLE


def bot(*args: str, token: str | None = "123:abc") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    if token:
        env["TELEGRAM_BOT_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip


def config(tmp_path: Path, storage: str, base_url: str = "https://api.telegram.org/bot") -> str:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"telegram:\n  base_url: {base_url}\n"
        f"dialogues:\n  path: {EXAMPLE}\nstorage:\n  path: {storage}\n"
    )
    return str(path)


@pytest.mark.parametrize("storage", ["/etc/passwd/bot.sqlite3", "/proc/nope/bot.sqlite3"])
def test_check_fails_for_a_database_run_could_not_create(tmp_path, storage) -> None:
    result = bot("run", "--config", config(tmp_path, storage), "--check")
    assert result.returncode == 1, result.stdout
    assert "check failed" in result.stdout and "check passed" not in result.stdout
    assert f"error: {storage}: cannot create the database" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_check_tries_the_new_folder_and_file_and_leaves_nothing_behind(tmp_path) -> None:
    storage = tmp_path / "new" / "deeper" / "bot.sqlite3"
    result = bot("run", "--config", config(tmp_path, str(storage)), "--check")
    assert result.returncode == 0, result.stdout
    assert f"database: {storage} will be created on first start" in result.stdout
    assert "(folder created then)" in result.stdout
    assert not (tmp_path / "new").exists()


def test_check_says_it_did_not_contact_telegram(tmp_path) -> None:
    result = bot("run", "--config", config(tmp_path, str(tmp_path / "b.sqlite3")), "--check")
    assert result.returncode == 0, result.stdout
    assert "telegram: not contacted (add --online to check the token with getMe)" in result.stdout


async def _check_online(tmp_path: Path, base_url: str, token: str) -> subprocess.CompletedProcess:
    cfg = config(tmp_path, str(tmp_path / "b.sqlite3"), base_url)
    return await asyncio.to_thread(bot, "run", "--config", cfg, "--check", "--online", token=token)


async def test_check_online_reports_the_bot_username(tmp_path) -> None:
    async with FakeBotApi() as fake:
        result = await _check_online(tmp_path, fake.base_url, fake.token)
        assert [c.method for c in fake.calls] == ["getMe"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "telegram: ok, the token belongs to @fake_test_bot" in result.stdout


async def test_check_online_reports_a_rejected_token(tmp_path) -> None:
    async with FakeBotApi() as fake:
        result = await _check_online(tmp_path, fake.base_url, "999:WrongTokenWrongToken")
    assert result.returncode == 1
    assert "error: Telegram rejected the bot token" in result.stdout
    assert "WrongToken" not in result.stdout + result.stderr


async def test_check_online_reports_an_unreachable_telegram(tmp_path) -> None:
    from tests.test_startup import closed_port

    result = await _check_online(tmp_path, f"http://127.0.0.1:{closed_port()}/bot", "1:abc")
    assert result.returncode == 1
    assert "error: Telegram could not be reached" in result.stdout
    assert "check failed" in result.stdout


def test_stats_on_a_missing_database_says_so(tmp_path) -> None:
    result = bot("stats", "--config", config(tmp_path, str(tmp_path / "none.sqlite3")))
    assert result.returncode == 1
    assert f"no database yet at {tmp_path / 'none.sqlite3'}" in result.stderr
    assert "Parents who asked" not in result.stdout


def test_backup_into_a_missing_folder_is_a_clear_message(tmp_path) -> None:
    import sqlite3

    db = tmp_path / "b.sqlite3"
    sqlite3.connect(db).close()
    cfg = config(tmp_path, str(db))
    result = bot("backup", str(tmp_path / "nope" / "copy.sqlite3"), "--config", cfg)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"Backup failed: {tmp_path / 'nope'}: no such folder" in result.stderr


def test_run_creates_missing_folders_with_the_file_private(tmp_path) -> None:
    from bot.storage.database import Database

    async def open_close() -> None:
        db = await Database.open(tmp_path / "a" / "b.sqlite3")
        await db.close()

    asyncio.run(open_close())
    assert stat.S_IMODE((tmp_path / "a" / "b.sqlite3").stat().st_mode) == 0o600


def test_check_warns_about_a_database_others_can_read(tmp_path) -> None:
    from bot.storage.database import Database, inspect_database

    async def create() -> None:
        await (await Database.open(tmp_path / "b.sqlite3")).close()

    asyncio.run(create())
    assert "warning" not in inspect_database(tmp_path / "b.sqlite3")
    (tmp_path / "b.sqlite3").chmod(0o644)
    assert "warning: other users may read it (mode 644)" in inspect_database(tmp_path / "b.sqlite3")
