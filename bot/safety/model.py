"""The safety net's second opinion: a small linear model learned from labelled examples.

Phrases catch what someone thought to list; most risk is said in words nobody listed. The
model scores a message from its words, word pairs and letter groups, learned from the
examples in ``dialogues/safety/training/`` (reviewable YAML, like the phrases). It is
trained by ``babyloss-bot train`` (see ``bot/safety/train.py``) and stored as
``risk-model.json``; this module only reads that file and scores text, in pure Python, so
the bot needs no machine-learning library to run.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from bot.problems import Problem

MODEL_FORMAT = 1
WORD_NGRAMS = 3  # words, word pairs and word triples
CHAR_NGRAMS = (3, 5)  # letter groups inside each word, which survive most misspellings


def word_features(norm: str) -> list[str]:
    """Words, pairs and triples of a normalised text. ``|`` marks a cut (an everyday
    phrase removed by the phrase list's exceptions): no pair crosses it."""
    out: list[str] = []
    for segment in norm.split("|"):
        words = segment.split()
        for n in range(1, WORD_NGRAMS + 1):
            out.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return out


def char_features(norm: str) -> list[str]:
    """Letter groups of each word, padded with spaces so starts and ends count."""
    low, high = CHAR_NGRAMS
    out: list[str] = []
    for word in norm.replace("|", " ").split():
        padded = f" {word} "
        for n in range(low, high + 1):
            out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


ANALYZERS: dict[str, Callable[[str], list[str]]] = {"words": word_features, "chars": char_features}


@dataclass(frozen=True)
class Block:
    """One kind of feature: for each feature seen in training, its idf and its weight."""

    analyzer: str
    features: dict[str, tuple[float, float]]

    def vector(self, norm: str) -> dict[str, float]:
        # Sublinear tf-idf, scaled to unit length over the features the model knows:
        # exactly what scikit-learn's TfidfVectorizer(sublinear_tf=True) computes.
        counts = Counter(f for f in ANALYZERS[self.analyzer](norm) if f in self.features)
        values = {f: (1 + math.log(c)) * self.features[f][0] for f, c in counts.items()}
        length = math.sqrt(sum(v * v for v in values.values())) or 1.0
        return {f: v / length for f, v in values.items()}


@dataclass(frozen=True)
class RiskModel:
    blocks: tuple[Block, ...]
    bias: float
    threshold: float  # a probability: at or above it, the crisis reply is sent
    trained_on: str  # fingerprint of the training examples, to spot a stale model
    examples: int = 0
    ask_threshold: float = 1.0  # at or above it (and below threshold), ask directly first

    def contributions(self, norm: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for block in self.blocks:
            for f, v in block.vector(norm).items():
                key = f"{block.analyzer}:{f}"
                out[key] = out.get(key, 0.0) + v * block.features[f][1]
        return out

    def score(self, norm: str) -> float:
        """The probability, as the model sees it, that ``norm`` (a normalised text)
        shows risk."""
        z = self.bias + sum(self.contributions(norm).values())
        return 1 / (1 + math.exp(-max(min(z, 50.0), -50.0)))

    def fires(self, norm: str) -> bool:
        return self.score(norm) >= self.threshold

    def explain(self, norm: str, count: int = 4) -> list[str]:
        """The words that pushed the score up most, for people reviewing a decision
        (letter groups only when no word did: they mean little to a reader)."""
        parts = sorted(self.contributions(norm).items(), key=lambda kv: -kv[1])
        words = [f for f, w in parts if w > 0 and f.startswith("words:")]
        chosen = words or [f for f, w in parts if w > 0]
        return [f.split(":", 1)[1].strip() for f in chosen[:count]]

    def to_json(self, figures: dict | None = None) -> str:
        def r(x: float) -> float:
            return float(f"{x:.5g}")

        return json.dumps(
            {
                "format": MODEL_FORMAT,
                "trained_on": self.trained_on,
                "examples": self.examples,
                "threshold": r(self.threshold),
                "ask_threshold": r(self.ask_threshold),
                "bias": r(self.bias),
                "figures": figures or {},
                "blocks": [
                    {
                        "analyzer": b.analyzer,
                        "features": {f: [r(i), r(w)] for f, (i, w) in sorted(b.features.items())},
                    }
                    for b in self.blocks
                ],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )


def parse_risk_model(data: bytes, name: str) -> tuple[RiskModel | None, list[Problem]]:
    """Read ``risk-model.json``; any damage is a BL071 problem, never an exception."""

    def bad(why: str) -> tuple[None, list[Problem]]:
        return None, [Problem("BL071", f"the safety model cannot be used: {why}", name)]

    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return bad(f"it is not valid JSON ({exc})")
    if not isinstance(raw, dict) or raw.get("format") != MODEL_FORMAT:
        return bad(f"it is not a format-{MODEL_FORMAT} model file")
    try:
        blocks = []
        for b in raw["blocks"]:
            if b["analyzer"] not in ANALYZERS:
                return bad(f"unknown analyzer '{b['analyzer']}'")
            features = {str(f): (float(i), float(w)) for f, (i, w) in b["features"].items()}
            blocks.append(Block(b["analyzer"], features))
        threshold = float(raw["threshold"])
        ask = float(raw.get("ask_threshold", threshold))
        model = RiskModel(
            blocks=tuple(blocks),
            bias=float(raw["bias"]),
            threshold=threshold,
            trained_on=str(raw["trained_on"]),
            examples=int(raw.get("examples", 0)),
            ask_threshold=ask,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return bad(f"a part is missing or malformed ({exc!r})")
    if not blocks or not 0 < ask <= threshold < 1:
        return bad("it has no features, or its thresholds are not 0 < ask <= crisis < 1")
    return model, []
