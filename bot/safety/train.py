"""Train the safety net's model from the labelled examples in ``dialogues/safety/training/``.

Reading and fingerprinting the examples is pure Python (the validator uses it to spot a
stale model); fitting needs scikit-learn, installed with ``pip install -e ".[train]"``.
The thresholds are chosen from cross-validation by writer: each training file is held out
in turn, the linear model and the nearest-example index are built from the others, and
the held-out scores say how the net does on a writer it has never seen.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from bot.dialogue.problems import Problem
from bot.dialogue.yaml_reader import YList, YMap, read_yaml
from bot.safety import neighbours as nn
from bot.safety.model import CHAR_NGRAMS, MODEL_FORMAT, WORD_NGRAMS, Block, RiskModel

TRAINING_DIR = Path("safety") / "training"
LABELS = {"risk": 1, "not_risk": 0, "unsure": None}  # unsure: reported, never trained on
REGULARISATION = 10.0  # scikit-learn's C; chosen by cross-validation by writer
# Issue 12's targets for ordinary messages: at most 2% get the crisis reply, at most 6%
# are asked "are you safe?". The thresholds keep held-out messages within both.
MAX_FALSE_POSITIVES = 0.02
MAX_ASKED = 0.06
# Targets for risk messages, reported beside the held-out figures.
TARGET_CRISIS = 0.85
TARGET_REACHED = 0.97
# How the parts combine, chosen by leave-one-writer-out (benchmarks/safety_model_variants.py):
BLEND = 0.5  # the score is BLEND * linear model + (1 - BLEND) * nearest examples' vote
PHRASE_GATE = 0.4  # a phrase match below this score is asked first, not sent the reply


@dataclass(frozen=True)
class Example:
    text: str
    label: int | None
    source: str  # the file it came from: one writer, for cross-validation


def training_files(dialogue_dir: Path) -> list[Path]:
    return sorted((dialogue_dir / TRAINING_DIR).glob("*.yaml"))


def fingerprint(files: list[Path], matcher) -> str:
    """A digest of the examples, of how text is prepared (the phrase list's exceptions and
    spellings) and of how features are made: a model trained from anything else is stale."""
    settings = (MODEL_FORMAT, WORD_NGRAMS, CHAR_NGRAMS, nn.K, nn.POWER, nn.MAX_DF, nn.PRIOR, BLEND)
    digest = hashlib.sha256(f"format {settings} {PHRASE_GATE}\n".encode())
    digest.update(matcher.signature().encode() + b"\0")
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def read_examples(files: list[Path]) -> tuple[list[Example], list[Problem]]:
    examples: list[Example] = []
    problems: list[Problem] = []
    for path in files:
        root, found = read_yaml(path.read_bytes(), str(path))
        problems += found
        if root is None or found:
            continue
        if not isinstance(root, YMap):
            problems.append(
                Problem("BL073", "the file should be a mapping with 'risk:'", str(path), 1, 1)
            )
            continue
        for key, items in root.items():
            if key not in LABELS:
                problems.append(
                    Problem("BL073", f"unknown list '{key}'", str(path), *root.where(key))
                )
                continue
            if not isinstance(items, YList):
                problems.append(
                    Problem("BL073", f"'{key}' should be a list", str(path), *root.where_value(key))
                )
                continue
            for i, text in enumerate(items):
                if isinstance(text, str) and text.strip():
                    examples.append(Example(text, LABELS[key], path.name))
                else:
                    problems.append(
                        Problem(
                            "BL073",
                            f"entry {i + 1} of '{key}' should be a message in quotes",
                            str(path),
                            *items.where(i),
                        )
                    )
    return examples, problems


def _fit(texts: list[str], labels: list[int], matcher):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_union

    from bot.safety.model import char_features, word_features

    def analyzer(fn):
        return lambda text: fn(matcher.prepare(text))  # as the bot will see it

    # Features seen in one message only are dropped: they teach the model one writer's
    # sentence, not a way of speaking, and would make the file several times larger.
    union = make_union(
        TfidfVectorizer(analyzer=analyzer(word_features), sublinear_tf=True, min_df=2),
        TfidfVectorizer(analyzer=analyzer(char_features), sublinear_tf=True, min_df=2),
    )
    matrix = union.fit_transform(texts)
    clf = LogisticRegression(C=REGULARISATION, max_iter=5000, class_weight="balanced")
    clf.fit(matrix, labels)
    return union, clf


def _export(union, clf, threshold: float, trained_on: str, examples: int) -> RiskModel:
    blocks = []
    offset = 0
    coef = clf.coef_[0]
    for (_, vec), name in zip(union.transformer_list, ("words", "chars"), strict=True):
        vocab = vec.vocabulary_
        features = {f: (float(vec.idf_[j]), float(coef[offset + j])) for f, j in vocab.items()}
        blocks.append(Block(name, features))
        offset += len(vocab)
    return RiskModel(
        tuple(blocks), float(clf.intercept_[0]), threshold, trained_on, examples, threshold
    )


def _neighbour_rows(union, texts: list[str], df=None):
    """The examples' word vectors as the nearest-example index sees them: features in at
    most ``MAX_DF`` training examples, scaled to unit length. Returns (rows, df)."""
    import numpy as np
    import scipy.sparse as sp

    words = union.transformer_list[0][1].transform(texts)
    if df is None:
        df = np.asarray((words > 0).sum(0)).ravel()
    kept = words @ sp.diags((df <= nn.MAX_DF).astype(float))
    length = np.sqrt(np.asarray(kept.multiply(kept).sum(1)).ravel())
    length[length == 0] = 1.0
    return (sp.diags(1 / length) @ kept).tocsr(), df


def neighbour_votes(train_rows, train_labels, test_rows):
    """What ``Neighbours.score`` computes, in numpy: for each test row, the share of risk
    among its ``K`` most similar training rows, each weighted by similarity ** POWER,
    beside one ordinary row of weight ``PRIOR``."""
    import numpy as np

    labels = np.asarray(train_labels, dtype=float)
    votes = []
    for start in range(0, test_rows.shape[0], 500):
        sims = (test_rows[start : start + 500] @ train_rows.T).toarray()
        top = np.argsort(-sims, axis=1, kind="stable")[:, : nn.K]
        s = np.clip(np.take_along_axis(sims, top, 1), 0, None) ** nn.POWER
        total = s.sum(1)
        risk = (s * labels[top]).sum(1)
        votes.append(risk / (total + nn.PRIOR))
    return np.concatenate(votes) if votes else np.zeros(0)


def _score_parts(fitted, batch: list[str]):
    """The linear model's probabilities and the nearest examples' votes for ``batch``."""
    import numpy as np

    union, clf, train_rows, train_labels, df = fitted
    if not batch:
        return np.zeros(0), np.zeros(0)
    rows, _ = _neighbour_rows(union, batch, df)
    linear = clf.predict_proba(union.transform(batch))[:, 1]
    return linear, neighbour_votes(train_rows, train_labels, rows)


def held_out_parts(examples: list[Example], matcher) -> dict:
    """Hold out each writer's file in turn, train on the others, and score the held-out
    file's messages: the linear model's probability, the nearest examples' vote, and for
    a message a phrase matches, the same two for the words around each match."""
    labelled = [e for e in examples if e.label is not None]
    sources = sorted({e.source for e in labelled})
    out: dict[str, list] = {k: [] for k in ("linear", "votes", "windows", "phrase", "label")}
    out["text"], out["source"] = [], []
    for source in sources:
        train = [e for e in labelled if e.source != source]
        test = [e for e in labelled if e.source == source]
        texts = [e.text for e in test]
        union, clf = _fit([e.text for e in train], [e.label for e in train], matcher)
        train_rows, df = _neighbour_rows(union, [e.text for e in train])
        fitted = (union, clf, train_rows, [e.label for e in train], df)
        linear, votes = _score_parts(fitted, texts)
        windows = [matcher.phrase_windows(matcher.prepare(t)) for t in texts]
        w_linear, w_votes = _score_parts(fitted, [w for ws in windows for w in ws])
        at = 0
        for ws in windows:
            pairs = zip(w_linear[at : at + len(ws)], w_votes[at : at + len(ws)], strict=True)
            out["windows"].append([(float(a), float(b)) for a, b in pairs])
            out["phrase"].append(bool(ws))
            at += len(ws)
        out["linear"] += [float(x) for x in linear]
        out["votes"] += [float(x) for x in votes]
        out["label"] += [e.label for e in test]
        out["text"] += texts
        out["source"] += [source] * len(test)
    out["writers"] = sources
    return out


def combine(parts: dict, blend: float = BLEND) -> list[tuple]:
    """Held-out (score, phrase matched, label, text, gate score) from the parts."""
    held = []
    for linear, votes, windows, phrase, label, text in zip(
        parts["linear"],
        parts["votes"],
        parts["windows"],
        parts["phrase"],
        parts["label"],
        parts["text"],
        strict=True,
    ):
        score = blend * linear + (1 - blend) * votes
        gate = max([score, *(blend * a + (1 - blend) * b for a, b in windows)])
        held.append((score, phrase, label, text, gate))
    return held


def cross_validate(examples: list[Example], matcher) -> dict:
    """Held-out scores by writer, as (score, phrase matched, label, text, gate score)."""
    parts = held_out_parts(examples, matcher)
    return {"held_out": combine(parts), "writers": parts["writers"], "sources": parts["source"]}


def by_writer(cv: dict, crisis_t: float, ask_t: float, gate: float) -> dict[str, dict]:
    """Each file's held-out figures at the chosen thresholds: how the net does on each
    writer it never learned from (``w9-blind-a`` and ``w14-blind-b`` were blind sets)."""
    out: dict[str, dict] = {}
    for source in cv["writers"]:
        rows = [h for h, s in zip(cv["held_out"], cv["sources"], strict=True) if s == source]
        level = [
            "crisis"
            if h[0] >= crisis_t or (h[1] and _gate(h) >= gate)
            else "ask"
            if h[1] or h[0] >= ask_t
            else ""
            for h in rows
        ]
        risk = [lv for lv, h in zip(level, rows, strict=True) if h[2] == 1]
        other = [lv for lv, h in zip(level, rows, strict=True) if h[2] == 0]
        out[source] = {
            "risk": len(risk),
            "other": len(other),
            "crisis_recall": round(risk.count("crisis") / max(len(risk), 1), 3),
            "reached_recall": round(sum(bool(lv) for lv in risk) / max(len(risk), 1), 3),
            "crisis_false_alarms": round(other.count("crisis") / max(len(other), 1), 3),
            "others_asked": round(other.count("ask") / max(len(other), 1), 3),
        }
    return out


def _gate(h: tuple) -> float:
    """What a held-out phrase match is judged by: its gate score when it has one."""
    return h[4] if len(h) > 4 else h[0]


def _phrase(text: str, matcher) -> bool:
    norm = matcher.prepare(text)
    return any(p.search(norm) for p in matcher.phrases)


def choose_thresholds(
    held: list[tuple],
    gate: float = PHRASE_GATE,
    crisis_limit: float = MAX_FALSE_POSITIVES,
    ask_limit: float = MAX_ASKED,
) -> tuple[float, float, dict]:
    """The crisis threshold: the lowest whose held-out crisis replies to ordinary messages
    (phrase matches at or above ``gate``, and scores at or above it) stay within
    ``crisis_limit``. Then the ask threshold: the lowest, no higher, whose ordinary
    messages asked first (phrase matches below the gate among them) stay within
    ``ask_limit``. Thresholds step by 0.001; returns them with the held-out figures."""
    import numpy as np

    score = np.array([h[0] for h in held])
    phrase = np.array([h[1] for h in held], dtype=bool)
    label = np.array([h[2] for h in held])
    risk, other = label == 1, label == 0
    gated = phrase & (np.array([_gate(h) for h in held]) >= gate)
    grid = np.round(np.arange(999, 0, -1) / 1000, 3)
    crisis_t = 0.999
    for t in grid:
        if other.any() and (gated | (score >= t))[other].mean() > crisis_limit:
            break
        crisis_t = float(t)
    crisis = gated | (score >= crisis_t)
    ask_t = crisis_t
    for t in grid[grid <= crisis_t]:
        if other.any() and (~crisis & (phrase | (score >= t)))[other].mean() > ask_limit:
            break
        ask_t = float(t)
    asked = ~crisis & (phrase | (score >= ask_t))

    def share(mask, group) -> float:
        return round(float(mask[group].mean()), 3) if group.any() else 0.0

    return (
        crisis_t,
        ask_t,
        {
            "crisis_recall": share(crisis, risk),
            "crisis_false_alarms": share(crisis, other),
            "reached_recall": share(crisis | asked, risk),
            "others_asked": share(asked, other),
        },
    )


def build_neighbours(union, labelled: list[Example], words: Block) -> nn.Neighbours:
    """The nearest-example index over all training examples, by the words block's
    feature positions, as the bot will use it."""
    from array import array

    rows, _ = _neighbour_rows(union, [e.text for e in labelled])
    columns = rows.tocsc()
    vocab = union.transformer_list[0][1].vocabulary_
    by_position = sorted((words.position(f), j) for f, j in vocab.items())
    offsets, docs, values = array("I", [0]), array("I"), array("f")
    for _, j in by_position:
        start, end = columns.indptr[j], columns.indptr[j + 1]
        docs.extend(int(d) for d in columns.indices[start:end])
        values.extend(float(v) for v in columns.data[start:end])
        offsets.append(len(docs))
    return nn.Neighbours(
        offsets,
        docs,
        values,
        array("B", (e.label for e in labelled)),
        [e.source for e in labelled],
        "\n".join(e.text.replace("\n", " ") for e in labelled),
    )


def train(dialogue_dir: Path, matcher) -> tuple[RiskModel | None, dict, list[Problem]]:
    files = training_files(dialogue_dir)
    examples, problems = read_examples(files)
    labelled = [e for e in examples if e.label is not None]
    if not problems and len({e.source for e in labelled}) < 2:
        problems.append(
            Problem(
                "BL073",
                "training needs examples from at least two files (writers)",
                str(dialogue_dir / TRAINING_DIR),
            )
        )
    if problems:
        return None, {}, problems
    cv = cross_validate(examples, matcher)
    threshold, ask, held = choose_thresholds(cv["held_out"])
    figures = {
        "held_out_by_writer": held,
        "targets": {
            "crisis_recall": TARGET_CRISIS,
            "crisis_false_alarms": MAX_FALSE_POSITIVES,
            "reached_recall": TARGET_REACHED,
            "others_asked": MAX_ASKED,
        },
        "writers": cv["writers"],
        "by_writer": by_writer(cv, threshold, ask, min(PHRASE_GATE, threshold)),
        "risk_examples": sum(e.label == 1 for e in labelled),
        "other_examples": sum(e.label == 0 for e in labelled),
    }
    union, clf = _fit([e.text for e in labelled], [e.label for e in labelled], matcher)
    model = _export(union, clf, threshold, fingerprint(files, matcher), len(labelled))
    index = build_neighbours(union, labelled, model.blocks[0])
    model = replace(
        model,
        ask_threshold=ask,
        neighbours=index,
        blend=BLEND,
        phrase_gate=min(PHRASE_GATE, threshold),
    )
    return model, figures, []
