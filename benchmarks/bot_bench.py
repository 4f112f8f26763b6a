"""Throughput and latency of the bot against the stand-in Bot API, beside a bare echo bot.

Run:  .venv/bin/python benchmarks/bot_bench.py [--parents 100] [--seconds 20] [--rounds 3]

Each bot runs as its own process (``babyloss-bot run`` and ``benchmarks/echo_bot.py``),
polling the stand-in Bot API server in this process. N simulated parents each wait for
the bot's answer before their next step: for the echo bot a step is one message and its
echo; for babyloss-bot it is a button press (or /start) answered by the whole next node,
up to the message that carries the new buttons. Pacing is off. Prints steps/s, step
latency percentiles, the bot process's peak RSS and its CPU time per step for both, side
by side; with ``--rounds N`` the two bots take turns N times and the medians are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from tests.fakes.bot_api import Call, FakeBotApi  # noqa: E402


class BenchApi(FakeBotApi):
    """The stand-in server, plus a cheap way to wait for one chat's next message."""

    def __init__(self, rtt: float = 0.0) -> None:
        super().__init__(validate_html=False)
        self.waiters: dict[int, asyncio.Future] = {}
        self.keyboard_only = True
        self.rtt = rtt  # seconds added to every answer but getUpdates': the trip to Telegram

    async def _handle_api(self, request):
        if self.rtt and request.match_info["method"].lower() != "getupdates":
            await asyncio.sleep(self.rtt)
        return await super()._handle_api(request)

    def _finish(self, call: Call, outcome):
        response = super()._finish(call, outcome)
        wanted = not self.keyboard_only or call.params.get("reply_markup")
        if call.method == "sendMessage" and call.ok and wanted:
            waiter = self.waiters.pop(int(call.params["chat_id"]), None)
            if waiter and not waiter.done():
                waiter.set_result(call)
        if len(self.calls) > 5000:  # keep this process's memory flat over long runs
            del self.calls[:4000]
            for stored in self.messages.values():  # the fake keeps every message it saw
                for message_id in sorted(stored)[:-50]:
                    del stored[message_id]
        return response


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


OPT_IN = ("Remember my place?", "Yes, remember my place")  # the shipped consent path


