"""The Telegram service end to end: a real Application against the stand-in Bot API."""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest

from bot.service.config import WebhookConfig
from tests.fakes.bot_api import FakeBotApi
from tests.service_harness import EXAMPLE, TRANSPORT, Harness, make_config, running

PARENT = 1001


@pytest.fixture(autouse=True, params=["aiohttp", "httpx"])
def transport(request, monkeypatch):
    """Every test here runs over both HTTP transports: ours and python-telegram-bot's."""
    monkeypatch.setitem(TRANSPORT, "name", request.param)
    return request.param


def texts(calls):
    return [c.params["text"] for c in calls]


async def test_start_sends_note_messages_and_a_keyboard_and_registers_commands():
    async with running() as h:
        calls = await h.text(PARENT, "/start")
        sent = texts(calls)
        assert sent[0].startswith("Content note")
        assert sent[1].startswith("Hello Sam. I'm an <b>automated</b> companion")
        assert all(c.params["parse_mode"] == "HTML" for c in calls)
        assert all(c.params["link_preview_options"]["is_disabled"] for c in calls)
        _, buttons = h.last_keyboard(PARENT)
        assert [label for label, _ in buttons] == [
            "I carried my baby",
            "I'm a partner",
            "Not today",
        ]
        commands = h.fake.calls_to("setMyCommands")[0].params["commands"]
        assert [c["command"] for c in commands] == [
            "start",
            "menu",
            "help",
            "pause",
            "support",
            "privacy",
            "mydata",
            "forget",
            "language",
        ]


async def test_a_press_is_answered_and_the_used_keyboard_removed():
    async with running() as h:
        await h.text(PARENT, "/start")
        old_id, _ = h.last_keyboard(PARENT)
        calls = await h.press(PARENT, "I'm a partner")
        assert any("Partners are often forgotten" in t for t in texts(calls))
        assert len(h.fake.calls_to("answerCallbackQuery")) == 1
        edits = h.fake.calls_to("editMessageReplyMarkup")
        assert [(e.params["message_id"], e.params.get("reply_markup")) for e in edits] == [
            (old_id, None)
        ]


async def test_the_used_keyboard_is_removed_alongside_the_answer_not_before_it():
    async with running() as h:
        await h.text(PARENT, "/start")
        h.fake.fail_next("editMessageReplyMarkup", "slow", seconds=2.0)
        started = time.monotonic()
        calls = await h.press(PARENT, "I'm a partner")
        # The answer arrived while the slow edit was still in flight.
        assert time.monotonic() - started < 1.5
        assert any("Partners are often forgotten" in t for t in texts(calls))
        await h.fake.wait_for(lambda c: c.method == "editMessageReplyMarkup" and c.ok, 5)


async def test_a_keyboard_that_cannot_be_removed_does_not_stop_the_answer(monkeypatch):
    monkeypatch.setattr("bot.telegram.sending.RETRY_DELAYS", (0.01, 0.01))  # give up soon
    async with running() as h:
        await h.text(PARENT, "/start")
        h.fake.fail_next("editMessageReplyMarkup", "5xx", count=10)
        calls = await h.press(PARENT, "I'm a partner")
        assert any("Partners are often forgotten" in t for t in texts(calls))
        assert h.service.stats.errors == 0


async def test_stale_and_forged_buttons_get_a_gentle_note():
    async with running() as h:
        await h.text(PARENT, "/start")
        message_id, _ = h.last_keyboard(PARENT)
        calls = await h.step(h.fake.make_callback_update(PARENT, "forged|0|dead", message_id))
        assert "conversation, which has moved on" in texts(calls)[0]
        assert len(h.fake.calls_to("answerCallbackQuery")) == 1


