"""How long validation takes on a large generated dialogue (target: 2,000 nodes < 0.5 s).

Run:  .venv/bin/python benchmarks/validate_bench.py [--nodes 2000] [--repeat 5]
Prints the best and median time to load and validate, from bytes, on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.dialogue.loader import load_dialogue  # noqa: E402
from bot.safety import load_risk_phrases  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def generate(nodes: int, files: int = 20) -> dict[str, bytes]:
    """A dialogue shaped like the real one: menus, chains of steps, conditions, languages."""
    out: dict[str, list[str]] = {f"part{f:02}.yaml": ["nodes:"] for f in range(files)}
    out["part00.yaml"] = [
        "entry_points: {start: n0, menu: n0, pause: n1, help: n2, crisis: n3}",
        "settings: {languages: [en, cy], variables: {relationship: unsure}}",
        "signposts:",
        "  samaritans: {text: {en: '<b>Samaritans</b>: 116 123', cy: '<b>Samaritans</b>: 116 123'},"
        " region: uk, source: https://www.samaritans.org, checked: 2026-11-01}",
        "nodes:",
    ]
    for i in range(nodes):
        nxt, other = (i + 1) % nodes, (i * 7 + 3) % nodes
        lines = [
            f"  n{i}:",
            "    note: {en: 'Content note: loss.', cy: 'Nodyn cynnwys: colled.'}"
            if i % 10 == 0
            else "",
            "    messages:",
            f"      - en: 'Step {i}. Hello {{first_name|there}}, this is <b>step</b> {i}.'",
            f"        cy: 'Cam {i}. Helo {{first_name|there}}, dyma <b>gam</b> {i}.'",
            "      - text: {en: 'Partners too.', cy: 'Partneriaid hefyd.'}",
            "        if: {relationship: partner}",
            "      - signposts: [samaritans]" if i % 50 == 0 else "",
            "    options:",
            f"      - {{label: {{en: 'Next', cy: 'Nesaf'}}, to: n{nxt},"
            " set: {relationship: partner}}",
            f"      - {{label: {{en: 'Elsewhere', cy: 'Rhywle arall'}}, to: n{other}}}",
            "      - {label: {en: 'Menu', cy: 'Dewislen'}, to: n0}",
        ]
        if i % 5 == 0:
            lines += [
                "    free_text:",
                f"      routes: [{{match: [help, support], to: n{other}}}]",
                "      fallback: n0",
            ]
        out[f"part{i % files:02}.yaml"].extend(line for line in lines if line)
    return {name: ("\n".join(lines) + "\n").encode() for name, lines in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    files = generate(args.nodes)
    phrases, _ = load_risk_phrases(ROOT / "dialogues")
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = load_dialogue(files, risk_phrases=phrases)
        times.append(time.perf_counter() - t0)
    assert result.ok, [p.format() for p in result.problems[:5]]
    size = sum(len(b) for b in files.values())
    print(
        f"validate: {args.nodes} nodes in {len(files)} files ({size / 1024:.0f} KiB), "
        f"{len(result.problems)} problems"
    )
    print(
        f"  best {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms "
        f"over {args.repeat} runs (target: under 500 ms)"
    )


if __name__ == "__main__":
    main()