async def drive(
    api: BenchApi,
    parents: int,
    seconds: float,
    *,
    echo: bool,
    opt_in: bool = False,
    think: float = 0.0,
    first_user: int = 10_000,
) -> list[float]:
    """Each parent steps as soon as it sees the answer (think=0), or after about ``think`` s
    (and then arrives at a random moment within the first ``think`` s). Parents are users
    ``first_user``, ``first_user + 1``, ..."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    rng = random.Random(7)

    async def one_step(user: int, update: dict) -> Call:
        future = asyncio.get_running_loop().create_future()
        api.waiters[user] = future
        t0 = time.perf_counter()
        api.push_update(update)
        call = await asyncio.wait_for(future, timeout=30)
        latencies.append(time.perf_counter() - t0)
        if think:
            await asyncio.sleep(think * (0.5 + rng.random()))  # reading time, varied
        return call

    async def parent(user: int) -> None:
        if think:  # people arrive over a while, not all in the same millisecond
            await asyncio.sleep(think * rng.random())
        if echo:
            while time.monotonic() < deadline:
                await one_step(user, api.make_text_update(user, f"hello {rng.random()}"))
            return
        call = await one_step(user, api.make_text_update(user, "/start"))
        for label in OPT_IN if opt_in else ():
            rows = call.params["reply_markup"]["inline_keyboard"]
            data = next(r[0]["callback_data"] for r in rows if r[0]["text"] == label)
            call = await one_step(
                user, api.make_callback_update(user, data, call.result["message_id"])
            )
        while time.monotonic() < deadline:
            rows = call.params["reply_markup"]["inline_keyboard"]
            if opt_in:  # stay remembered: every step is then a durable write
                rows = [r for r in rows if not r[0]["text"].startswith("No")] or rows
            data = rng.choice(rows)[0]["callback_data"]
            message_id = call.result["message_id"]
            call = await one_step(user, api.make_callback_update(user, data, message_id))

    await asyncio.gather(*(parent(first_user + i) for i in range(parents)))
    return latencies


async def run_bot(
    api: BenchApi,
    argv: list[str],
    parents: int,
    seconds: float,
    echo: bool,
    opt_in: bool = False,
    think: float = 0.0,
    first_user: int = 10_000,
) -> dict:
    api.keyboard_only = not echo  # a babyloss-bot step ends with the message carrying buttons
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile() as log:  # a pipe nobody reads could fill up and stall it
        proc = await asyncio.create_subprocess_exec(*argv, env=env, stderr=log)
    try:
        await api.wait_for(lambda c: c.method == "getUpdates", timeout=60)
        # New users every run: parents remembered by an earlier round would be welcomed back.
        warm = dict(echo=echo, opt_in=opt_in, first_user=first_user + parents)
        await drive(api, min(parents, 5), 1.0, **warm)  # warm up
        t0, cpu0 = time.perf_counter(), cpu_seconds(proc.pid)
        latencies = await drive(
            api, parents, seconds, echo=echo, opt_in=opt_in, think=think, first_user=first_user
        )
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=20)
    q = statistics.quantiles(latencies, n=100)
    return {
        "steps": len(latencies),
        "steps_per_s": len(latencies) / elapsed,
        "p50": q[49] * 1000,
        "p95": q[94] * 1000,
        "p99": q[98] * 1000,
        "rss": rss,
        # CPU time per step: steadier than steps/s when other work shares the machine.
        "cpu_ms": cpu * 1000 / max(len(latencies), 1),
    }


async def run_echo(args) -> dict:
    async with BenchApi(args.rtt / 1000) as api:
        return await run_bot(
            api,
            [sys.executable, str(ROOT / "benchmarks" / "echo_bot.py"), api.base_url],
            args.parents,
            args.seconds,
            echo=True,
            think=args.think,
        )


async def run_babyloss(args, tmp: Path, first_user: int) -> dict:
    async with BenchApi(args.rtt / 1000) as api:
        config = tmp / "config.yaml"
        config.write_text(
            f"telegram:\n  base_url: {api.base_url}\n"
            f"  max_messages_per_second: {args.max_rate}\n"
            f"  transport: {args.transport}\n"
            f"dialogues:\n  path: {ROOT / 'dialogues'}\n"
            f"storage:\n  path: {tmp / 'bench.sqlite3'}\n"
            # Simulated parents press the next button the moment they see it: no human
            # does, so the flood limit (meant for people) is off here.
            "pacing:\n  typing_delay_ms: 0\n  flood_limit: 0\nlogging:\n  level: WARNING\n"
        )
        return await run_bot(
            api,
            [sys.executable, "-m", "bot", "run", "--config", str(config)],
            args.parents,
            args.seconds,
            echo=False,
            opt_in=args.opt_in,
            think=args.think,
            first_user=first_user,
        )


COLUMNS = ("steps_per_s", "p50", "p95", "p99", "rss", "cpu_ms")


def median_of(rounds: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in rounds) for k in ("steps", *COLUMNS)}


async def main_async(args) -> None:
    echo: list[dict] = []
    ours: list[dict] = []
    with tempfile.TemporaryDirectory(dir=".") as tmp_dir:
        tmp = Path(tmp_dir).resolve()  # the config resolves relative paths from its folder
        if args.stored:
            from storage_bench import fill  # the same filling as the storage benchmark

            await asyncio.to_thread(fill, tmp / "bench.sqlite3", args.stored)
        # Rounds alternate (echo first, then babyloss-bot first, ...) so that a busy
        # neighbour on a shared machine weighs on both bots alike.
        for i in range(args.rounds):
            order = ("echo", "ours") if i % 2 == 0 else ("ours", "echo")
            for which in order:
                if which == "echo":
                    echo.append(await run_echo(args))
                else:
                    first_user = 10_000 + i * (args.parents + 10)
                    ours.append(await run_babyloss(args, tmp, first_user))
    print(
        f"{args.parents} concurrent parents, {args.seconds:.0f} s a run, {args.rounds} "
        f"round(s), pacing off, {os.cpu_count()} cores, babyloss-bot "
        f"max_messages_per_second={args.max_rate:g}, transport {args.transport}"
        + (", parents opted in (a durable write every step)" if args.opt_in else "")
        + (f", {args.stored} parents already stored" if args.stored else "")
        + (f", about {args.think:g} s between a parent's steps" if args.think else "")
        + (f", {args.rtt:g} ms round trip to the Bot API" if args.rtt else "")
    )
    header = (
        f"{'':24} {'steps':>7} {'steps/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'peak RSS MB':>12} {'CPU ms/step':>12}"
    )
    print(header)

    def row(name: str, r: dict) -> None:
        print(
            f"{name:24} {r['steps']:7.0f} {r['steps_per_s']:9.1f} {r['p50']:8.1f} "
            f"{r['p95']:8.1f} {r['p99']:8.1f} {r['rss']:12.1f} {r['cpu_ms']:12.2f}"
        )

    if args.rounds > 1:
        for i, (e, o) in enumerate(zip(echo, ours, strict=True), start=1):
            row(f"round {i}: echo bot", e)
            row(f"round {i}: babyloss-bot", o)
        print("median of the rounds:")
    floor, mine = median_of(echo), median_of(ours)
    row("echo bot (floor)", floor)
    row("babyloss-bot", mine)
    ratios = [o["steps_per_s"] / e["steps_per_s"] for e, o in zip(echo, ours, strict=True)]
    print(
        f"babyloss-bot / echo steps/s: {statistics.median(ratios):.2f} (median of "
        f"{len(ratios)} round(s); target >= 1.0); p99 target < 250 ms; "
        "peak RSS target < 80 MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parents", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--transport", choices=("aiohttp", "httpx"), default="aiohttp")
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate the two bots this many times"
    )
    parser.add_argument(
        "--rtt",
        type=float,
        default=0.0,
        help="milliseconds the stand-in server waits before answering each call (but "
        "getUpdates), as the trip to Telegram's servers would take",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="average seconds a parent takes before the next step (0: none)",
    )
    parser.add_argument(
        "--opt-in",
        action="store_true",
        help="parents say 'remember me' first: every step is a durable write",
    )
    parser.add_argument(
        "--stored",
        type=int,
        default=0,
        help="fill the database with this many remembered parents first",
    )
    parser.add_argument(
        "--max-rate",
        type=float,
        default=100_000,
        help="babyloss-bot's telegram.max_messages_per_second (Telegram's "
        "real limit is 30; the default measures the bot, not the limiter)",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
