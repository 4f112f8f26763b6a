"""The safety model's memory of its examples: which training messages a new one is most like.

Beside the linear model (``bot/safety/model.py``), the net asks "what were the messages most
like this one, and were they risk?". Messages are compared on the same tf-idf vectors of
words, word pairs and word triples the linear model uses, leaving out the commonest
features ("i", "my", "the": in more than ``MAX_DF`` examples), which say little about
meaning and would make each comparison slow. The score is the share of risk among the
``K`` nearest examples, each counted by its similarity to the power ``POWER``, so the
closest count most, beside one ordinary example of weight ``PRIOR``, so that a message
with no close examples gets little vote. Leave-one-writer-out chose these settings (see
``benchmarks/safety_model_variants.py``).

It runs in pure Python: an inverted index (for each feature, the examples that have it
and their weights, in packed arrays) means a message is compared only with examples that
share one of its rarer features, in a few milliseconds.
"""

from __future__ import annotations

import base64
import heapq
import math
import sys
import zlib
from array import array
from operator import itemgetter

K = 40  # how many nearest examples vote
POWER = 3.0  # a neighbour's vote is its similarity to this power
MAX_DF = 300  # features in more examples than this are left out of the comparison
# The vote counts, beside the nearest examples, one ordinary example of this weight: a
# message that shares only a word or two with anything ("31 February") has no close
# examples, and one distant risk example must not make its vote 1.
PRIOR = 0.02


class Neighbours:
    """An inverted index over the training examples' word vectors.

    ``offsets[p]:offsets[p + 1]`` are the postings of the feature at position ``p`` of the
    words block: an example number and that example's weight for the feature, a number
    from 0 to 1 kept as a whole number of 1/65535 (two bytes, on a bot meant for small
    servers). A feature with no postings is one left out of the comparison."""

    __slots__ = ("offsets", "docs", "values", "labels", "files", "source", "_texts", "_split")

    def __init__(
        self,
        offsets: array,
        docs: array,
        values: array,
        labels: array,
        sources: list[str],
        texts: str | bytes,
    ) -> None:
        self.offsets = offsets
        # Example numbers in two bytes where they fit.
        self.docs = array("H", docs) if len(labels) < 65536 and docs.typecode != "H" else docs
        if values.typecode != "H":
            values = array("H", (round(v * 65535) for v in values))
        self.values = values
        self.labels = labels  # 1 risk, 0 not; one byte per example
        self.files = sorted(set(sources))  # the training files, for explanations
        index = {name: i for i, name in enumerate(self.files)}
        self.source = array("H", (index[s] for s in sources))  # per example: its file
        # The examples, one a line, as compressed UTF-8: only explanations read them, and
        # the bot, which never does, should not keep a megabyte of text for them.
        self._texts = zlib.compress(texts.encode("utf-8"), 6) if isinstance(texts, str) else texts
        self._split: list[str] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def nearest(self, vector: dict[int, float], k: int = K) -> list[tuple[int, float]]:
        """The ``k`` examples most like ``vector`` (a words-block tf-idf vector), with
        their cosine similarity, nearest first."""
        offsets, docs, values = self.offsets, self.docs, self.values
        kept = {p: v for p, v in vector.items() if offsets[p + 1] > offsets[p]}
        length = math.sqrt(sum(v * v for v in kept.values())) * 65535
        if not length:
            return []
        acc: dict[int, float] = {}
        get = acc.get
        for p, v in kept.items():
            start, end = offsets[p], offsets[p + 1]
            q = v / length
            for d, w in zip(docs[start:end], values[start:end], strict=True):
                acc[d] = get(d, 0.0) + q * w
        return heapq.nlargest(k, acc.items(), key=itemgetter(1))

    def score(self, vector: dict[int, float]) -> float:
        """The similarity-weighted share of risk among the nearest examples and one
        ordinary example of weight ``PRIOR`` (0 when no example shares a feature)."""
        total = risk = 0.0
        labels = self.labels
        for d, s in self.nearest(vector):
            if s > 0:
                w = s**POWER
                total += w
                risk += w * labels[d]
        return risk / (total + PRIOR)

    @property
    def sources(self) -> list[str]:
        return [self.files[i] for i in self.source]

    def text(self, doc: int) -> str:
        if self._split is None:
            self._split = zlib.decompress(self._texts).decode("utf-8").split("\n")
        return self._split[doc]

    def pack(self, order: list[int]) -> dict:
        """For the model file, with features in ``order`` (block position of each feature
        in the file's order), so that the file does not depend on Python's hashes."""
        offsets, docs, values = array("I", [0]), array("I"), array("H")
        for p in order:
            start, end = self.offsets[p], self.offsets[p + 1]
            docs.extend(self.docs[start:end].tolist())
            values.extend(self.values[start:end])
            offsets.append(len(docs))
        # Compressed, then base64: the file stays ASCII and small, so that reading it
        # takes little memory beyond what the bot then keeps.
        return {
            "k": K,
            "power": POWER,
            "max_df": MAX_DF,
            "prior": PRIOR,
            "offsets": pack_array(offsets),
            "docs": pack_array(docs),
            "values": pack_array(values),
            "labels": pack_array(array("B", self.labels)),
            "files": self.files,
            "source": pack_array(array("B", self.source)),
            "texts": base64.b64encode(self._texts).decode("ascii"),
        }

    @classmethod
    def unpack(cls, raw: dict, order: array) -> Neighbours:
        """Read the file's form back; ``order[p]`` is the file's position of the feature at
        block position ``p`` of the words block. Raises ValueError or KeyError on damage.

        Each field is taken out of ``raw`` and dropped once it is an array, and arrays are
        decompressed a piece at a time: the bot's peak memory is set while it loads."""
        if (raw["k"], raw["power"], raw["max_df"], raw["prior"]) != (K, POWER, MAX_DF, PRIOR):
            raise ValueError("the nearest-example settings differ from this version's")
        labels = unpack_array("B", raw.pop("labels"))
        count = len(labels)
        source = unpack_array("B", raw.pop("source"))
        file_offsets = unpack_array("I", raw.pop("offsets"))
        # Example numbers in two bytes where they fit, as the bot keeps them.
        file_docs = unpack_array("I", raw.pop("docs"), "H" if count < 65536 else "I")
        file_values = unpack_array("H", raw.pop("values"))
        texts = base64.b64decode(raw.pop("texts"), validate=True)  # kept compressed
        files = [str(f) for f in raw["files"]]
        if (
            len(file_offsets) != len(order) + 1
            or file_offsets[0] != 0
            or file_offsets[-1] != len(file_docs)
            or len(file_values) != len(file_docs)
            or any(b > a for a, b in zip(file_offsets[1:], file_offsets, strict=False))
            or (file_docs and max(file_docs) >= count)
            or any(x > 1 for x in labels)
            or len(source) != count
            or (source and max(source) >= len(files))
            or _count_lines(texts) != count
        ):
            raise ValueError("the nearest-example index is inconsistent")
        # Postings in block-position order, for lookups by position (arrays only: loading
        # should not need much more memory than the bot then keeps).
        offsets = array("I", [0])
        docs = array(file_docs.typecode)
        values = array("H")
        for j in order:
            start, end = file_offsets[j], file_offsets[j + 1]
            docs.extend(file_docs[start:end])
            values.extend(file_values[start:end])
            offsets.append(len(docs))
        del file_offsets, file_docs, file_values
        return cls(offsets, docs, values, labels, [files[i] for i in source], texts)


