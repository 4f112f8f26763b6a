"""Opt-in memory end to end: a real Application, the stand-in Bot API and real SQLite files."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.fakes.bot_api import FakeBotApi
from tests.service_harness import EXAMPLE, Harness, make_config
from tests.test_storage import id_patterns, raw_bytes

PARENT = 6_120_334_871
CONSENT_NODES = """  consent:
    messages:
      - en: "Shall I remember where you are, so you can carry on another day?"
        cy: "Gaf i gofio ble rydych chi?"
    options:
      - label: {en: "Yes, remember me", cy: "Ie"}
        to: menu
        set: {remember: "yes"}
      - label: {en: "No, thank you", cy: "Na"}
        to: menu
        set: {remember: "no"}
"""


def consent_dialogue(folder: Path, privacy_version: str = "1") -> Path:
    shutil.copytree(EXAMPLE, folder, dirs_exist_ok=True)
    main = folder / "main.yaml"
    text = main.read_text()
    text = text.replace("  crisis: crisis      #", "  consent: consent\n  crisis: crisis      #")
    text = text.replace(
        "  default_region: uk\n", f'  default_region: uk\n  privacy_version: "{privacy_version}"\n'
    )
    text = text.replace(
        '      - label: {en: "About this bot", cy: "Am y bot hwn"}\n',
        '      - label: {en: "Remember me", cy: "Cofia fi"}\n'
        "        to: consent\n"
        '      - label: {en: "About this bot", cy: "Am y bot hwn"}\n',
    )
    text = text.replace("nodes:\n", "nodes:\n" + CONSENT_NODES, 1)
    main.write_text(text)
    return folder


def texts(calls):
    return [c.params["text"] for c in calls]


async def opt_in(h, user: int = PARENT, who: str = "I carried my baby") -> None:
    """Start, say who they are, and say yes to being remembered."""
    for press in (None, who, "Remember me", "Yes, remember me"):
        await (h.text(user, "/start") if press is None else h.press(user, press))


@pytest.fixture
def dialogue_dir(tmp_path: Path) -> Path:
    return consent_dialogue(tmp_path / "dialogue")


async def test_without_consent_nothing_identifying_reaches_the_disk(tmp_path, dialogue_dir):
    db_path = tmp_path / "bot.sqlite3"
    async with FakeBotApi() as fake:
        config = make_config(fake, dialogue_dir, storage_path=db_path)
        async with Harness(fake, config, storage=True) as h:
            await h.text(PARENT, "/start")
            await h.press(PARENT, "I'm a partner")
            await h.text(PARENT, "tangerine umbrella who made this")
            await h.press(PARENT, "Back to the menu")
            await h.press(PARENT, "Remember me")
            await h.press(PARENT, "No, thank you")
            await h.service.flush_visits()
            assert await h.db.visits()  # anonymous counts are kept
    data = raw_bytes(db_path)
    assert b"tangerine" not in data and b"partner" not in data
    for pattern in id_patterns(PARENT):
        assert pattern not in data


async def test_consent_survives_a_restart_and_resuming_lands_on_the_right_node(
    tmp_path, dialogue_dir
):
    db_path = tmp_path / "bot.sqlite3"
    async with FakeBotApi() as fake:
        config = make_config(fake, dialogue_dir, storage_path=db_path)
        async with Harness(fake, config, storage=True) as h:
            await opt_in(h, PARENT, "I'm a partner")
            await h.press(PARENT, "About this bot")
        conn = sqlite3.connect(db_path)
        assert conn.execute("SELECT count(*) FROM parents").fetchone() == (1,)
        conn.close()
        async with Harness(fake, config, storage=True) as h:  # the bot restarted
            calls = await h.text(PARENT, "hello again")
            assert texts(calls) == [
                "Welcome back. Would you like to carry on where you left off, or start afresh?"
            ]
            calls = await h.press(PARENT, "Carry on where I left off")
            assert any("This is an example" in t for t in texts(calls))
            assert (await h.service.sessions.get(PARENT)).variables["relationship"] == "partner"
            # /start also offers the choice; starting afresh keeps the consent.
            await h.service.sessions.memory.forget(PARENT)
            calls = await h.text(PARENT, "/start")
            assert texts(calls)[0].startswith("Welcome back")
            calls = await h.press(PARENT, "Start afresh")
            assert texts(calls)[0].startswith("Content note")
            assert (await h.db.load(PARENT)).session.variables["remember"] == "yes"


async def test_risk_language_from_a_returning_parent_gets_the_crisis_reply_first(
    tmp_path, dialogue_dir
):
    db_path = tmp_path / "bot.sqlite3"
    async with FakeBotApi() as fake:
        config = make_config(fake, dialogue_dir, storage_path=db_path)
        async with Harness(fake, config, storage=True) as h:
            await opt_in(h)
        async with Harness(fake, config, storage=True) as h:
            calls = await h.text(PARENT, "i cant go on")
            assert any("116 123" in t for t in texts(calls))


async def test_a_changed_privacy_text_asks_for_consent_again(tmp_path, dialogue_dir):
    db_path = tmp_path / "bot.sqlite3"
    async with FakeBotApi() as fake:
        config = make_config(fake, dialogue_dir, storage_path=db_path)
        async with Harness(fake, config, storage=True) as h:
            await opt_in(h)
        consent_dialogue(dialogue_dir, privacy_version="2")
        async with Harness(fake, config, storage=True) as h:
            calls = await h.text(PARENT, "hi")
            assert texts(calls)[0].startswith("Shall I remember where you are")
            await h.press(PARENT, "Yes, remember me")
            assert (await h.db.load(PARENT)).privacy_version == "2"


async def test_mydata_sends_everything_kept_as_a_json_file(tmp_path, dialogue_dir):
    async with FakeBotApi() as fake:
        config = make_config(fake, dialogue_dir, storage_path=tmp_path / "bot.sqlite3")
        async with Harness(fake, config, storage=True) as h:
            await opt_in(h, PARENT, "I'm a partner")
            since = len(fake.calls)
            fake.push_update(fake.make_text_update(PARENT, "/mydata"))
            call = await fake.wait_for(lambda c: c.method == "sendDocument", since=since)
            upload = next(iter(call.files.values()))
            assert upload.filename == "mydata.json"
            data = json.loads(upload.data)
            assert data["telegram_user_id"] == PARENT
            assert data["your_choices"]["relationship"] == "partner"
            assert data["your_choices"]["remember"] == "yes"
            assert "Send /forget" in call.params["caption"]


async def test_forget_asks_then_deletes_every_trace_and_offers_to_clear_the_chat(
    tmp_path, dialogue_dir
):
    db_path = tmp_path / "bot.sqlite3"
    async with FakeBotApi() as fake:
        config = make_config(fake, dialogue_dir, storage_path=db_path)
        async with Harness(fake, config, storage=True) as h:
            await opt_in(h, PARENT, "I'm a partner")
            assert any(p in raw_bytes(db_path) for p in id_patterns(PARENT)) or await h.db.load(
                PARENT
            )
            await h.text(PARENT, "/forget")
            calls = await h.press(PARENT, "No, keep it", until_buttons=False)
            assert texts(calls) == ["All right, nothing has been deleted."]
            assert await h.db.load(PARENT) is not None
            await h.text(PARENT, "/forget")
            calls = await h.press(PARENT, "Yes, delete it all")
            assert texts(calls)[0].startswith("Done: I've deleted everything")
            assert "last 48 hours" in texts(calls)[1]
            assert await h.db.load(PARENT) is None
            data = raw_bytes(db_path)
            assert b"partner" not in data
            for pattern in id_patterns(PARENT):
                assert pattern not in data
            await h.press(PARENT, "Delete recent messages", until_buttons=False)
            deleted = [i for c in fake.calls_to("deleteMessages") for i in c.params["message_ids"]]
            # Every message of the chat, the parent's and the bot's, from the very first.
            assert deleted == list(range(1, len(deleted) + 1)) and len(deleted) >= 8


async def test_saying_no_after_yes_deletes_what_was_kept(tmp_path, dialogue_dir):
    async with FakeBotApi() as fake:
        config = make_config(fake, dialogue_dir, storage_path=tmp_path / "bot.sqlite3")
        async with Harness(fake, config, storage=True) as h:
            await opt_in(h)
            assert await h.db.load(PARENT) is not None
            await h.press(PARENT, "Remember me")
            await h.press(PARENT, "No, thank you")
            assert await h.db.load(PARENT) is None


async def test_kill_9_during_a_burst_loses_no_step_a_parent_has_seen(
    tmp_path, dialogue_dir, child_processes
):
    db_path = tmp_path / "bot.sqlite3"
    config_file = tmp_path / "config.yaml"
    parents = [9_000_000 + i for i in range(30)]
    async with FakeBotApi() as fake:
        config_file.write_text(
            f"telegram:\n  base_url: {fake.base_url}\n  max_messages_per_second: 1000\n"
            f"dialogues:\n  path: {dialogue_dir}\nstorage:\n  path: {db_path}\n"
            "pacing:\n  typing_delay_ms: 0\nlogging:\n  level: WARNING\n"
        )
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "PYTHONPATH": str(ROOT)}

        async def start():
            log_file = (tmp_path / "bot.log").open("ab")  # a pipe nobody reads could fill up
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                "--config",
                str(config_file),
                env=env,
                stderr=log_file,
            )
            log_file.close()
            child_processes.append(proc)
            since = len(fake.calls)
            await fake.wait_for(lambda c: c.method == "getUpdates", timeout=20, since=since)
            return proc

        proc = await start()
        # Everyone opts in first.
        for user in parents:
            for update in (fake.make_text_update(user, "/start"),):
                fake.push_update(update)
        await asyncio.sleep(0)
        seen: dict[int, str] = {}

        def last_keyboard(user):
            for call in reversed(fake.calls):
                if (
                    call.method == "sendMessage"
                    and call.ok
                    and str(call.chat_id) == str(user)
                    and call.params.get("reply_markup")
                ):
                    return call
            return None

        async def walk(user: int, labels: list[str]) -> None:
            """Press each label in turn, waiting for the bot's answer to each press."""
            for label in labels:
                call = None
                for _ in range(500):
                    call = last_keyboard(user)
                    if call and label in [
                        r[0]["text"] for r in call.params["reply_markup"]["inline_keyboard"]
                    ]:
                        break
                    await asyncio.sleep(0.02)
                rows = call.params["reply_markup"]["inline_keyboard"]
                data = next(r[0]["callback_data"] for r in rows if r[0]["text"] == label)
                fake.push_update(fake.make_callback_update(user, data, call.result["message_id"]))
                before = call.result["message_id"]
                for _ in range(500):
                    newer = last_keyboard(user)
                    if newer and newer.result["message_id"] > before:
                        break
                    await asyncio.sleep(0.02)
                else:
                    raise AssertionError(f"no answer to {label!r} for {user}")

        await asyncio.gather(
            *(walk(u, ["I'm a partner", "Remember me", "Yes, remember me"]) for u in parents)
        )
        # A burst of steps from everyone, then kill -9 in the middle of it.
        for round_ in range(6):
            for user in parents:
                call = last_keyboard(user)
                if call is None:
                    continue
                rows = [
                    r
                    for r in call.params["reply_markup"]["inline_keyboard"]
                    if r[0]["text"] not in ("Remember me", "No, thank you")
                ]  # keep consent
                fake.push_update(
                    fake.make_callback_update(
                        user,
                        rows[round_ % len(rows)][0]["callback_data"],
                        call.result["message_id"],
                    )
                )
            await asyncio.sleep(0.05)
        proc.kill()
        await proc.wait()
        for user in parents:
            call = last_keyboard(user)
            seen[user] = call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        conn = sqlite3.connect(db_path)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.close()
        # Presses the killed bot never answered would be handed to the restarted one, which
        # would move parents on past what they saw before it stops: not what this measures.
        fake.drop_pending_updates()
        # Restart on the same file: it opens cleanly and every parent who opted in is there.
        proc = await start()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=15)
        assert proc.returncode == 0
    from bot.storage.database import Database

    db = await Database.open(db_path)
    try:
        lost = []
        for user in parents:
            stored = await db.load(user)
            node_seen = seen[user].split("|")[0]  # the node whose buttons the parent last saw
            if (
                stored is None
                or stored.session.node != node_seen
                and node_seen not in stored.session.history[-1:]
            ):
                lost.append((user, node_seen, stored.session.node if stored else None))
        assert lost == []
    finally:
        await db.close()