async def test_non_text_messages_get_a_kind_reply_with_the_buttons():
    async with running() as h:
        await h.text(PARENT, "/start")
        for update in (
            h.fake.make_sticker_update(PARENT),
            h.fake.make_photo_update(PARENT),
            h.fake.make_voice_update(PARENT),
        ):
            calls = await h.step(update)
            assert texts(calls)[0].startswith("Thank you for sending that.")
            assert calls[0].params["reply_markup"]["inline_keyboard"]


async def test_group_chats_are_told_the_bot_is_private_only():
    async with running() as h:
        calls = await h.step(
            h.fake.make_text_update(PARENT, "/start", chat_type="group", chat_id=-500),
            until_buttons=False,
        )
        assert "only talk in private chats" in texts(calls)[0]
        assert str(calls[0].chat_id) == "-500"


async def test_risk_language_gets_the_crisis_reply_at_once():
    async with running() as h:
        await h.text(PARENT, "/start")
        calls = await h.text(PARENT, "honestly i cant go on")
        assert any("116 123" in t for t in texts(calls))
        assert h.service.stats.crisis == 1


async def test_a_risky_photo_caption_or_edit_also_gets_the_crisis_reply():
    async with running() as h:
        await h.text(PARENT, "/start")
        calls = await h.step(h.fake.make_photo_update(PARENT, caption="i want to die"))
        assert any("116 123" in t for t in texts(calls))
        calls = await h.step(h.fake.make_edited_message_update(PARENT, "I can't go on"))
        assert any("116 123" in t for t in texts(calls))


async def test_commands_reach_the_engine_and_unknown_ones_are_explained():
    async with running() as h:
        await h.text(PARENT, "/start")
        assert any("If your life is at risk" in t for t in texts(await h.text(PARENT, "/support")))
        assert any("That's alright" in t for t in texts(await h.text(PARENT, "/pause")))
        unknown = await h.text(PARENT, "/dance")
        assert "I don't know that command" in texts(unknown)[0]
        # Admin commands do not exist for anyone who is not an admin.
        assert "I don't know that command" in texts(await h.text(PARENT, "/reload"))[0]


async def test_mydata_and_forget_without_consent():
    async with running() as h:
        await h.text(PARENT, "/start")
        calls = await h.text(PARENT, "/mydata", until_buttons=False)
        assert "I'm not keeping anything about you" in texts(calls)[0]
        assert len(h.service.sessions) == 1
        calls = await h.text(PARENT, "/forget")
        assert texts(calls)[0].startswith("Shall I delete everything")
        calls = await h.press(PARENT, "Yes, delete it all")
        assert texts(calls)[0].startswith("Done: I've deleted everything")
        assert len(h.service.sessions) == 0


async def test_rate_limits_are_honoured_and_server_errors_retried():
    async with running() as h:
        h.fake.fail_next("sendMessage", "429", retry_after=1)
        h.fake.fail_next("sendChatAction", "5xx")
        calls = await h.text(PARENT, "/start", timeout=10)
        assert len(calls) == 3  # note + two messages, each exactly once
        assert [c.fault for c in h.fake.calls_to("sendMessage")][0] == "429"
        h.fake.fail_next("sendMessage", "5xx", count=2)
        calls = await h.press(PARENT, "I'm a partner", timeout=10)
        assert any("Partners are often forgotten" in t for t in texts(calls))


async def test_a_parent_who_blocked_the_bot_is_not_written_to_again_and_others_are_served():
    async with running() as h:
        await h.text(PARENT, "/start")
        h.fake.block_user(PARENT)
        before = len(h.fake.calls)
        message_id, buttons = h.last_keyboard(PARENT)
        h.fake.push_update(h.fake.make_callback_update(PARENT, buttons[0][1], message_id))
        await h.fake.wait_for(lambda c: c.fault == "blocked", since=before)
        await asyncio.sleep(0.3)
        sends = [c for c in h.fake.calls[before:] if str(c.chat_id) == str(PARENT)]
        # The removal of the used buttons and the first message go out side by side: both
        # are refused, and then silence.
        assert sorted(c.method for c in sends) == ["editMessageReplyMarkup", "sendMessage"]
        assert all(c.fault == "blocked" for c in sends)
        assert PARENT in h.service.blocked
        other = await h.text(2002, "/start")
        assert other and h.service.stats.errors == 0
        # Writing to the bot again means they unblocked it: they are answered again.
        h.fake.unblock_user(PARENT)
        assert await h.text(PARENT, "/menu")
        assert PARENT not in h.service.blocked


