"""The SQLite store with many remembered parents: start-up, per-step latency, memory.

Run:  .venv/bin/python benchmarks/storage_bench.py [--parents 100000] [--steps 2000]
Fills a fresh database (in a temporary folder) with N opted-in parents, then measures:
opening it as the bot does at start (integrity check and migrations included), the
durable write of one step (save, committed with synchronous=FULL) and a load, as
percentiles, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.dialogue.engine import Session  # noqa: E402
from bot.storage.database import MIGRATIONS, Database  # noqa: E402


def fill(path: Path, parents: int) -> None:
    """Create the schema and N parents quickly (one transaction), as the bot would store them."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    for version, script in enumerate(MIGRATIONS, start=1):
        conn.executescript(f"BEGIN; {script} PRAGMA user_version = {version}; COMMIT;")
    conn.close()

    async def insert() -> None:
        db = await Database.open(path)
        session = json.dumps(
            Session(
                node="mc_when",
                variables={"region": "uk", "relationship": "partner", "remember": "yes"},
                history=("welcome", "menu", "mc_start"),
            ).to_dict()
        )
        rows = [
            (
                db.key(uid),
                uid,
                "2026-11-01T00:00:00+00:00",
                "1",
                "2026-11-20T00:00:00+00:00",
                session,
            )
            for uid in range(10**9, 10**9 + parents)
        ]
        await db.conn.execute("BEGIN")
        await db.conn.executemany(
            "INSERT INTO parents (user_key, user_id, consent_at, privacy_version, last_active, "
            "session) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        await db.conn.execute("COMMIT")
        await db.checkpoint()
        await db.close()

    asyncio.run(insert())


async def measure(path: Path, parents: int, steps: int) -> None:
    t0 = time.perf_counter()
    db = await Database.open(path)
    startup = time.perf_counter() - t0
    rng = random.Random(3)
    writes, reads = [], []
    try:
        for i in range(steps):
            uid = 10**9 + rng.randrange(parents)
            session = Session(node=f"node_{i % 50}", variables={"region": "uk", "remember": "yes"})
            t = time.perf_counter()
            await db.save(uid, session, "1")
            writes.append(time.perf_counter() - t)
            t = time.perf_counter()
            await db.load(uid)
            reads.append(time.perf_counter() - t)
        count = await db.count_parents()
    finally:
        await db.close()
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def pct(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] * 1000

    print(f"{count} remembered parents, database {size:.1f} MiB")
    print(f"  start-up (open, integrity check, migrations): {startup * 1000:.0f} ms")
    print(
        f"  durable step write: p50 {pct(writes, 50):.2f} ms, p99 {pct(writes, 99):.2f} ms "
        f"({steps} writes, synchronous=FULL)"
    )
    print(f"  load on return:     p50 {pct(reads, 50):.2f} ms, p99 {pct(reads, 99):.2f} ms")
    print(f"  peak RSS of this process: {rss:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parents", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument(
        "--dir",
        default=".",
        help="where to put the temporary database: on "
        "the disk the bot will use, not tmpfs, so fsync costs what it costs",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "bench.sqlite3"
        t0 = time.perf_counter()
        fill(path, args.parents)
        print(f"(filled in {time.perf_counter() - t0:.1f} s)")
        asyncio.run(measure(path, args.parents, args.steps))


if __name__ == "__main__":
    main()
