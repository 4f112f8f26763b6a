"""The safety net's second opinion: a small linear model learned from labelled examples.

Phrases catch what someone thought to list; most risk is said in words nobody listed. The
model scores a message from its words, word pairs and letter groups, learned from the
examples in ``dialogues/safety/training/`` (reviewable YAML, like the phrases). It is
trained by ``babyloss-bot train`` (see ``bot/safety/train.py``) and stored as
``risk-model.json``; this module only reads that file and scores text, in pure Python, so
the bot needs no machine-learning library to run. The file also holds the nearest-example
index (``bot/safety/neighbours.py``), whose vote is averaged with the linear model's
probability into the score the net decides by.
"""

from __future__ import annotations

import base64
import json
import math
import sys
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from bot.dialogue.problems import Problem
from bot.safety.neighbours import Neighbours

MODEL_FORMAT = 3  # 3: with the nearest-example index; 2: features as one string, packed numbers
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

    Features are found by their hash in one sorted array of 64-bit numbers, beside two
    arrays of doubles, rather than in a dict of strings: 57,000 features take about 2 MB
    instead of 8, on a bot meant for small servers. The names themselves are kept as one
    string, split only to explain a decision. (Python's string hash is 64 bits; the chance
    that a word the model never saw shares a hash with one it knows is about 1 in 10^14
    a message. Two known features sharing one are told apart by name.)"""

    __slots__ = ("analyzer", "keys", "idf", "weight", "_text", "_names", "_shared")

    def __init__(self, analyzer: str, features: dict[str, tuple[float, float]]) -> None:
        self._build(
            analyzer,
            "\n".join(features),
            len(features),
            array("d", (v[0] for v in features.values())),
            array("d", (v[1] for v in features.values())),
        )

    @classmethod
    def unpack(cls, raw: dict) -> tuple[Block, array]:
        """A block from the model file's form, taking its fields out of ``raw`` as they
        are read; with, for each position in the block, the feature's position in the
        file. Raises ValueError (bad base64 too), KeyError or TypeError on damage."""
        analyzer = raw.pop("analyzer")
        text = raw.pop("features")
        count = text.count("\n") + 1  # "" is one feature, as "".split("\n") says
        idf = _unpack(raw.pop("idf"), count)
        weight = _unpack(raw.pop("weight"), count)
        block = cls.__new__(cls)
        order = block._build(analyzer, text, count, idf, weight)
        return block, order

    def _build(self, analyzer: str, text: str, count: int, idf: array, weight: array) -> array:
        """``text``: the ``count`` names, one a line, in the order of ``idf`` and
        ``weight``. Returns, for each block position, the name's position in ``text``.

        The names are read as slices of ``text``, one at a time, and sorted as single
        numbers (hash and position in one): a list of 66,000 strings, or of their hashes
        and positions side by side, would take more memory than the whole model keeps,
        and the bot's peak is set while the model loads."""
        self.analyzer = analyzer
        ends = array("I")  # where each name ends in text
        at = text.find("\n")
        while at != -1:
            ends.append(at)
            at = text.find("\n", at + 1)
        ends.append(len(text))
        del ends[count:]  # no names at all: text "" and count 0

        def name(j: int) -> str:
            return text[ends[j - 1] + 1 if j else 0 : ends[j]]

        shift = max(count.bit_length(), 1)
        # Sorted by hash, then by position in text (as a stable sort by hash would).
        combined = sorted((hash(name(j)) << shift) | j for j in range(count))
        self.keys = array("q", (c >> shift for c in combined))
        mask = (1 << shift) - 1
        order = array("I", (c & mask for c in combined))
        del combined
        self.idf = array("d", (idf[j] for j in order))
        self.weight = array("d", (weight[j] for j in order))
        del idf, weight
        # The names in block order, joined a thousand at a time (not all at once).
        self._text = "\n".join(
            "\n".join(name(j) for j in order[i : i + 1000]) for i in range(0, count, 1000)
        )
        self._names: list[str] | None = None  # split from _text only to explain a decision
        self._shared: dict[int, dict[str, int]] = {}  # hash -> {name: position}, if ever
        keys = self.keys
        for pos in range(1, count):
            if keys[pos] == keys[pos - 1]:
                h = keys[pos]
                first = bisect_left(keys, h)
                self._shared[h] = {name(order[p]): p for p in range(first, pos + 1)}
        return order

    def pack(self) -> dict:
        # By name, so that training the same examples again writes the same file.
        rows = sorted(zip(self.names(), self.idf, self.weight, strict=True))
        return {
            "analyzer": self.analyzer,
            "features": "\n".join(r[0] for r in rows),
            "idf": _pack(array("d", (r[1] for r in rows))),
            "weight": _pack(array("d", (r[2] for r in rows))),
        }

    def __len__(self) -> int:
        return len(self.keys)

    def position(self, feature: str) -> int | None:
        h = hash(feature)
        keys = self.keys
        i = bisect_left(keys, h)
        if i == len(keys) or keys[i] != h:
            return None
        if self._shared and h in self._shared:
            return self._shared[h].get(feature)
        return i

    def vector(self, norm: str) -> dict[int, float]:
        # Sublinear tf-idf, scaled to unit length over the features the model knows:
        # exactly what scikit-learn's TfidfVectorizer(sublinear_tf=True) computes.
        found = (self.position(f) for f in ANALYZERS[self.analyzer](norm))
        counts = Counter(i for i in found if i is not None)
        values = {i: (1 + math.log(c)) * self.idf[i] for i, c in counts.items()}
        length = math.sqrt(sum(v * v for v in values.values())) or 1.0
        return {i: v / length for i, v in values.items()}

    def names(self) -> list[str]:
        if self._names is None:
            self._names = self._text.split("\n") if self._text else []
        return self._names

    def feature(self, position: int) -> str:
        return self.names()[position]