async def test_not_modified_is_ignored():
    async with running() as h:
        await h.text(PARENT, "/start")
        h.fake.fail_next("editMessageReplyMarkup", "not_modified")
        calls = await h.press(PARENT, "I'm a partner")
        assert calls and h.service.stats.errors == 0


async def test_one_parent_in_order_and_different_parents_concurrently():
    async with running() as h:
        await h.text(PARENT, "/start")
        await h.text(2002, "/start")
        message_id, buttons = h.last_keyboard(PARENT)
        since = len(h.fake.calls)
        h.fake.fail_next("sendMessage", "slow", seconds=1.0)  # this parent's next send is slow
        h.fake.push_update(
            h.fake.make_callback_update(PARENT, dict(buttons)["I'm a partner"], message_id)
        )
        slow = await h.fake.wait_for(
            lambda c: c.method == "sendMessage" and c.fault == "slow", since=since
        )
        assert str(slow.chat_id) == str(PARENT)
        h.fake.push_update(h.fake.make_text_update(PARENT, "who made this?"))
        h.fake.push_update(h.fake.make_text_update(2002, "/help"))
        await h.fake.wait_for_messages(PARENT, 6, timeout=10, methods={"sendMessage"})
        await asyncio.sleep(0.2)
        mine = [c for c in h.fake.calls_to("sendMessage") if str(c.chat_id) == str(PARENT)][3:]
        # The press (slow) is fully answered before the typed text is handled.
        assert "Partners are often forgotten" in mine[0].params["text"]
        assert "This is an example" in mine[-1].params["text"]
        assert mine[-1].time > mine[1].finished
        theirs = [c for c in h.fake.calls_to("sendMessage") if str(c.chat_id) == "2002"][3:]
        assert theirs[0].finished < slow.finished  # not held up by the slow parent


async def test_pacing_sends_typing_between_messages():
    async with running({"typing_delay_ms": 50}) as h:
        await h.text(PARENT, "/start")
        actions = h.fake.calls_to("sendChatAction")
        assert len(actions) == 2 and actions[0].params["action"] == "typing"


async def test_reload_swaps_valid_dialogues_and_keeps_the_old_on_errors(tmp_path, caplog):
    folder = tmp_path / "d"
    shutil.copytree(EXAMPLE, folder)
    main = folder / "main.yaml"
    async with running(dialogues=folder) as h:
        await h.text(PARENT, "/start")
        await h.press(PARENT, "I'm a partner")
        await h.press(PARENT, "About this bot")
        main.write_text(main.read_text().replace("This is an example.", "Version two."))
        ok, _ = h.service.reload()
        assert ok
        assert any("Version two." in t for t in texts(await h.text(PARENT, "/help")))
        good = main.read_text()
        main.write_text(good.replace("to: about", "to: abuot"))
        ok, summary = h.service.reload()
        assert not ok and "still serving" in summary
        assert "BL011" in caplog.text and "abuot" in caplog.text
        assert any("Version two." in t for t in texts(await h.text(PARENT, "/help")))
        # A node the parent is on disappears: they are taken to the menu, gently.
        main.write_text(
            good.replace("  about:\n", "  about_us:\n")
            .replace("to: about\n", "to: about_us\n")
            .replace("help: about ", "help: about_us ")
        )
        ok, summary = h.service.reload()
        assert ok, summary
        calls = await h.text(PARENT, "hello")
        assert "changed since we last spoke" in texts(calls)[0]


