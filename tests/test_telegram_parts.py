"""The adapter's collaborators, each built alone with what it uses (no BabylossBot): the
Sender, ParentData, ReminderMessages and Admin, talking to the stand-in Bot API through a
real python-telegram-bot ``Bot``, with real sessions (and a real SQLite file where kept)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace

import pytest
from telegram import Bot, Update
from telegram.error import BadRequest

from bot.dialogue import engine
from bot.dialogue.engine import Button
from bot.storage.database import Database
from bot.storage.parents import ParentSessions
from bot.storage.sessions import MemorySessions
from bot.telegram.admin import Admin
from bot.telegram.parent_data import FORGET, KEEP, WIPE, ParentData
from bot.telegram.reminder_messages import STOP_PREFIX, ReminderMessages
from bot.telegram.sending import RETRY_DELAYS, Sender, StopSending
from tests.fakes.bot_api import FakeBotApi

PARENT = 5151


@contextlib.asynccontextmanager
async def sender_for(fake: FakeBotApi):
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)

    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        sender = Sender(lambda: bot, sleep=nap)
        sender.naps = naps
        yield sender


def update(fake: FakeBotApi, sender: Sender, text: str = "hi", first_name: str = "Sam"):
    payload = {"update_id": 1, **fake.make_text_update(PARENT, text, first_name)}
    return Update.de_json(payload, sender.bot)


def keyboard(params) -> list[str]:
    markup = params.get("reply_markup") or {}
    return [row[0]["callback_data"] for row in markup.get("inline_keyboard", [])]


# -- Sender -----------------------------------------------------------------------------
async def test_the_sender_sends_html_with_one_button_a_row_and_tidies_used_buttons():
    async with FakeBotApi() as fake, sender_for(fake) as sender:
        message = await sender.send(PARENT, "<b>Hello</b>", (Button("A", "a"), Button("B", "b")))
        [sent] = fake.sent_messages(PARENT)
        assert sent["parse_mode"] == "HTML" and keyboard(sent) == ["a", "b"]
        sender.keyboards[PARENT] = message.message_id
        tidying = sender.tidy_in_background(PARENT)
        await tidying
        assert PARENT not in sender.keyboards
        [edit] = fake.calls_to("editMessageReplyMarkup")
        assert edit.ok and edit.params["message_id"] == message.message_id
        assert sender.tidy_in_background(PARENT) is None  # nothing left to tidy


async def test_the_sender_retries_transient_failures_then_gives_up():
    async with FakeBotApi() as fake, sender_for(fake) as sender:
        fake.fail_next("sendMessage", "5xx", count=2)
        assert await sender.send(PARENT, "after two failures") is not None
        assert sender.naps == list(RETRY_DELAYS[:2])
        fake.fail_next("sendMessage", "5xx", count=len(RETRY_DELAYS) + 1)
        with pytest.raises(Exception) as raised:
            await sender.send(PARENT, "never")
        assert not isinstance(raised.value, StopSending)
        fake.fail_next("sendMessage", "not_modified")
        assert await sender.send(PARENT, "same again") is None  # not an error
        fake.fail_next("sendMessage", "bad_request")
        with pytest.raises(BadRequest):  # any other bad request reaches the caller
            await sender.send(PARENT, "broken")


async def test_a_blocked_parent_stops_the_sends_until_they_write_again():
    async with FakeBotApi() as fake, sender_for(fake) as sender:
        sender.keyboards[PARENT] = 1
        fake.block_user(PARENT)
        with pytest.raises(StopSending):
            await sender.send(PARENT, "one")
        assert PARENT in sender.blocked and PARENT not in sender.keyboards
        calls = len(fake.calls)
        await sender.send_quietly(PARENT, "two")  # no error, and no request at all
        with pytest.raises(StopSending):
            await sender.typing(PARENT)
        assert len(fake.calls) == calls
        fake.unblock_user(PARENT)
        sender.mark_unblocked(PARENT)
        await sender.send_quietly(PARENT, "three")
        assert [m["text"] for m in fake.sent_messages(PARENT)] == ["three"]


async def test_the_sender_uploads_documents_and_deletes_in_hundreds():
    async with FakeBotApi() as fake, sender_for(fake) as sender:
        await sender.send_document(PARENT, b'{"a": 1}', "mydata.json", "Yours")
        [upload] = fake.calls_to("sendDocument")
        assert upload.ok and upload.params["caption"] == "Yours"
        assert upload.files["document"].data == b'{"a": 1}'
        ids = [(await sender.send(PARENT, f"m{i}")).message_id for i in range(3)]
        await sender.delete(PARENT, ids * 70)  # 210 ids: three requests
        assert [len(c.params["message_ids"]) for c in fake.calls_to("deleteMessages")] == [
            100,
            100,
            10,
        ]


# -- ParentData ---------------------------------------------------------------------------
def system_text(dialogue):
    lang = dialogue.settings.default_language
    return lambda key: dialogue.system(key).pick(lang, lang)


async def test_parent_data_without_storage_has_nothing_to_send(example_dialogue):
    async with FakeBotApi() as fake, sender_for(fake) as sender:
        sessions = ParentSessions(MemorySessions(3600), None)
        data = ParentData(
            sessions, sender, system_text(example_dialogue), lambda: example_dialogue
        )
        await data.send_my_data(update(fake, sender, "/mydata"))
        [said] = fake.sent_messages(PARENT)
        assert said["text"] == system_text(example_dialogue)("nothing_stored")
        assert fake.calls_to("sendDocument") == []


async def test_parent_data_sends_what_is_kept_and_forgets_it_on_request(
    example_dialogue, tmp_path
):
    d = example_dialogue
    text = system_text(d)
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        async with FakeBotApi() as fake, sender_for(fake) as sender:
            sessions = ParentSessions(MemorySessions(3600), db)
            kept = replace(engine.new_session(d), variables={"remember": "yes", "region": "uk"})
            await sessions.put(PARENT, kept)
            data = ParentData(sessions, sender, text, lambda: d)

            await data.send_my_data(update(fake, sender, "/mydata"))
            [upload] = fake.calls_to("sendDocument")
            exported = json.loads(upload.files["document"].data)
            assert exported["your_choices"]["region"] == "uk"
            assert exported["telegram_user_id"] == PARENT

            data.note_message(PARENT, update(fake, sender).effective_message)
            await data.ask_to_forget(update(fake, sender, "/forget"))
            assert keyboard(fake.sent_messages(PARENT)[-1]) == [FORGET, KEEP]

            await data.on_forget_button(update(fake, sender), KEEP)
            assert fake.sent_messages(PARENT)[-1]["text"] == text("kept")
            assert await db.load(PARENT) is not None

            await data.ask_to_forget(update(fake, sender, "/forget"))
            await data.on_forget_button(update(fake, sender), FORGET)
            assert await db.load(PARENT) is None and await sessions.get(PARENT) is None
            assert keyboard(fake.sent_messages(PARENT)[-1]) == [WIPE]

            await data.on_forget_button(update(fake, sender), WIPE)
            [deleted] = fake.calls_to("deleteMessages")
            assert len(deleted.params["message_ids"]) == 1  # the one message noted
            assert fake.sent_messages(PARENT)[-1]["text"] == text("wiped")
    finally:
        await db.close()


# -- ReminderMessages ---------------------------------------------------------------------
async def test_a_reminder_ends_with_stop_these_which_switches_that_kind_off(example_dialogue):
    d = example_dialogue
    async with FakeBotApi() as fake, sender_for(fake) as sender:
        sessions = ParentSessions(MemorySessions(3600), None)
        messages = ReminderMessages(sessions, sender, lambda: d, system_text(d))
        session = replace(engine.new_session(d), variables={"remind_anniversary": "yes"})
        assert await messages.send_reminder(PARENT, session, "anniversary") == "sent"
        assert keyboard(fake.sent_messages(PARENT)[-1])[-1] == STOP_PREFIX + "anniversary"
        assert await messages.send_reminder(PARENT, session, "wave_of_light") == "failed"

        await messages.stop_reminders(update(fake, sender), "anniversary")
        stopped = await sessions.get(PARENT)
        assert stopped.variables["remind_anniversary"] == "no"
        assert fake.sent_messages(PARENT)[-1]["text"] == system_text(d)("reminders_stopped")

        fake.block_user(PARENT)
        assert await messages.send_reminder(PARENT, session, "anniversary") == "blocked"


# -- Admin --------------------------------------------------------------------------------
async def test_admin_commands_use_only_what_they_are_given(example_dialogue):
    d = example_dialogue
    shown = []

    async def show(chat_id, result, *, remember_keyboard=True):
        shown.append((chat_id, result, remember_keyboard))

    async def figures() -> str:
        return "3 parents <remembered>"

    async with FakeBotApi() as fake, sender_for(fake) as sender:
        admin = Admin(
            sender,
            dialogue=lambda: d,
            reload=lambda: (True, "Dialogues reloaded"),
            figures=figures,
            show=show,
        )
        await admin.on_admin(update(fake, sender, "/reload"), None, "reload", "")
        await admin.on_admin(update(fake, sender, "/stats"), None, "stats", "")
        await admin.on_admin(update(fake, sender, "/preview welcom"), None, "preview", "welcom")
        texts = [m["text"] for m in fake.sent_messages(PARENT)]
        assert texts[:2] == ["Dialogues reloaded", "3 parents &lt;remembered&gt;"]
        assert texts[2].startswith("No node 'welcom'.") and "welcome" in texts[2]

        ana = update(fake, sender, "/preview welcome", "Ana")
        await admin.on_admin(ana, None, "preview", "welcome")
        [(chat_id, result, remember)] = shown
        assert chat_id == PARENT and result.session.node == "welcome" and remember is False
        assert any("Ana" in r.text for r in result.replies)  # the admin's own first name



# -- The adapter reads the engine's decision ------------------------------------------------
async def test_the_adapter_acts_on_an_edit_only_when_the_engine_found_risk_language():
    from tests.service_harness import running

    async with running() as h:
        await h.text(PARENT, "/start")
        stats = h.service.stats
        before = (stats.updates, stats.steps)
        h.fake.push_update(h.fake.make_edited_message_update(PARENT, "a typo fixed"))
        h.fake.push_update(h.fake.make_edited_message_update(PARENT, ""))
        # The same parent's updates are handled in order: once /menu is answered, the
        # edits before it have been handled too.
        sent = await h.text(PARENT, "/menu")
        assert (stats.updates, stats.steps) == (before[0] + 1, before[1] + 1)
        assert len([c for c in sent if c.params.get("reply_markup")]) == 1  # only the menu
        crisis = await h.step(h.fake.make_edited_message_update(PARENT, "I can't go on"))
        assert any("116 123" in (c.text or "") for c in crisis) and stats.crisis == 1