CHUNK = 1 << 16  # bytes decompressed at a time while loading


def _pieces(packed: bytes):
    """The decompressed bytes of ``packed`` (zlib), a piece at a time, so that the whole
    is never held beside what it becomes. Raises ValueError if the stream is damaged."""
    stream = zlib.decompressobj()
    tail = packed
    try:
        while not stream.eof:
            piece = stream.decompress(tail, CHUNK)
            tail = stream.unconsumed_tail
            if not piece and not tail and not stream.eof:
                raise ValueError("incomplete or truncated stream")
            yield piece
    except zlib.error as exc:
        raise ValueError(f"damaged compressed data ({exc})") from None


def _count_lines(packed: bytes) -> int:
    return sum(piece.count(b"\n") for piece in _pieces(packed)) + 1


def pack_array(data: array) -> str:
    data = array(data.typecode, data)
    if sys.byteorder == "big":  # the file is little-endian everywhere
        data.byteswap()
    return base64.b64encode(zlib.compress(data.tobytes(), 6)).decode("ascii")


def unpack_array(typecode: str, text: str, into: str | None = None) -> array:
    """The array ``pack_array`` packed, decompressed straight into it piece by piece;
    with ``into``, as an array of that type (ValueError if a number does not fit)."""
    data = array(into or typecode)
    size = data.itemsize if into is None else array(typecode).itemsize
    left = b""  # the end of a piece that is not a whole number yet
    for piece in _pieces(base64.b64decode(text, validate=True)):
        if left:
            piece = left + piece
        whole = len(piece) - len(piece) % size
        numbers = array(typecode, piece[:whole])
        left = piece[whole:]
        if sys.byteorder == "big":  # the file is little-endian everywhere
            numbers.byteswap()
        if into is None:
            data.extend(numbers)
        else:
            try:
                data.fromlist(numbers.tolist())
            except OverflowError:
                raise ValueError(f"a number does not fit in type '{into}'") from None
    if left:
        raise ValueError("bytes length not a multiple of item size")
    return data
