"""The safety net: phrase list and model, measured on messages they never learned from.

The examples in dialogues/safety/training/ teach the model (and were used to improve the
phrase list), so they cannot measure either. tests/safety_blind_c.yaml was written by a
writer who saw neither the phrases nor the examples, and was first measured before
anything was changed; its figures are printed (run with -s) and held so they cannot get
worse. The targets are recall >= 0.97 and false alarms <= 3%; see
dialogues/safety/README.md for where the net stands against them.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.safety import (
    ASK,
    CRISIS,
    assess,
    is_risk,
    is_safe_answer,
    load_risk_phrases,
    normalise,
    parse_risk_phrases,
)
from bot.safety.model import parse_risk_model
from bot.safety.train import choose_threshold, read_examples
from tests.conftest import ROOT

BLIND = Path(__file__).parent / "safety_blind_c.yaml"


@pytest.fixture(scope="module")
def matcher():
    m, problems = load_risk_phrases(ROOT / "dialogues")
    assert problems == []  # the shipped model is fresh: trained on today's examples
    assert m.model is not None
    return m


# First measured on 2026-11-30 before anything was changed: crisis reply on 285 of 476 risk
# messages and 10 of 508 others; with "ask first", 420 of 476 reached and 41 of 508 asked
# or answered. Then, after six more writers' examples joined the training files (none of
# them saw this file; 47 of their messages that also appear here were removed first):
# crisis reply on 301 of 476 and 10 of 508; reached 443 of 476; 36 of 508 asked or
# answered. Floors, so the net cannot quietly get worse; the targets (0.97, 3%) are not met.
CRISIS_RECALL_FLOOR = 0.63
REACHED_FLOOR = 0.93  # crisis reply or asked directly


def test_blind_corpus(matcher) -> None:
    examples, problems = read_examples([BLIND])
    assert problems == []
    risk = [e.text for e in examples if e.label == 1]
    other = [e.text for e in examples if e.label == 0]
    assert len(risk) >= 150 and len(other) >= 150
    level = {e.text: assess(e.text, matcher) for e in examples}
    crisis = [t for t in risk if level[t] == CRISIS]
    reached = [t for t in risk if level[t]]
    false_alarms = [t for t in other if level[t] == CRISIS]
    asked = [t for t in other if level[t] == ASK]
    print(
        f"\n{BLIND.name}: crisis reply on {len(crisis)}/{len(risk)} risk messages "
        f"({len(crisis) / len(risk):.3f}) and {len(false_alarms)}/{len(other)} others "
        f"({len(false_alarms) / len(other):.1%}); crisis reply or asked on "
        f"{len(reached)}/{len(risk)} ({len(reached) / len(risk):.3f}); "
        f"others asked {len(asked)}/{len(other)} ({len(asked) / len(other):.1%})"
    )
    for text in risk:
        if not level[text]:
            print(f"  missed: {text}")
    for text in false_alarms:
        print(f"  false alarm: {text} <- {matcher.matches(text)}")
    assert len(crisis) / len(risk) >= CRISIS_RECALL_FLOOR
    assert len(reached) / len(risk) >= REACHED_FLOOR
    assert len(false_alarms) / len(other) <= 0.03
    assert (len(false_alarms) + len(asked)) / len(other) <= 0.10


@pytest.mark.parametrize(
    "text",
    [
        "can't go on",
        "I don't want to be here anymore",
        "want to be with my baby",
        "i cant go on",
        "CANT GO ON",
        "i dont want to be here",
        "😭😭 i want to die 😭",
        "i want to be with my baby now",
        "kms",
        "sucidal",
        "i wanna die tbh",
    ],
)
def test_issue_examples_fire(matcher, text: str) -> None:
    assert is_risk(text, matcher), matcher.prepare(text)


@pytest.mark.parametrize(
    "text",
    [
        "my baby died",
        "I lost her at 20 weeks",
        "I feel empty",
        "I keep crying",
        "I can't stop thinking about him",
        "I want my baby back",
        "I lost my baby at 17 weeks",
    ],
)
def test_ordinary_grief_does_not_fire(matcher, text: str) -> None:
    assert not is_risk(text, matcher), matcher.matches(text)


def test_normalising_handles_case_punctuation_emoji_and_repeats() -> None:
    assert normalise("I CAN’T go on!!! 😭") == " i cant go on "
    assert normalise("dieeeee") == " die "
    assert normalise("wanna", {"wanna": "want to"}) == " want to "


def test_phrase_syntax_gaps_alternatives_and_exceptions() -> None:
    m, problems = parse_risk_phrases(
        b"phrases:\n  - want * die\n  - end (it|my life)\n"
        b"exceptions:\n  - dying to know\n  - end it (with|for) (him|her)\n",
        "p.yaml",
    )
    assert problems == []
    assert is_risk("i want to just die", m)
    assert not is_risk("i want to go and see a film and then eat and die", m)  # gap > 3 words
    assert is_risk("going to end my life", m)
    assert not is_risk("im dying to know", m)
    assert not is_risk("i had to end it with him", m)
    assert is_risk("i had to end it with him and now i want to end it", m)


def test_safe_answers_are_clear_noes_with_nothing_but_harmless_words_after() -> None:
    m, problems = parse_risk_phrases(
        b"phrases:\n  - want to die\n"
        b"safe_answers:\n  - (lol)? (no way|nope|no)\n  - (im|i am) safe\n"
        b"safe_endings:\n  - (im|i am) ok\n  - thanks\n",
        "p.yaml",
    )
    assert problems == []
    safe = ("No", "no!", "lol no", "No, I'm safe", "nope im ok", "no way", "no, im ok thanks")
    for text in safe:
        assert is_safe_answer(text, m), text
    unsafe = ("yes", "i have no one", "not sure", "no. i want to die", "", "im ok", "no, not yet")
    for text in unsafe:
        assert not is_safe_answer(text, m), text


def test_a_malformed_safe_answer_is_reported_not_skipped() -> None:
    m, problems = parse_risk_phrases(
        b'phrases:\n  - want to die\nsafe_answers:\n  - "no"\n  - [1, 2]\n  - no\n', "p.yaml"
    )
    assert m is None
    assert [(p.code, p.line) for p in problems] == [("BL070", 5), ("BL070", 6)]
    assert "entry 2 of 'safe_answers' should be a phrase" in problems[0].message
    # A bare no is YAML's false: say so, and how to write it.
    assert "entry 3 of 'safe_answers' was read as false" in problems[1].message
    assert 'quotes, for example - "no"' in problems[1].hint


def test_a_missing_phrase_list_is_an_error(tmp_path: Path) -> None:
    matcher, problems = load_risk_phrases(tmp_path)
    assert matcher is None and problems[0].code == "BL070"
    assert "must not run without its safety net" in problems[0].message


def test_very_long_input_is_fast_and_safe(matcher) -> None:
    text = "la " * 50_000 + "i want to die"
    # Only the first 10,000 characters are read: a message is at most 4096 anyway.
    assert is_risk(text[-5000:], matcher)
    assert not is_risk("\u200b\u202e" * 2000, matcher)


@pytest.mark.parametrize(
    "text",
    [
        "im not suicidal or anything, im just really sad and want to talk",
        "no i dont want to hurt myself",
        "I'm not going to hurt myself, I promise",
    ],
)
def test_a_clear_denial_gets_no_crisis_reply(matcher, text: str) -> None:
    assert not is_risk(text, matcher), matcher.matches(text)


@pytest.mark.parametrize(
    "text",
    [
        "im not suicidal but i want to die",
        "I don't want to die but I keep thinking about killing myself",
    ],
)
def test_a_denial_does_not_hide_the_rest_of_the_message(matcher, text: str) -> None:
    assert is_risk(text, matcher)


def test_the_model_catches_risk_in_words_no_phrase_lists(matcher) -> None:
    text = "told my sister where the will is. i wont be needing my things"
    assert not any(p.search(matcher.prepare(text)) for p in matcher.phrases)
    assert is_risk(text, matcher), matcher.matches(text)
    assert any(reason.startswith("model ") for reason in matcher.matches(text))


def test_the_exported_model_scores_exactly_as_scikit_learn_does() -> None:
    """The bot scores in pure Python what scikit-learn learned: the two must agree."""
    from bot.safety.train import _export, _fit

    m, _ = load_risk_phrases(ROOT / "dialogues")
    files = sorted((ROOT / "dialogues" / "safety" / "training").glob("*.yaml"))[:2]
    examples = [e for e in read_examples(files)[0] if e.label is not None][::3]
    texts = [e.text for e in examples]
    union, clf = _fit(texts, [e.label for e in examples], m)
    model = _export(union, clf, 0.5, "test", len(texts))
    probe = texts[:40] + ["i want to die", "my baby died", "", "🙂", "x" * 5000]
    expected = clf.predict_proba(union.transform(probe))[:, 1]
    for text, want in zip(probe, expected, strict=True):
        assert model.score(m.prepare(text)) == pytest.approx(want, abs=1e-9)
    # Saved and read back: exactly the same numbers.
    reread, problems = parse_risk_model(model.to_json().encode(), "model.json")
    assert problems == []
    for text, want in zip(probe, expected, strict=True):
        assert reread.score(m.prepare(text)) == pytest.approx(want, abs=1e-9)


def test_the_threshold_keeps_held_out_false_alarms_within_the_limit() -> None:
    # 100 other messages scored 0.00..0.99 and 10 risk messages scored 0.90..0.99.
    held = [(i / 100, False, 0, "") for i in range(100)]
    held += [(0.9 + i / 100, False, 1, "") for i in range(10)]
    threshold, figures = choose_threshold(held)
    assert threshold == 0.98  # 0.98 and 0.99: 2 of 100 false alarms; 0.97 would be 3
    assert figures == {"recall": 0.2, "false_positives": 0.02}
    # A message the phrases catch counts whatever the model says.
    held.append((0.0, True, 1, ""))
    assert choose_threshold(held)[1]["recall"] == round(3 / 11, 3)


def _small_dialogue_dir(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "docs" / "examples" / "first-dialogue", tmp_path / "d")
    safety = tmp_path / "d" / "safety"
    (safety / "training").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dialogues" / "safety" / "risk-phrases.yaml", safety)
    for name in ("w1-first-corpus.yaml", "w2-holdout.yaml"):
        shutil.copy(ROOT / "dialogues" / "safety" / "training" / name, safety / "training")
    return tmp_path / "d"


def test_train_writes_a_model_the_bot_then_uses(tmp_path: Path, capsys) -> None:
    folder = _small_dialogue_dir(tmp_path)
    assert main(["train", "--dialogues", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "from 2 files; crisis reply at" in out and "held out" in out
    saved = json.loads((folder / "safety" / "risk-model.json").read_text())
    assert saved["examples"] == 246 + 251 + 153 + 172
    m, problems = load_risk_phrases(folder)
    assert problems == [] and m.model is not None
    assert main(["validate", str(folder), "--strict"]) == 0
    # A new example makes the model stale: a warning, and the bot keeps the old model.
    extra = folder / "safety" / "training" / "w3-new.yaml"
    extra.write_text('risk:\n  - "sorted my affairs tonight"\nnot_risk:\n  - "the nursery"\n')
    m, problems = load_risk_phrases(folder)
    assert [p.code for p in problems] == ["BL072"] and m.model is not None
    assert main(["validate", str(folder), "--strict"]) == 1
    # A slip in a training file is found by validate, with its line.
    extra.write_text('risk:\n  - "sorted my affairs tonight"\n  - [oops]\n')
    capsys.readouterr()
    assert main(["validate", str(folder)]) == 1
    assert "w3-new.yaml:3:5: BL073 error" in capsys.readouterr().out


def test_train_without_scikit_learn_says_how_to_get_it(tmp_path, capsys, monkeypatch) -> None:
    folder = _small_dialogue_dir(tmp_path)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if it were not installed
    assert main(["train", "--dialogues", str(folder)]) == 2
    assert 'pip install -e ".[train]"' in capsys.readouterr().err
    assert not (folder / "safety" / "risk-model.json").exists()


def test_safety_measure_reports_recall_and_false_alarms(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "c.yaml"
    corpus.write_text(
        'risk:\n  - "i want to die"\n  - "sunny day"\nnot_risk:\n  - "my baby died"\n'
        'unsure:\n  - "cant do this"\n'
    )
    assert main(["safety", "--measure", str(corpus), "--show"]) == 0
    out = capsys.readouterr().out
    assert "risk: recall (crisis reply sent) 0.500 (1/2)" in out
    assert "not_risk: false alarms 0.000 (0/1)" in out
    assert "unsure: crisis reply sent" in out
    assert "  missed: sunny day" in out
    corpus.write_text("risk: [1, 2]\n")
    assert main(["safety", "--measure", str(corpus)]) == 1
    assert "c.yaml:1:8: BL073" in capsys.readouterr().err


@pytest.mark.parametrize(
    "data, why",
    [
        (b"{not json", "not valid JSON"),
        (b'{"format": 1}', "not a format-2 model file"),
        (b'{"format": 2, "blocks": []}', "missing or malformed"),
        (
            b'{"format": 2, "trained_on": "x", "threshold": 0.9, "bias": 0, "blocks": '
            b'[{"analyzer": "words", "features": "a", "idf": "!!", "weight": "AA=="}]}',
            "missing or malformed",
        ),
        (
            b'{"format": 2, "trained_on": "x", "threshold": 0.9, "bias": 0, "blocks": '
            b'[{"analyzer": "words", "features": "a\\nb", "idf": "AAAAAAAA8D8=", '
            b'"weight": "AAAAAAAA8D8="}]}',
            "1 numbers for 2 features",
        ),
        (
            b'{"format": 2, "trained_on": "x", "threshold": 0.9, "bias": 0, "blocks": '
            b'[{"analyzer": "smell", "features": "a", "idf": "", "weight": ""}]}',
            "unknown analyzer",
        ),
    ],
)
def test_a_damaged_model_file_is_explained_not_raised(data: bytes, why: str) -> None:
    model, problems = parse_risk_model(data, "risk-model.json")
    assert model is None and problems[0].code == "BL071"
    assert why in problems[0].message