# -- The baby's name: the one thing typed that is kept ----------------------------------
NAME_NODES = """  name_ask:
    messages:
      - "What is your baby's name?"
    options:
      - label: "Back to the menu"
        to: menu
    free_text:
      capture: {variable: baby_name, kind: name, then: name_thanks, lead_ins: [her name was]}
      fallback: menu
  name_thanks:
    messages:
      - "Thank you for telling me about {baby_name|your baby}."
    options:
      - label: "Back to the menu"
        to: menu
"""


def name_dialogue(folder: Path) -> Path:
    consent_dialogue(folder)
    main = folder / "main.yaml"
    text = main.read_text().replace("nodes:\n", "nodes:\n" + NAME_NODES, 1)
    text = text.replace(
        '      - label: {en: "Remember me", cy: "Cofia fi"}\n',
        '      - label: "Tell you my baby\'s name"\n'
        "        to: name_ask\n"
        '      - label: {en: "Remember me", cy: "Cofia fi"}\n',
    )
    main.write_text(text)
    return folder


async def tell_name(h, name: str, user: int = PARENT) -> list:
    await h.press(user, "Tell you my baby's name")
    return await h.text(user, name)


async def test_a_name_told_without_consent_stays_in_memory_is_shown_and_forgotten(tmp_path, caplog):
    caplog.set_level("DEBUG")
    dialogue_dir = name_dialogue(tmp_path / "dialogue")
    db_path = tmp_path / "bot.sqlite3"
    async with FakeBotApi() as fake:
        config = make_config(fake, dialogue_dir, storage_path=db_path)
        async with Harness(fake, config, storage=True) as h:
            await h.text(PARENT, "/start")
            await h.press(PARENT, "I carried my baby")
            calls = await tell_name(h, "her name was <b>Rose</b> & Lily")
            # Markup stripped and the reply's HTML safe; twins read naturally.
            assert "Thank you for telling me about Rose and Lily." in texts(calls)
            assert not any("<b>Rose" in t for t in texts(calls))
            calls = await h.text(PARENT, "/mydata", until_buttons=False)
            said = texts(calls)
            assert said[0].startswith("I'm not keeping anything about you")
            assert "the name you told me: Rose and Lily" in said[1]
            await h.text(PARENT, "/forget")
            await h.press(PARENT, "Yes, delete it all")
            assert await h.service.sessions.get(PARENT) is None
            calls = await h.text(PARENT, "/mydata", until_buttons=False)
            assert not any("Rose" in t for t in texts(calls))
    assert b"Rose" not in raw_bytes(db_path)
    # Never logged by the bot, at any level (the service keeps third-party libraries'
    # debug output, which echoes updates, out of its logs).
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("babyloss")]
    assert ours and not any("Rose" in m for m in ours)


async def test_a_remembered_parent_s_name_is_stored_shown_by_mydata_and_erased(tmp_path):
    dialogue_dir = name_dialogue(tmp_path / "dialogue")
    db_path = tmp_path / "bot.sqlite3"
    async with FakeBotApi() as fake:
        config = make_config(fake, dialogue_dir, storage_path=db_path)
        async with Harness(fake, config, storage=True) as h:
            await opt_in(h)
            await h.text(PARENT, "/menu")
            await tell_name(h, "Hope")
            assert (await h.db.load(PARENT)).session.variables["baby_name"] == "Hope"
            since = len(fake.calls)
            fake.push_update(fake.make_text_update(PARENT, "/mydata"))
            call = await fake.wait_for(lambda c: c.method == "sendDocument", since=since)
            data = json.loads(next(iter(call.files.values())).data)
            assert data["your_choices"]["baby_name"] == "Hope"
            await h.text(PARENT, "/forget")
            await h.press(PARENT, "Yes, delete it all")
            assert await h.db.load(PARENT) is None
    assert b"Hope" not in raw_bytes(db_path)