@dataclass(frozen=True)
class RiskModel:
    blocks: tuple[Block, ...]
    bias: float
    threshold: float  # at or above it, the crisis reply is sent
    trained_on: str  # fingerprint of the training examples, to spot a stale model
    examples: int = 0
    ask_threshold: float = 1.0  # at or above it (and below threshold), ask directly first
    neighbours: Neighbours | None = None  # the nearest training examples' vote, if any
    blend: float = 1.0  # the score is blend * linear + (1 - blend) * neighbours
    # A phrase match gets the crisis reply unless the score is below this (then the parent
    # is asked first, with the numbers shown): see dialogues/safety/README.md.
    phrase_gate: float = 0.0

    def linear_score(self, norm: str) -> float:
        """The linear model's probability that ``norm`` (a normalised text) shows risk."""
        return self._linear([block.vector(norm) for block in self.blocks])

    def _linear(self, vectors: list[dict[int, float]]) -> float:
        z = self.bias
        for block, vector in zip(self.blocks, vectors, strict=True):
            weight = block.weight
            z += sum(v * weight[i] for i, v in vector.items())
        return 1 / (1 + math.exp(-max(min(z, 50.0), -50.0)))

    def score(self, norm: str) -> float:
        """How strongly ``norm`` shows risk, from 0 to 1: the linear model's probability,
        averaged with the nearest examples' vote when the model has them."""
        vectors = [block.vector(norm) for block in self.blocks]  # made once, used twice
        linear = self._linear(vectors)
        if self.neighbours is None:
            return linear
        vote = self.neighbours.score(vectors[0])
        return self.blend * linear + (1 - self.blend) * vote

    def nearest(self, norm: str, count: int = 3) -> list[tuple[str, str, float, str]]:
        """The training examples most like ``norm``: (text, label, similarity, file)."""
        if self.neighbours is None:
            return []
        n = self.neighbours
        return [
            (n.text(d), "risk" if n.labels[d] else "not_risk", s, n.sources[d])
            for d, s in n.nearest(self.blocks[0].vector(norm), count)
        ]

    def contributions(self, norm: str) -> dict[str, float]:
        """What each feature added to the linear score (slow: for explaining, not deciding)."""
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
                "blend": self.blend,
                "phrase_gate": self.phrase_gate,
                "figures": figures or {},
                "blocks": [b.pack() for b in self.blocks],
                "neighbours": self._pack_neighbours(),
            },
            indent=1,
        )

    def _pack_neighbours(self) -> dict | None:
        if self.neighbours is None:
            return None
        names = self.blocks[0].names()
        return self.neighbours.pack(sorted(range(len(names)), key=names.__getitem__))


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
    return parse_raw_model(raw, name)


