"""What the safety net costs: time per typed message, and memory for its model.

Run:  .venv/bin/python benchmarks/safety_bench.py [--rounds 5]

Loads the shipped phrase list and model, then assesses every message of the blind set
(tests/safety_blind_c.yaml) ``--rounds`` times, as the bot does for every typed message.
Prints load time, the memory the model takes once loaded and at the peak of loading it
(Python's allocations, by tracemalloc: the bot's peak RSS is set while it loads), and
latency percentiles.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.safety import MODEL_FILE, assess, load_risk_phrases  # noqa: E402
from bot.safety.model import read_risk_model  # noqa: E402
from bot.safety.train import read_examples  # noqa: E402
from bot.service.memory import release_free_memory  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    dialogues = ROOT / "dialogues"
    before = rss_mb()
    model, _ = read_risk_model(dialogues / MODEL_FILE)  # as the bot loads it
    gc.collect()
    release_free_memory()
    model_mb = rss_mb() - before
    tracemalloc.start()
    again, _ = read_risk_model(dialogues / MODEL_FILE)
    kept_mib, peak_mib = (b / 2**20 for b in tracemalloc.get_traced_memory())
    tracemalloc.stop()
    del again
    features = sum(len(b) for b in model.blocks)
    n = model.neighbours
    index = f"; nearest examples: {len(n):,} examples, {len(n.docs):,} postings" if n else ""
    del model, n

    t0 = time.perf_counter()
    matcher, problems = load_risk_phrases(dialogues)
    load_s = time.perf_counter() - t0
    assert matcher is not None, problems
    texts = [e.text for e in read_examples([ROOT / "tests" / "safety_blind_c.yaml"])[0]]
    times = []
    for _ in range(args.rounds):
        for text in texts:
            start = time.perf_counter()
            assess(text, matcher)
            times.append(time.perf_counter() - start)
    q = statistics.quantiles(times, n=100)
    print(
        f"phrase list and model loaded in {load_s * 1000:.0f} ms; model: {features:,} "
        f"features{index}, {model_mb:.1f} MB resident once loaded; Python objects "
        f"(tracemalloc): {kept_mib:.1f} MiB kept, {peak_mib:.1f} MiB at the peak of loading"
    )
    print(
        f"{len(times):,} assessments of {len(texts)} messages: p50 {q[49] * 1e6:.0f} us, "
        f"p99 {q[98] * 1e6:.0f} us, max {max(times) * 1e6:.0f} us"
    )


if __name__ == "__main__":
    main()
