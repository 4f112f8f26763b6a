"""kill -9 at random moments of a loaded run, again and again: is anything seen ever lost?

Run:  .venv/bin/python benchmarks/crash_run.py [--rounds 20] [--parents 30]

Each round starts `babyloss-bot run` on the same database, has N new parents opt in
("remember me") and then press buttons as fast as the bot answers, and kills the process
with SIGKILL at a random moment. After every kill: SQLite's integrity check must pass, and
every parent who had seen a reply must be stored at that step (or at the one after it,
whose reply was on its way). Parents from earlier rounds must all still be there.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.storage.database import Database  # noqa: E402
from tests.fakes.bot_api import FakeBotApi  # noqa: E402

OPT_IN = ("Remember my place?", "Yes, remember my place")


class CrashApi(FakeBotApi):
    """The stand-in server, remembering each chat's newest message with buttons (scanning
    the whole call log for it from 30 parents at once would starve this process)."""

    def __init__(self) -> None:
        super().__init__(validate_html=False)
        self.keyboards: dict[int, object] = {}

    def _finish(self, call, outcome):
        response = super()._finish(call, outcome)
        if call.method == "sendMessage" and call.ok and call.params.get("reply_markup"):
            self.keyboards[int(call.params["chat_id"])] = call
        if len(self.calls) > 2000:
            del self.calls[:1500]
        return response


def last_keyboard(fake: CrashApi, user: int):
    return fake.keyboards.get(user)


async def one_round(fake, argv, env, db_path: Path, users: list[int], rng) -> tuple[int, int]:
    log = open(db_path.parent / "bot.log", "ab")  # noqa: SIM115 - handed to the child
    proc = await asyncio.create_subprocess_exec(*argv, env=env, stderr=log)
    log.close()
    since = len(fake.calls)
    await fake.wait_for(lambda c: c.method == "getUpdates", timeout=60, since=since)

    async def press(user: int, label: str | None) -> None:
        call = last_keyboard(fake, user)
        rows = [r[0] for r in call.params["reply_markup"]["inline_keyboard"]]
        if label is None:
            rows = [r for r in rows if not r["text"].startswith(("No", "Remember"))] or rows
            button = rng.choice(rows)
        else:
            button = next(r for r in rows if r["text"] == label)
        before = call.result["message_id"]
        fake.push_update(
            fake.make_callback_update(user, button["callback_data"], call.result["message_id"])
        )
        for _ in range(1500):
            newer = last_keyboard(fake, user)
            if newer.result["message_id"] > before:
                return
            await asyncio.sleep(0.01)

    remaining = [len(users)]
    opted_in = asyncio.Event()

    async def parent(user: int) -> None:
        fake.push_update(fake.make_text_update(user, "/start"))
        for _ in range(1500):
            if last_keyboard(fake, user):
                break
            await asyncio.sleep(0.01)
        for label in OPT_IN:
            await press(user, label)
        remaining[0] -= 1
        if not remaining[0]:
            opted_in.set()
        while True:
            await press(user, None)

    walkers = [asyncio.create_task(parent(u)) for u in users]
    await asyncio.wait_for(opted_in.wait(), timeout=60)  # everyone's "yes" was answered
    await asyncio.sleep(rng.uniform(0.2, 3.0))  # then a burst, killed at a random moment
    proc.kill()  # SIGKILL, mid-burst
    await proc.wait()
    for w in walkers:
        w.cancel()
    for outcome in await asyncio.gather(*walkers, return_exceptions=True):
        if not isinstance(outcome, asyncio.CancelledError):
            print(f"  a simulated parent stopped early: {outcome!r}", flush=True)
    seen = {u: last_keyboard(fake, u) for u in users}
    conn = sqlite3.connect(db_path)
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    if integrity != "ok":
        raise SystemExit(f"integrity check failed: {integrity}")
    db = await Database.open(db_path)
    lost = 0
    try:
        for user, call in seen.items():
            if call is None:
                continue
            node_seen = call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            node_seen = node_seen.split("|")[0]
            stored = await db.load(user)
            if stored is None:
                # Only parents whose "yes" had been answered are remembered.
                continue
            if stored.session.node != node_seen and node_seen not in stored.session.history[-1:]:
                lost += 1
        stored_total = await db.count_parents()
    finally:
        await db.close()
    return lost, stored_total


async def main_async(args) -> int:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(dir=".") as tmp_dir:
        tmp = str(Path(tmp_dir).resolve())  # the config resolves relative paths from its folder
        db_path = Path(tmp) / "crash.sqlite3"
        async with CrashApi() as fake:
            config = Path(tmp) / "config.yaml"
            config.write_text(
                f"telegram:\n  base_url: {fake.base_url}\n  max_messages_per_second: 1000\n"
                f"dialogues:\n  path: {ROOT / 'dialogues'}\nstorage:\n  path: {db_path}\n"
                "pacing:\n  typing_delay_ms: 0\n  flood_limit: 0\nlogging:\n  level: ERROR\n"
            )
            env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "PYTHONPATH": str(ROOT)}
            argv = [sys.executable, "-m", "bot", "run", "--config", str(config)]
            total_lost, previous = 0, 0
            for number in range(1, args.rounds + 1):
                users = [9_100_000 + number * 1000 + i for i in range(args.parents)]
                lost, stored = await one_round(fake, argv, env, db_path, users, rng)
                total_lost += lost
                shrank = stored < previous
                print(
                    f"round {number:2d}: killed; integrity ok; {stored} parents stored; "
                    f"seen steps lost: {lost}" + ("; EARLIER PARENTS MISSING" if shrank else ""),
                    flush=True,
                )
                total_lost += shrank
                previous = stored
    print(
        f"{args.rounds} kills: integrity check passed every time; seen steps lost in all: "
        f"{total_lost}"
    )
    return 1 if total_lost else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--parents", type=int, default=30)
    parser.add_argument("--seed", type=int, default=3)
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
