"""Sending a day's reminders: N due at once, against a stand-in Bot API that answers 429.

Run:  .venv/bin/python benchmarks/reminder_bench.py [--reminders 10000] [--rate-429 0.1]
      [--rate 300]

Fills a fresh database with N remembered parents whose anniversary reminder is due now
(2% of them have blocked the bot), then runs the bot's real dispatcher (the JobQueue job)
through a real python-telegram-bot Application and its rate limiter, against the stand-in
server injecting 429 "retry after 1 s" answers. Prints the duration and how many reminders
were sent, skipped, lost and sent twice (target: none lost, none twice). --rate is the
bot's telegram.max_messages_per_second: Telegram's own limit is about 30, which makes
10,000 reminders take at least 333 s; the default measures the bot at a higher rate.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.dialogue.engine import Session  # noqa: E402
from bot.dialogue.loader import load_dialogue_dir  # noqa: E402
from bot.service.config import Config  # noqa: E402
from bot.storage.database import Database  # noqa: E402
from bot.telegram.adapter import BabylossBot  # noqa: E402
from tests.fakes.bot_api import FakeBotApi, FaultPlan  # noqa: E402

DUE = dt.datetime(2026, 3, 15, 10, 0, tzinfo=dt.UTC)
FIRST_USER = 5_000_000_000


async def fill(db: Database, count: int, blocked_every: int) -> set[int]:
    variables = {"remember": "yes", "anniversary": "03-15", "remind_anniversary": "yes"}
    session = json.dumps(Session(node="menu", variables=variables).to_dict())
    parents, reminders, blocked = [], [], set()
    for i in range(count):
        uid = FIRST_USER + i
        is_blocked = blocked_every and i % blocked_every == 0
        if is_blocked:
            blocked.add(uid)
        parents.append(
            (
                db.key(uid),
                uid,
                "2026-01-01T00:00:00+00:00",
                "1",
                "2026-03-01T00:00:00+00:00",
                session,
                "2026-03-02T00:00:00+00:00" if is_blocked else None,
            )
        )
        reminders.append((db.key(uid), "anniversary", DUE.isoformat(), "Europe/London"))
    await db.conn.execute("BEGIN")
    await db.conn.executemany("INSERT INTO parents VALUES (?, ?, ?, ?, ?, ?, ?)", parents)
    await db.conn.executemany(
        "INSERT INTO reminders (user_key, kind, due_utc, zone) VALUES (?, ?, ?, ?)", reminders
    )
    await db.conn.execute("COMMIT")
    return blocked


async def main_async(args) -> None:
    dialogue = load_dialogue_dir(ROOT / "docs" / "examples" / "first-dialogue").dialogue
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        db = await Database.open(Path(tmp) / "bench.sqlite3")
        blocked = await fill(db, args.reminders, 50)
        plan = FaultPlan(rate_429=args.rate_429, retry_after=1, seed=11)
        async with FakeBotApi(faults=plan) as fake:
            config = Config(
                token=fake.token,
                base_url=fake.base_url,
                typing_delay_ms=0,
                max_messages_per_second=args.rate,
            )
            bot = BabylossBot(config, dialogue, db=db, clock=lambda: DUE + dt.timedelta(seconds=30))
            app = bot.build_application()
            async with app:
                t0 = time.perf_counter()
                outcome = await bot.dispatch_reminders()
                elapsed = time.perf_counter() - t0
            per_chat = Counter(
                int(c.chat_id) for c in fake.calls if c.method == "sendMessage" and c.ok
            )
            served_429 = sum(1 for c in fake.calls if c.fault == "429")
        counts = await db.reminder_counts()
        await db.close()
    expected = {FIRST_USER + i for i in range(args.reminders)} - blocked
    lost = sorted(expected - set(per_chat))
    twice = sorted(uid for uid, n in per_chat.items() if n > 1)
    print(
        f"{args.reminders} reminders due, {len(blocked)} to parents who blocked the bot; "
        f"stand-in server answered {served_429} requests with 429 "
        f"(rate {args.rate_429:.0%}); bot limited to {args.rate:g} messages/s"
    )
    print(f"  duration {elapsed:.1f} s ({args.reminders / elapsed:.0f} reminders/s)")
    print(f"  outcome: {dict(outcome)}; database: {counts}")
    print(
        f"  sent {len(per_chat)}, skipped {outcome.get('skipped', 0)}, lost {len(lost)}, "
        f"sent twice {len(twice)} (target: none lost, none twice)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--rate-429", type=float, default=0.1)
    parser.add_argument("--rate", type=float, default=300)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
