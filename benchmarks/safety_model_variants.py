"""Compare settings of the safety model, held out by writer, before changing the shipped one.

Run:  .venv/bin/python benchmarks/safety_model_variants.py [VARIANT ...]   (needs the [train] extra)

Each variant is trained with every training file held out in turn (as `babyloss-bot
train` does), and the phrase list and model together are scored on the held-out files:
the recall the crisis reply would reach with at most 2.5% of other messages getting it,
and the recall of "crisis reply or asked" with at most 10% asked or answered. Variants:
base (the shipped settings), C3 and C30 (less or more regularisation), wb (letter groups
across word boundaries), svc (a linear SVM).

On 2026-11-30, 20 writers, 12,910 examples (crisis reply recall, then crisis reply or
asked): base 0.719 / 0.937, C3 0.716 / 0.932, C30 0.720 / 0.939, wb 0.736 / 0.942,
svc 0.719 / 0.940. With 14 writers all five were within a point (about 0.82). Settings
move recall by a point or two; what the model misses needs more than word features.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.safety import is_risk, load_risk_phrases  # noqa: E402
from bot.safety import train as T  # noqa: E402
from bot.safety.model import char_features, word_features  # noqa: E402


def main() -> None:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_union
    from sklearn.svm import LinearSVC

    dialogues = ROOT / "dialogues"
    matcher, problems = load_risk_phrases(dialogues)
    if matcher is None:
        sys.exit(f"the phrase list has problems: {problems}")
    examples, _ = T.read_examples(T.training_files(dialogues))
    labelled = [e for e in examples if e.label is not None]
    writers = sorted({e.source for e in labelled})
    prepared = {e.text: matcher.prepare(e.text) for e in labelled}
    phrase_fired = {e.text: is_risk(e.text, matcher) for e in labelled}

    def prep(text: str) -> str:
        return prepared.get(text) or matcher.prepare(text)

    def features(across_words: bool = False):
        words = TfidfVectorizer(
            analyzer=lambda t: word_features(prep(t)), sublinear_tf=True, min_df=2
        )
        if across_words:
            chars = TfidfVectorizer(
                analyzer="char",
                ngram_range=(3, 5),
                preprocessor=prep,
                sublinear_tf=True,
                min_df=2,
            )
        else:
            chars = TfidfVectorizer(
                analyzer=lambda t: char_features(prep(t)), sublinear_tf=True, min_df=2
            )
        return make_union(words, chars)

    def logistic(c: float = T.REGULARISATION, across_words: bool = False):
        def fit_score(x_train, y_train, x_test):
            union = features(across_words)
            clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
            clf.fit(union.fit_transform(x_train), y_train)
            return clf.predict_proba(union.transform(x_test))[:, 1]

        return fit_score

    def svm(x_train, y_train, x_test):
        union = features()
        clf = LinearSVC(C=0.5, class_weight="balanced").fit(union.fit_transform(x_train), y_train)
        return 1 / (1 + np.exp(-2 * clf.decision_function(union.transform(x_test))))

    variants = {
        "base": logistic(),
        "C3": logistic(3.0),
        "C30": logistic(30.0),
        "wb": logistic(across_words=True),
        "svc": svm,
    }
    chosen = sys.argv[1:] or list(variants)
    unknown = [v for v in chosen if v not in variants]
    if unknown:
        sys.exit(f"unknown variant(s) {unknown}; choose from {list(variants)}")
    print(f"{len(labelled)} examples from {len(writers)} writers, each held out in turn")
    for name in chosen:
        started = time.perf_counter()
        held = []
        for writer in writers:
            train = [e for e in labelled if e.source != writer]
            test = [e for e in labelled if e.source == writer]
            scores = variants[name](
                [e.text for e in train], [e.label for e in train], [e.text for e in test]
            )
            held += [
                (float(s), phrase_fired[e.text], e.label, e.text)
                for s, e in zip(scores, test, strict=True)
            ]
        crisis = T.choose_threshold(held, T.MAX_FALSE_POSITIVES)[1]
        reached = T.choose_threshold(held, T.MAX_ASKED)[1]
        print(
            f"{name:5} crisis reply: recall {crisis['recall']:.3f} at "
            f"{crisis['false_positives']:.1%} of others; crisis reply or asked: recall "
            f"{reached['recall']:.3f} at {reached['false_positives']:.1%} "
            f"({time.perf_counter() - started:.0f} s)"
        )


if __name__ == "__main__":
    main()
