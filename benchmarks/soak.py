"""Soak: the bot under a steady load for a long time; does memory grow or latency rise?

Run:  .venv/bin/python benchmarks/soak.py [--minutes 30] [--parents 60] [--think 0.5]

Starts `babyloss-bot run` (shipped dialogues, remembered parents, so every step is a
durable write) against the stand-in Bot API, keeps N simulated parents stepping with a
little reading time between steps, and prints one line a minute: steps, p50 and p99
step latency, and the bot process's RSS. Ends with the RSS growth from the second
minute to the last and the first and last minutes' p99, side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bot_bench import BenchApi, drive  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main_async(args) -> None:
    with tempfile.TemporaryDirectory(dir=".") as tmp_dir:
        tmp = str(Path(tmp_dir).resolve())  # the config resolves relative paths from its folder
        async with BenchApi() as api:
            api.keyboard_only = True
            config = Path(tmp) / "config.yaml"
            config.write_text(
                f"telegram:\n  base_url: {api.base_url}\n  max_messages_per_second: 100000\n"
                f"dialogues:\n  path: {ROOT / 'dialogues'}\n"
                f"storage:\n  path: {Path(tmp) / 'soak.sqlite3'}\n"
                "pacing:\n  typing_delay_ms: 0\n  flood_limit: 0\nlogging:\n  level: WARNING\n"
            )
            env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token, "PYTHONPATH": str(ROOT)}
            with tempfile.TemporaryFile() as log:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", "--config", str(config), env=env, stderr=log
                )
            rows = []
            try:
                await api.wait_for(lambda c: c.method == "getUpdates", timeout=60)
                print(
                    f"{args.parents} parents, about {args.think:g} s between steps, "
                    f"{args.minutes} minutes; bot pid {proc.pid}",
                    flush=True,
                )
                print(
                    f"{'minute':>6} {'steps':>7} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>8}",
                    flush=True,
                )
                for minute in range(1, args.minutes + 1):
                    lat = await drive(
                        api, args.parents, 60, echo=False, opt_in=True, think=args.think
                    )
                    q = statistics.quantiles(lat, n=100)
                    rows.append((minute, len(lat), q[49] * 1000, q[98] * 1000, rss_mb(proc.pid)))
                    print("{:6d} {:7d} {:8.1f} {:8.1f} {:8.1f}".format(*rows[-1]), flush=True)
            finally:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), timeout=20)
    if len(rows) >= 3:
        base, last = rows[1], rows[-1]
        growth = (last[4] - base[4]) / base[4] * 100
        print(
            f"RSS: {base[4]:.1f} MB at minute 2, {last[4]:.1f} MB at minute {last[0]} "
            f"({growth:+.1f}%; target under +10%)"
        )
        print(
            f"p99: {rows[0][3]:.1f} ms in minute 1, {last[3]:.1f} ms in minute {last[0]}; "
            f"p50 {rows[0][2]:.1f} -> {last[2]:.1f} ms"
        )
    print(f"bot exit code after SIGTERM: {proc.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--parents", type=int, default=60)
    parser.add_argument("--think", type=float, default=0.5)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
