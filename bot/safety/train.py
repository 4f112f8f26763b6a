"""Train the safety net's model from the labelled examples in ``dialogues/safety/training/``.

Reading and fingerprinting the examples is pure Python (the validator uses it to spot a
stale model); fitting needs scikit-learn, installed with ``pip install -e ".[train]"``.
The threshold is chosen from cross-validation by writer: each training file is held out in
turn, so the figures say how the net does on a writer it has never seen.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from bot.dialogue.problems import Problem
from bot.dialogue.yaml_reader import YList, YMap, read_yaml
from bot.safety.model import CHAR_NGRAMS, MODEL_FORMAT, WORD_NGRAMS, Block, RiskModel

TRAINING_DIR = Path("safety") / "training"
LABELS = {"risk": 1, "not_risk": 0, "unsure": None}  # unsure: reported, never trained on
REGULARISATION = 10.0  # scikit-learn's C; chosen by cross-validation by writer
MAX_FALSE_POSITIVES = 0.025  # the threshold keeps held-out false alarms at or below this
MAX_ASKED = 0.10  # at most this share of other held-out messages is asked "are you safe?"


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
    digest = hashlib.sha256(f"format {MODEL_FORMAT} {WORD_NGRAMS} {CHAR_NGRAMS}\n".encode())
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


def cross_validate(examples: list[Example], matcher) -> dict:
    """Hold out each writer's file in turn; return held-out scores and phrase matches."""
    from bot.safety import is_risk

    labelled = [e for e in examples if e.label is not None]
    sources = sorted({e.source for e in labelled})
    held: list[tuple[float, bool, int, str]] = []  # score, phrase fired, label, text
    for source in sources:
        train = [e for e in labelled if e.source != source]
        test = [e for e in labelled if e.source == source]
        union, clf = _fit([e.text for e in train], [e.label for e in train], matcher)
        scores = clf.predict_proba(union.transform([e.text for e in test]))[:, 1]
        held += [
            (float(s), is_risk(e.text, matcher), e.label, e.text)
            for s, e in zip(scores, test, strict=True)
        ]
    return {"held_out": held, "writers": sources}


def choose_threshold(
    held: list[tuple[float, bool, int, str]], limit: float = MAX_FALSE_POSITIVES
) -> tuple[float, dict]:
    """The lowest threshold whose held-out alarms on other messages (phrases and model
    together) stay at or below ``limit``: as much recall as that allows."""
    risk = [(s, p) for s, p, label, _ in held if label == 1]
    other = [(s, p) for s, p, label, _ in held if label == 0]
    best = (0.99, {})
    for step in range(99, 4, -1):
        t = step / 100
        fp = sum(p or s >= t for s, p in other) / len(other)
        if fp > limit:
            break
        recall = sum(p or s >= t for s, p in risk) / len(risk)
        best = (t, {"recall": round(recall, 3), "false_positives": round(fp, 3)})
    return best


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
    threshold, figures = choose_threshold(cv["held_out"])
    ask, asked = choose_threshold(cv["held_out"], MAX_ASKED)
    figures = {
        "held_out_by_writer": figures,
        "asked_or_crisis_held_out": asked,
        "writers": cv["writers"],
        "risk_examples": sum(e.label == 1 for e in labelled),
        "other_examples": sum(e.label == 0 for e in labelled),
    }
    union, clf = _fit([e.text for e in labelled], [e.label for e in labelled], matcher)
    model = _export(union, clf, threshold, fingerprint(files, matcher), len(labelled))
    return replace(model, ask_threshold=min(ask, threshold)), figures, []