async def test_admin_reload_stats_and_preview():
    async with running({"admins": frozenset({PARENT})}) as h:
        await h.text(PARENT, "/start")
        calls = await h.text(PARENT, "/reload", until_buttons=False)
        assert texts(calls)[0].startswith("Dialogues reloaded")
        calls = await h.text(PARENT, "/stats", until_buttons=False)
        assert "Conversations active now: 1" in texts(calls)[0]
        assert str(PARENT) not in texts(calls)[0]
        calls = await h.text(PARENT, "/preview crisis")
        assert any("If your life is at risk" in t for t in texts(calls))


async def test_webhook_mode_checks_the_secret_token(unused_tcp_port):
    async with FakeBotApi() as fake:
        webhook = WebhookConfig(
            listen="127.0.0.1",
            port=unused_tcp_port,
            url="https://example.invalid/telegram",
            secret_token="s3cret",
        )
        config = make_config(fake, mode="webhook", webhook=webhook)
        async with Harness(fake, config) as h:
            assert fake.calls_to("setWebhook")[0].params["secret_token"] == "s3cret"
            url = f"http://127.0.0.1:{unused_tcp_port}/telegram"
            update = {**fake.make_text_update(PARENT, "/start"), "update_id": 1}
            assert await fake.post_webhook(url, update, secret_token="wrong") == 403
            assert await fake.post_webhook(url, update) == 403
            await asyncio.sleep(0.2)
            assert fake.calls_to("sendMessage") == []
            assert await fake.post_webhook(url, update, secret_token="s3cret") == 200
            await fake.wait_for_messages(PARENT, 3)
            assert h.service.stats.steps == 1


async def test_shutdown_finishes_the_update_in_flight():
    async with FakeBotApi() as fake:
        h = Harness(fake, make_config(fake))
        await h.__aenter__()
        fake.fail_next("sendMessage", "slow", seconds=1.5)
        fake.push_update(fake.make_text_update(PARENT, "/start"))
        await fake.wait_for(lambda c: c.method == "sendMessage")
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await h.stop() == 0
        assert loop.time() - t0 < 10
        assert len(fake.sent_messages(PARENT)) == 3  # the whole step was sent before exit


async def test_a_flood_gets_one_gentle_slow_down_and_risk_language_still_gets_through():
    async with running() as h:
        await h.text(PARENT, "/start")
        since = len(h.fake.calls)
        for i in range(100):
            h.fake.push_update(h.fake.make_text_update(PARENT, f"hello {i}"))
        h.fake.push_update(h.fake.make_text_update(PARENT, "i want to die"))
        await h.fake.wait_for(
            lambda c: c.method == "sendMessage" and "116 123" in (c.params.get("text") or ""),
            timeout=10,
            since=since,
        )
        await asyncio.sleep(0.3)
        sent = [c.params["text"] for c in h.fake.calls[since:] if c.method == "sendMessage"]
        assert sum("lot of messages at once" in t for t in sent) == 1
        assert h.service.stats.throttled >= 70
        assert h.service.stats.crisis == 1  # the safety net is never throttled
        other = await h.text(2002, "/start")  # other parents are answered as usual
        assert other


async def test_housekeeping_jobs_run_without_error():
    async with running() as h:
        await h.text(PARENT, "/start")
        assert await h.service.expire_idle() == 0
        assert await h.service.apply_retention() == 0
        await h.service.flush_visits()
        assert h.service.stats.errors == 0


async def test_privacy_command_shows_the_privacy_node_of_the_shipped_dialogues():
    from tests.conftest import ROOT

    async with running(dialogues=ROOT / "dialogues") as h:
        calls = await h.text(PARENT, "/privacy")
        assert any("What I keep" in t for t in texts(calls))


