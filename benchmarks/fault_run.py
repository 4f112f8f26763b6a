"""Every step answered, in order, through a storm of faults from the Bot API.

Run:  .venv/bin/python benchmarks/fault_run.py [--parents 20] [--steps 12] [--seed 5]

The stand-in server answers 20% of calls with 429 (retry after 1 s), 10% with 502, makes
5% of answers 2 s slow and drops 5% of connections before answering. N simulated parents
each take a walk through the shipped dialogues in their own process-independent order.
For each parent the pure engine computes, from the same presses, what they should have
been sent; the run compares that with what the server received: steps answered, texts in
order, duplicates (which a retry after a dropped connection may risk), and whether the
bot process stayed up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.dialogue.engine import Context, Press, Start, new_session, step  # noqa: E402
from bot.dialogue.loader import load_dialogue_dir  # noqa: E402
from tests.fakes.bot_api import FakeBotApi, FaultPlan  # noqa: E402


async def run(args) -> int:
    dialogue = load_dialogue_dir(ROOT / "dialogues").dialogue
    plan = FaultPlan(
        rate_429=0.2,
        retry_after=1,
        rate_5xx=0.1,
        slow_seconds=2.0,
        slow_rate=0.05,
        drop_rate=0.05,
        seed=args.seed,
    )
    expected: dict[int, list[str]] = {}
    with tempfile.TemporaryDirectory(dir=".") as tmp_dir:
        tmp = str(Path(tmp_dir).resolve())  # the config resolves relative paths from its folder
        async with FakeBotApi(faults=plan) as fake:
            config = Path(tmp) / "config.yaml"
            config.write_text(
                f"telegram:\n  base_url: {fake.base_url}\n  max_messages_per_second: 1000\n"
                f"dialogues:\n  path: {ROOT / 'dialogues'}\nstorage:\n  path: {tmp}/f.db\n"
                "pacing:\n  typing_delay_ms: 0\n  flood_limit: 0\nlogging:\n  level: ERROR\n"
            )
            env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "PYTHONPATH": str(ROOT)}
            log_path = Path(tmp) / "bot.log"
            with log_path.open("wb") as log:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", "--config", str(config), env=env, stderr=log
                )
            await fake.wait_for(lambda c: c.method == "getUpdates", timeout=60)
            t0 = time.perf_counter()

            async def parent(user: int) -> None:
                rng = random.Random(user)
                result = step(dialogue, new_session(dialogue), Start(), Context("Sam"))
                texts = [r.text for r in result.replies]
                seen = 0

                async def answered(count: int) -> dict:
                    messages = await fake.wait_for_messages(
                        user, count, timeout=180, methods={"sendMessage"}
                    )
                    return messages[count - 1]

                fake.push_update(fake.make_text_update(user, "/start"))
                seen += len(result.replies)
                last = await answered(seen)
                for _ in range(args.steps):
                    button = rng.choice(result.buttons)
                    result = step(dialogue, result.session, Press(button.data), Context("Sam"))
                    texts += [r.text for r in result.replies]
                    message_id = next(
                        c.result["message_id"]
                        for c in reversed(fake.calls)
                        if c.method == "sendMessage"
                        and c.ok
                        and c.params.get("text") == last["text"]
                        and str(c.chat_id) == str(user)
                    )
                    fake.push_update(fake.make_callback_update(user, button.data, message_id))
                    seen += len(result.replies)
                    last = await answered(seen)
                expected[user] = texts

            users = [8_000_000 + i for i in range(args.parents)]
            failures = await asyncio.gather(*(parent(u) for u in users), return_exceptions=True)
            elapsed = time.perf_counter() - t0
            await asyncio.sleep(1)
            alive = proc.returncode is None
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), timeout=30)
            faults = {}
            for call in fake.calls:
                if call.fault:
                    faults[call.fault] = faults.get(call.fault, 0) + 1
        stuck = [u for u, f in zip(users, failures, strict=True) if isinstance(f, Exception)]
        out_of_order, duplicates = 0, 0
        for user in users:
            if user in stuck:
                continue
            got = [
                c.params["text"]
                for c in fake.calls
                if c.method == "sendMessage" and c.ok and str(c.chat_id) == str(user)
            ]
            # Collapse repeats of the same message sent twice in a row (a retry after a
            # dropped connection can do that); what remains must be exactly the expected.
            collapsed = [
                t
                for i, t in enumerate(got)
                if i == 0
                or t != got[i - 1]
                or (expected[user][: i + 1].count(t) > got[:i].count(t))
            ]
            duplicates += len(got) - len(collapsed)
            out_of_order += collapsed != expected[user]
        errors = log_path.read_text(errors="replace").count(" failed: ")
    steps = args.parents * (args.steps + 1)
    print(
        f"{args.parents} parents x {args.steps + 1} steps = {steps} steps in {elapsed:.1f} s "
        f"under faults: {dict(sorted(faults.items()))}"
    )
    print(
        f"  steps never answered: {len(stuck)} parent(s) stuck; parents whose messages "
        f"differ from the engine's or are out of order: {out_of_order}; duplicate "
        f"messages: {duplicates}; update errors logged: {errors}"
    )
    print(f"  bot process stayed up: {alive}; exit code after SIGTERM: {proc.returncode}")
    return 0 if not stuck and not out_of_order and alive and proc.returncode == 0 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parents", type=int, default=20)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--seed", type=int, default=5)
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
