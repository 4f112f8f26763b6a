"""Reminders: due times in the parent's time zone, summer time, late starts, crashes mid-batch,
blocked parents, and the one-tap stop, with an injectable clock instead of waiting."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import pytest

from bot.dialogue.engine import Session
from bot.dialogue.reminders import (
    ANNIVERSARY,
    CHECK_IN,
    WAVE,
    WEEK,
    next_due,
    still_sendable,
    wanted_kinds,
    zone_for,
)
from bot.storage.database import Database
from bot.telegram.reminder_jobs import CONCURRENT_SENDS, Reminders

UTC = dt.UTC


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


# -- Pure rules ----------------------------------------------------------------------


def test_wave_of_light_is_7pm_local_in_summer_time_and_in_winter_time() -> None:
    uk = {"remind_wave_of_light": "yes"}
    due = next_due(WAVE, uk, at(2026, 6, 1))
    assert due.at == at(2026, 10, 15, 18, 0) and due.zone == "Europe/London"  # BST, UTC+1
    sydney = {"timezone": "Australia/Sydney"}
    assert next_due(WAVE, sydney, at(2026, 6, 1)).at == at(2026, 10, 15, 8, 0)  # AEDT, UTC+11
    perth = {"region": "au", "timezone": "Australia/Perth"}
    assert next_due(WAVE, perth, at(2026, 6, 1)).at == at(2026, 10, 15, 11, 0)  # AWST, UTC+8
    chicago = {"timezone": "America/Chicago"}
    assert next_due(WAVE, chicago, at(2026, 6, 1)).at == at(2026, 10, 16, 0, 0)  # CDT, UTC-5


def test_next_due_rolls_to_next_year_once_passed() -> None:
    after = next_due(WEEK, {}, at(2026, 10, 9, 9, 0))  # 10am BST is 09:00 UTC: not after
    assert after.at == at(2027, 10, 9, 9, 0)
    before = next_due(WEEK, {}, at(2026, 10, 9, 8, 59))
    assert before.at == at(2026, 10, 9, 9, 0)


def test_anniversary_on_29_february_falls_on_the_28th_in_other_years() -> None:
    prefs = {"anniversary": "02-29", "remind_anniversary": "yes"}
    assert next_due(ANNIVERSARY, prefs, at(2026, 1, 1)).at == at(2026, 2, 28, 10, 0)
    assert next_due(ANNIVERSARY, prefs, at(2027, 3, 1)).at == at(2028, 2, 29, 10, 0)


def test_check_in_after_the_chosen_period_in_the_morning() -> None:
    chosen = at(2026, 3, 28, 22, 30)  # the clocks go forward in the UK the next night
    due = next_due(CHECK_IN, {"check_in": "week"}, chosen)
    assert due.at == at(2026, 4, 4, 9, 0)  # 10am BST
    assert next_due(CHECK_IN, {"check_in": "month"}, chosen).at == at(2026, 4, 27, 9, 0)
    assert next_due(CHECK_IN, {"check_in": "never"}, chosen) is None


def test_wanted_kinds_and_zones_from_variables() -> None:
    assert wanted_kinds(
        {
            "remind_wave_of_light": "yes",
            "check_in": "never",
            "anniversary": "03-15",
            "remind_anniversary": "no",
        }
    ) == {WAVE}
    assert wanted_kinds({"anniversary": "13-45", "remind_anniversary": "yes"}) == set()
    assert zone_for({"timezone": "Mars/Olympus"}) == "Europe/London"
    assert zone_for({"region": "us"}) == "America/New_York"


def test_a_late_wave_of_light_is_never_sent() -> None:
    due = at(2026, 10, 15, 18, 0)
    assert still_sendable(WAVE, due, "Europe/London", at(2026, 10, 15, 18, 30))
    assert not still_sendable(WAVE, due, "Europe/London", at(2026, 10, 15, 19, 0))
    assert not still_sendable(WAVE, due, "Europe/London", at(2026, 10, 16, 9, 0))
    week = at(2026, 10, 9, 9, 0)
    assert still_sendable(WEEK, week, "Europe/London", at(2026, 10, 9, 22, 59))
    assert not still_sendable(WEEK, week, "Europe/London", at(2026, 10, 9, 23, 0))  # midnight BST


# -- With the database and a fake sender -----------------------------------------------


class Sender:
    def __init__(self, blocked=(), fail=()) -> None:
        self.sent: list[tuple[int, str]] = []
        self.blocked, self.fail = set(blocked), set(fail)

    async def __call__(self, user_id: int, session: Session, kind: str) -> str:
        await asyncio.sleep(0)
        if user_id in self.blocked:
            return "blocked"
        if user_id in self.fail:
            raise RuntimeError("boom")
        self.sent.append((user_id, kind))
        return "sent"


async def remembered(db: Database, reminders: Reminders, user: int, **prefs) -> None:
    variables = {"remember": "yes", **prefs}
    await db.save(user, Session(node="menu", variables=variables), "1")
    await reminders.sync(user, {}, variables)


@pytest.fixture
async def db(tmp_path):
    database = await Database.open(tmp_path / "bot.sqlite3")
    yield database
    await database.close()


async def test_due_reminders_are_sent_once_and_next_year_is_scheduled(db) -> None:
    clock, sender = Clock(at(2026, 10, 1)), Sender()
    reminders = Reminders(db, sender, clock=clock)
    await remembered(db, reminders, 1, remind_wave_of_light="yes")
    await remembered(db, reminders, 2, remind_awareness_week="yes", timezone="Australia/Sydney")
    assert await reminders.dispatch() == Counter()
    clock.now = at(2026, 10, 9, 0, 0)  # 11am in Sydney
    assert await reminders.dispatch() == Counter({"sent": 1})
    clock.now = at(2026, 10, 15, 18, 1)
    assert await reminders.dispatch() == Counter({"sent": 1})
    assert await reminders.dispatch() == Counter()  # never twice
    assert sender.sent == [(2, WEEK), (1, WAVE)]
    assert (await db.pending_reminders(1))[WAVE][0].startswith("2027-10-15T18:00")
    assert (await db.pending_reminders(2))[WEEK][0].startswith("2027-10-08T23:00")


async def test_due_while_down_is_sent_the_same_day_otherwise_dropped(db) -> None:
    clock, sender = Clock(at(2026, 10, 1)), Sender()
    reminders = Reminders(db, sender, clock=clock)
    await remembered(db, reminders, 1, remind_awareness_week="yes")
    await remembered(db, reminders, 2, remind_wave_of_light="yes")
    # The bot was down from before 9 October until 15 October 20:30 UK time.
    clock.now = at(2026, 10, 15, 19, 30)
    assert await reminders.dispatch() == Counter({"dropped": 2})
    assert sender.sent == []
    counts = await db.reminder_counts()
    assert counts["dropped"] == 2 and counts["pending"] == 2  # next year's are scheduled


async def test_a_crash_mid_batch_never_sends_twice(db) -> None:
    clock = Clock(at(2026, 10, 1))
    for user in range(40):
        await remembered(db, Reminders(db, Sender(), clock=clock), user, remind_wave_of_light="yes")
    clock.now = at(2026, 10, 15, 18, 5)

    class Crash(BaseException):  # like the process dying: nothing catches it
        pass

    class CrashingSender(Sender):
        async def __call__(self, user_id, session, kind):
            if len(self.sent) >= 15:
                raise Crash  # the process dies here, mid-batch
            return await super().__call__(user_id, session, kind)

    first = CrashingSender()
    with pytest.raises(Crash):
        await Reminders(db, first, clock=clock).dispatch()
    # After the restart the dispatcher runs again at once.
    second = Sender()
    await Reminders(db, second, clock=clock).dispatch()
    both = first.sent + second.sent
    assert len(both) == len(set(both))  # nobody got it twice
    assert len(first.sent) >= 15 and len(second.sent) > 0
    counts = await db.reminder_counts()
    # Those claimed when the crash came stay claimed: possibly sent, so never resent. That
    # is at most one per concurrent sender; every other reminder went out after the restart.
    assert counts["sent"] == len(both)
    assert counts.get("claimed", 0) == 40 - len(both) <= CONCURRENT_SENDS


async def test_blocked_parents_are_marked_and_skipped_next_time(db) -> None:
    clock, sender = Clock(at(2026, 10, 1)), Sender(blocked={7})
    reminders = Reminders(db, sender, clock=clock)
    await remembered(db, reminders, 7, remind_awareness_week="yes", check_in="week")
    clock.now = at(2026, 10, 8, 9, 30)  # the check-in, a week after choosing
    assert await reminders.dispatch() == Counter({"blocked": 1})
    clock.now = at(2026, 10, 9, 9, 30)
    assert await reminders.dispatch() == Counter({"skipped": 1})


async def test_one_failure_does_not_stop_the_others(db) -> None:
    clock, sender = Clock(at(2026, 10, 1)), Sender(fail={1})
    reminders = Reminders(db, sender, clock=clock)
    for user in (1, 2, 3):
        await remembered(db, reminders, user, remind_awareness_week="yes")
    clock.now = at(2026, 10, 9, 9, 30)
    assert await reminders.dispatch() == Counter({"sent": 2, "failed": 1})


async def test_changing_choices_updates_pending_reminders(db) -> None:
    clock, sender = Clock(at(2026, 3, 1)), Sender()
    reminders = Reminders(db, sender, clock=clock)
    prefs = {"remember": "yes", "check_in": "week", "remind_wave_of_light": "yes"}
    await remembered(db, reminders, 5, **prefs)
    first_check_in = (await db.pending_reminders(5))[CHECK_IN]
    clock.now = at(2026, 3, 3)
    # An unrelated change keeps the check-in counted from when it was chosen.
    await reminders.sync(5, prefs, {**prefs, "remind_awareness_week": "yes"})
    pending = await db.pending_reminders(5)
    assert pending[CHECK_IN] == first_check_in and set(pending) == {CHECK_IN, WAVE, WEEK}
    await reminders.sync(5, prefs, {**prefs, "remind_wave_of_light": "no", "check_in": "never"})
    assert set(await db.pending_reminders(5)) == set()
    # Forgetting a parent deletes their reminders with them.
    await reminders.sync(5, {}, prefs)
    await db.forget(5)
    assert await db.reminder_counts() == {}


# -- Through the real service ---------------------------------------------------------


async def test_a_parent_asks_for_a_reminder_gets_it_and_stops_it_with_one_tap(tmp_path) -> None:
    from tests.fakes.bot_api import FakeBotApi
    from tests.service_harness import Harness, make_config
    from tests.test_consent import consent_dialogue, opt_in

    dialogue = consent_dialogue(tmp_path / "d")
    clock = Clock(at(2026, 3, 1, 12, 0))
    user = 4_400_123_456
    async with FakeBotApi() as fake:
        config = make_config(fake, dialogue, storage_path=tmp_path / "bot.sqlite3")
        async with Harness(fake, config, storage=True, clock=clock) as h:
            await opt_in(h, user)
            await h.press(user, "About this bot")
            await h.press(user, "A date that matters")
            calls = await h.text(user, "It was 15 March")
            assert "each year" in calls[0].params["text"]
            assert (await h.db.pending_reminders(user))[ANNIVERSARY][
                0
            ] == "2026-03-15T10:00:00+00:00"
            clock.now = at(2026, 3, 15, 10, 0, 30)
            since = len(fake.calls)
            assert await h.service.reminders.dispatch() == Counter({"sent": 1})
            sent = [c for c in fake.calls[since:] if c.method == "sendMessage"]
            texts = [c.params["text"] for c in sent]
            assert texts == ["A gentle message for you and your baby today."]
            labels = [r[0]["text"] for r in sent[-1].params["reply_markup"]["inline_keyboard"]]
            assert labels == ["Back to the menu", "Stop these reminders"]
            # Next year's is already scheduled; one tap stops it.
            assert (await h.db.pending_reminders(user))[ANNIVERSARY][0].startswith("2027-03-15")
            calls = await h.press(user, "Stop these reminders", until_buttons=False)
            assert calls[-1].params["text"] == "Done: I won't send you these reminders any more."
            assert await h.db.pending_reminders(user) == {}
            # A parent who blocked the bot is marked, and skipped from then on.
            await h.press(user, "Back to the menu")
            await h.press(user, "About this bot")
            await h.press(user, "A date that matters")
            await h.text(user, "16 march")
            fake.block_user(user)
            clock.now = at(2026, 3, 16, 10, 0, 30)
            assert await h.service.reminders.dispatch() == Counter({"blocked": 1})
            clock.now = at(2027, 3, 16, 10, 0, 30)
            assert await h.service.reminders.dispatch() == Counter({"skipped": 1})