async def test_when_the_safety_net_is_unsure_the_bot_asks_and_carries_on(tmp_path):
    from bot.safety.model import Block, RiskModel

    folder = tmp_path / "d"
    shutil.copytree(EXAMPLE, folder)
    # A hand-made model: "sad" alone leaves it unsure (about 0.73: ask first, not crisis).
    model = RiskModel((Block("words", {"sad": (1.0, 3.0)}),), -2.0, 0.9, "test", ask_threshold=0.5)
    (folder / "safety" / "risk-model.json").write_text(model.to_json())
    async with running(dialogues=folder) as h:
        await h.text(PARENT, "/start")
        before = h.last_keyboard(PARENT)[1]
        calls = await h.text(PARENT, "so sad tonight")
        assert "thoughts of ending your life" in texts(calls)[0]
        assert h.service.stats.safety_checks == 1 and h.service.stats.crisis == 0
        calls = await h.press(PARENT, "No, I'm safe")
        assert "carry on whenever you're ready" in texts(calls)[0]
        assert h.last_keyboard(PARENT)[1] == before  # back where they were
        await h.text(PARENT, "sad again")
        calls = await h.press(PARENT, "Yes, or I'm not sure")
        assert any("116 123" in t for t in texts(calls))
        assert h.service.stats.crisis == 1


async def test_on_telegram_the_question_shows_the_numbers_and_a_typed_answer_counts():
    from tests.conftest import ROOT

    # The shipped dialogues and model: this message is one the net is unsure of.
    async with running(dialogues=ROOT / "dialogues") as h:
        await h.text(PARENT, "/menu")
        calls = await h.text(PARENT, "I don't see the point of anything anymore")
        sent = texts(calls)
        assert "999" in sent[1] and "116 123" in sent[1]  # the numbers, before the question
        assert "thoughts of ending your life" in sent[-1]
        assert h.service.stats.safety_checks == 1 and h.service.stats.crisis == 0
        calls = await h.text(PARENT, "sometimes")
        assert any("You don't have to face this alone" in t for t in texts(calls))
        assert h.service.stats.crisis == 1
        await h.text(PARENT, "/menu")
        await h.text(PARENT, "I don't see the point of anything anymore")
        calls = await h.text(PARENT, "no, just sad")
        assert "carry on whenever you're ready" in texts(calls)[0]
        assert h.service.stats.crisis == 1


async def test_on_telegram_the_crisis_reply_is_short_with_the_numbers_first_as_in_the_terminal():
    from bot.dialogue.engine import Press, Start, new_session, step
    from bot.dialogue.loader import load_dialogue_dir
    from tests.conftest import ROOT

    async with running(dialogues=ROOT / "dialogues") as h:
        await h.text(PARENT, "/start")
        calls = await h.press(PARENT, "I need help now")
        sent = texts(calls)
        assert len(sent) <= 4
        assert sent[0].startswith("Thank you for reaching out. It sounds like things are very hard")
        assert "<b>999</b>" in sent[0] and "<b>116 123</b>" in sent[0]
        # The same words as the engine gives the terminal and the conversation tests.
        d = load_dialogue_dir(ROOT / "dialogues").dialogue
        welcome = step(d, new_session(d), Start())
        help_now = next(b for b in welcome.buttons if b.label == "I need help now")
        engine_texts = [r.text for r in step(d, welcome.session, Press(help_now.data)).replies]
        assert sent == engine_texts


async def test_on_telegram_a_baby_s_name_is_used_and_escaped():
    from tests.conftest import ROOT

    async with running(dialogues=ROOT / "dialogues") as h:
        await h.text(PARENT, "/menu")
        await h.press(PARENT, "After a loss")
        await h.press(PARENT, "Tell you my baby's name")
        calls = await h.text(PARENT, "Rosé <i>&</i> Lily")
        assert any("Thank you for telling me about Rosé and Lily." in t for t in texts(calls))
        calls = await h.press(PARENT, "Back to After a loss")
        assert texts(calls)[0] == "I'm so sorry that Rosé and Lily died."
