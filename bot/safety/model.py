"""The safety net's second opinion: a small linear model learned from labelled examples.

Phrases catch what someone thought to list; most risk is said in words nobody listed. The
model scores a message from its words, word pairs and letter groups, learned from the
examples in ``dialogues/safety/training/`` (reviewable YAML, like the phrases). It is
trained by ``babyloss-bot train`` (see ``bot/safety/train.py``) and stored as
``risk-model.json``; this module only reads that file and scores text, in pure Python, so
the bot needs no machine-learning library to run.
"""

from __future__ import annotations

import base64
import json
import math
import sys
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from bot.problems import Problem

MODEL_FORMAT = 2  # 2: features as one string, idf and weights as packed doubles
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


class Block:
    """One kind of feature: for each feature seen in training, its idf and its weight.

    Kept as one dict of positions and two arrays of doubles rather than a tuple per
    feature: about 40,000 features then take some 6 MB less, on a bot meant for small
    servers."""

    __slots__ = ("analyzer", "index", "idf", "weight", "_names")

    def __init__(self, analyzer: str, features: dict[str, tuple[float, float]]) -> None:
        self.analyzer = analyzer
        self.index = {f: i for i, f in enumerate(features)}
        self.idf = array("d", (v[0] for v in features.values()))
        self.weight = array("d", (v[1] for v in features.values()))
        self._names: list[str] | None = None  # built only when a decision is explained

    @classmethod
    def packed(cls, analyzer: str, names: list[str], idf: array, weight: array) -> Block:
        block = cls(analyzer, {})
        block.index = dict(zip(names, range(len(names)), strict=True))
        block.idf, block.weight, block._names = idf, weight, names
        return block

    def pack(self) -> dict:
        names = self._names or list(self.index)
        return {
            "analyzer": self.analyzer,
            "features": "\n".join(names),
            "idf": _pack(self.idf),
            "weight": _pack(self.weight),
        }

    def __len__(self) -> int:
        return len(self.index)

    def vector(self, norm: str) -> dict[int, float]:
        # Sublinear tf-idf, scaled to unit length over the features the model knows:
        # exactly what scikit-learn's TfidfVectorizer(sublinear_tf=True) computes.
        index = self.index
        counts = Counter(index[f] for f in ANALYZERS[self.analyzer](norm) if f in index)
        values = {i: (1 + math.log(c)) * self.idf[i] for i, c in counts.items()}
        length = math.sqrt(sum(v * v for v in values.values())) or 1.0
        return {i: v / length for i, v in values.items()}

    def feature(self, position: int) -> str:
        if self._names is None:
            self._names = list(self.index)  # insertion order is position order
        return self._names[position]


@dataclass(frozen=True)
class RiskModel:
    blocks: tuple[Block, ...]
    bias: float
    threshold: float  # a probability: at or above it, the crisis reply is sent
    trained_on: str  # fingerprint of the training examples, to spot a stale model
    examples: int = 0
    ask_threshold: float = 1.0  # at or above it (and below threshold), ask directly first

    def score(self, norm: str) -> float:
        """The probability, as the model sees it, that ``norm`` (a normalised text)
        shows risk."""
        z = self.bias
        for block in self.blocks:
            z += sum(v * block.weight[i] for i, v in block.vector(norm).items())
        return 1 / (1 + math.exp(-max(min(z, 50.0), -50.0)))

    def contributions(self, norm: str) -> dict[str, float]:
        """What each feature added to the score (slow: for explaining, not deciding)."""
        out: dict[str, float] = {}
        for block in self.blocks:
            for i, v in block.vector(norm).items():
                key = f"{block.analyzer}:{block.feature(i)}"
                out[key] = out.get(key, 0.0) + v * block.weight[i]
        return out

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
        # Features and numbers are packed (not a JSON object per feature): the file loads
        # in a fraction of the memory, and its numbers are exactly the trained ones.
        return json.dumps(
            {
                "format": MODEL_FORMAT,
                "trained_on": self.trained_on,
                "examples": self.examples,
                "threshold": self.threshold,
                "ask_threshold": self.ask_threshold,
                "bias": self.bias,
                "figures": figures or {},
                "blocks": [b.pack() for b in self.blocks],
            },
            ensure_ascii=False,
            indent=1,
        )


def _pack(values: array) -> str:
    data = array("d", values)
    if sys.byteorder == "big":  # the file is little-endian everywhere
        data.byteswap()
    return base64.b64encode(data.tobytes()).decode("ascii")


def _unpack(text: str, count: int) -> array:
    data = array("d")
    data.frombytes(base64.b64decode(text, validate=True))
    if sys.byteorder == "big":
        data.byteswap()
    if len(data) != count:
        raise ValueError(f"{len(data)} numbers for {count} features")
    return data


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
            names = b["features"].split("\n")
            idf, weight = _unpack(b["idf"], len(names)), _unpack(b["weight"], len(names))
            blocks.append(Block.packed(b["analyzer"], names, idf, weight))
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
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # bad base64 is a ValueError
        return bad(f"a part is missing or malformed ({exc!r})")
    if not blocks or not all(len(b) for b in blocks) or not 0 < ask <= threshold < 1:
        return bad("it has no features, or its thresholds are not 0 < ask <= crisis < 1")
    return model, []