def read_risk_model(path) -> tuple[RiskModel | None, list[Problem]]:
    """``parse_risk_model`` on a file, in as little memory as it can: the bot's peak is
    set while it loads. The file is read as text (``json.loads`` of bytes would hold the
    bytes, their text and the parsed strings at once), and each part of it is dropped
    once converted. OSError is the caller's."""
    try:
        try:
            with open(path, encoding="utf-8-sig") as file:  # a BOM, as json.loads allows
                raw = json.load(file)
        except ValueError:  # UTF-16 or 32, or not JSON: read and judged exactly as before
            raw = json.loads(path.read_bytes())
    except ValueError as exc:  # UnicodeDecodeError is one
        return None, [
            Problem(
                "BL071", f"the safety model cannot be used: it is not valid JSON ({exc})", str(path)
            )
        ]
    return parse_raw_model(raw, str(path))


def parse_raw_model(raw, name: str) -> tuple[RiskModel | None, list[Problem]]:
    """The model from the parsed file, taking ``raw`` apart as it goes."""

    def bad(why: str) -> tuple[None, list[Problem]]:
        return None, [Problem("BL071", f"the safety model cannot be used: {why}", name)]

    if not isinstance(raw, dict) or raw.get("format") != MODEL_FORMAT:
        return bad(f"it is not a format-{MODEL_FORMAT} model file")
    try:
        blocks = []
        orders = []
        raw_blocks = raw.pop("blocks")
        raw_blocks.reverse()  # popped from the end, in the file's order
        while raw_blocks:
            b = raw_blocks.pop()
            if b["analyzer"] not in ANALYZERS:
                return bad(f"unknown analyzer '{b['analyzer']}'")
            block, order = Block.unpack(b)
            del b
            blocks.append(block)
            orders.append(order)
        threshold = float(raw["threshold"])
        ask = float(raw.get("ask_threshold", threshold))
        neighbours = None
        if raw.get("neighbours") is not None:
            if not blocks or blocks[0].analyzer != "words":
                return bad("nearest examples need a first block of words")
            neighbours = Neighbours.unpack(raw.pop("neighbours"), orders[0])
        del orders
        blend = float(raw.get("blend", 1.0))
        gate = float(raw.get("phrase_gate", 0.0))
        model = RiskModel(
            blocks=tuple(blocks),
            bias=float(raw["bias"]),
            threshold=threshold,
            trained_on=str(raw["trained_on"]),
            examples=int(raw.get("examples", 0)),
            ask_threshold=ask,
            neighbours=neighbours,
            blend=blend,
            phrase_gate=gate,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # bad base64 is a ValueError
        return bad(f"a part is missing or malformed ({exc!r})")
    if not blocks or not all(len(b) for b in blocks) or not 0 < ask <= threshold < 1:
        return bad("it has no features, or its thresholds are not 0 < ask <= crisis < 1")
    if not 0 <= blend <= 1 or not 0 <= gate <= threshold:
        return bad("its blend is not between 0 and 1, or its phrase gate not 0 <= gate <= crisis")
    return model, []
