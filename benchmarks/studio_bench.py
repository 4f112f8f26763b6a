"""How long the studio takes to show validation problems after a keystroke (budget: 300 ms).

Run:  .venv/bin/python benchmarks/studio_bench.py [--repeat 20] [--nodes 2000]

Starts the studio's real web application on 127.0.0.1 and times, from the client, a POST
of the edited text of one file to /api/validate until the JSON problems arrive. Each
request changes the text (as typing does), so no whole-result cache can answer it. Done
for the shipped dialogues (editing main.yaml) and for the 2,000-node dialogue of
benchmarks/validate_bench.py (editing one of its 20 files). The studio keeps each file's
parts and checks between requests (bot/dialogue/incremental.py), so a third figure is for
the edit that costs most: a change to settings that every text is checked against (all
2,000 nodes' checks are redone). The page waits 150 ms after the last keystroke before it
asks (the debounce), so feedback arrives debounce + this.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from validate_bench import generate  # noqa: E402

from bot.studio.serve import StudioServer  # noqa: E402
from bot.studio.web import StudioSettings  # noqa: E402

DEBOUNCE_MS = 150  # studio.js: setTimeout(validateNow, 150)


def comment(text: str, i: int) -> str:
    return text + f"# edit {i}\n"


def readability(text: str, i: int) -> str:
    return text.replace("settings: {", f"settings: {{readability_limit: {601 + i}, ", 1)


async def measure(
    folder: Path, rel: str, repeat: int, edit=comment
) -> tuple[float, list[float], int]:
    server = StudioServer(StudioSettings(folder=folder, mode="local", local_token="t"))
    port = await server.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{port}"
    text = (folder / rel).read_text(encoding="utf-8")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await http.get(f"{url}/login?token=t", allow_redirects=False)
            state = await (await http.get(f"{url}/api/state")).json()
            headers = {"X-CSRF-Token": state["csrf"]}
            times = []
            problems = 0
            for i in range(repeat + 1):
                body = {"path": rel, "text": edit(text, i)}
                t0 = time.perf_counter()
                async with http.post(f"{url}/api/validate", json=body, headers=headers) as r:
                    result = await r.json()
                times.append(time.perf_counter() - t0)
                problems = len(result["problems"])
    finally:
        await server.stop()
    return times[0], times[1:], problems


def report(name: str, first: float, times: list[float], problems: int) -> None:
    median = statistics.median(times) * 1000
    print(
        f"{name}: first edit {first * 1000:.0f} ms, then best "
        f"{min(times) * 1000:.0f} ms, median {median:.0f} ms, worst {max(times) * 1000:.0f} ms "
        f"over {len(times)} edits ({problems} problems)"
    )
    print(
        f"  feedback after the last keystroke: {DEBOUNCE_MS} ms debounce + {median:.0f} ms = "
        f"{DEBOUNCE_MS + median:.0f} ms (budget 300 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shipped = Path(tmp) / "shipped"
        shutil.copytree(ROOT / "dialogues", shipped)
        report(
            "shipped dialogues, main.yaml", *asyncio.run(measure(shipped, "main.yaml", args.repeat))
        )
        big = Path(tmp) / "big"
        big.mkdir()
        for name, data in generate(args.nodes).items():
            (big / name).write_bytes(data)
        shutil.copytree(ROOT / "dialogues" / "safety", big / "safety")
        report(
            f"{args.nodes}-node benchmark dialogue, part07.yaml",
            *asyncio.run(measure(big, "part07.yaml", args.repeat)),
        )
        report(
            f"{args.nodes}-node benchmark dialogue, settings in part00.yaml (every node rechecked)",
            *asyncio.run(measure(big, "part00.yaml", args.repeat, readability)),
        )


if __name__ == "__main__":
    main()
