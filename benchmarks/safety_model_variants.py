"""Compare ways of combining the safety net's parts, held out by writer, before changing it.

Run:  .venv/bin/python benchmarks/safety_model_variants.py [--k 40] [--power 3] [--max-df 300]
      [--blend 0.5] [--gate 0.4]                              (needs the [train] extra)

Every training file is held out in turn: the linear model and the nearest-example index
are built from the other files, and the held-out file is scored. Each variant's thresholds
are then chosen as `babyloss-bot train` chooses them: the crisis reply for at most 2% of
ordinary held-out messages, asking first for at most 6% more. Printed for each variant:
the share of risk messages that get the crisis reply, and that get it or are asked.

Variants: the phrase list OR the linear model (the design of 2026-11-30); the linear model
alone, phrases ignored; the phrase list OR linear model and nearest examples averaged; and
the same with the phrase gate (the shipped design: a phrase match gets the crisis reply
unless the score is below the gate, then it is asked first). The options set the nearest
examples' settings for the last two.

On 2026-12-05 (22 writers, 6,532 risk and 7,812 other examples; k 40, power 3, max-df
300, prior 0.02, blend 0.5, gate 0.4), crisis reply / crisis reply or asked, at 2.0% and
about 6% of others: phrases OR linear 0.744 / 0.928; linear alone 0.779 / 0.923; linear
with phrase gate 0.773 / 0.928; phrases OR blend 0.793 / 0.946; blend alone 0.822 / 0.942;
blend with the gate on the message only 0.824 / 0.946; shipped 0.825 / 0.946. Earlier
runs (20 writers, in a scratch script): nearest examples over words and letter groups
gave half a point more than words alone, at several times the cost per message; k 20-80,
power 2-6, blend 0.4-0.6 and gate 0.3-0.6 all gave 0.81-0.83.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.safety import neighbours as nn  # noqa: E402
from bot.safety import parse_risk_phrases  # noqa: E402
from bot.safety import train as T  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=nn.K)
    parser.add_argument("--power", type=float, default=nn.POWER)
    parser.add_argument("--max-df", type=int, default=nn.MAX_DF)
    parser.add_argument("--blend", type=float, default=T.BLEND)
    parser.add_argument("--gate", type=float, default=T.PHRASE_GATE)
    args = parser.parse_args()
    nn.K, nn.POWER, nn.MAX_DF = args.k, args.power, args.max_df  # for neighbour_votes

    dialogues = ROOT / "dialogues"
    phrases = dialogues / "safety" / "risk-phrases.yaml"  # the model itself is not needed
    matcher, problems = parse_risk_phrases(phrases.read_bytes(), str(phrases))
    if matcher is None:
        sys.exit(f"the phrase list has problems: {problems}")
    examples, _ = T.read_examples(T.training_files(dialogues))
    labelled = [e for e in examples if e.label is not None]
    writers = sorted({e.source for e in labelled})
    print(f"{len(labelled)} examples from {len(writers)} writers, each held out in turn")
    started = time.perf_counter()
    parts = T.held_out_parts(examples, matcher)
    print(f"held-out scores in {time.perf_counter() - started:.0f} s")
    only_linear = T.combine(parts, 1.0)
    blended = T.combine(parts, args.blend)

    def without_windows(held):
        return [(s, p, y, t) for s, p, y, t, _ in held]

    def ignoring_phrases(held):
        return [(s, False, y, t) for s, _, y, t, _ in held]

    variants = [
        ("phrases OR linear model (2026-11-30)", without_windows(only_linear), 0.0),
        ("linear model alone, phrases ignored", ignoring_phrases(only_linear), 0.0),
        ("linear model, phrase gate", only_linear, args.gate),
        ("phrases OR blend of linear and nearest", without_windows(blended), 0.0),
        ("blend, phrases ignored", ignoring_phrases(blended), 0.0),
        ("blend, phrase gate on the message only", without_windows(blended), args.gate),
        ("blend, phrase gate, words around (shipped)", blended, args.gate),
    ]
    for name, held, gate in variants:
        crisis, ask, f = T.choose_thresholds(held, gate)
        print(
            f"{name:44} crisis reply {f['crisis_recall']:.3f} at "
            f"{f['crisis_false_alarms']:.1%} of others; crisis reply or asked "
            f"{f['reached_recall']:.3f}, others asked {f['others_asked']:.1%} "
            f"(thresholds {crisis:.3f}, {ask:.3f})"
        )


if __name__ == "__main__":
    main()
