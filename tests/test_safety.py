"""The safety net measured against labelled corpora written independently of its phrases.

tests/safety_corpus.yaml was written before the phrase list was tuned; tests/safety_holdout.yaml
was written later by someone who saw neither. The figures are printed (run with -s) and held
to the targets: recall >= 0.97 on risk phrases, false positives <= 3% on the rest.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.safety import is_risk, load_risk_phrases, normalise, parse_risk_phrases
from tests.conftest import ROOT

CORPORA = ["safety_corpus.yaml", "safety_holdout.yaml"]


@pytest.fixture(scope="module")
def matcher():
    m, problems = load_risk_phrases(ROOT / "dialogues")
    assert problems == []
    return m


@pytest.mark.parametrize("name", CORPORA)
def test_recall_and_false_positive_rate(matcher, name: str) -> None:
    corpus = yaml.safe_load((Path(__file__).parent / name).read_text())
    risk, other = corpus["risk"], corpus["not_risk"]
    assert len(risk) >= 150 if name == CORPORA[0] else len(risk) >= 120
    missed = [t for t in risk if not is_risk(t, matcher)]
    false_alarms = [t for t in other if is_risk(t, matcher)]
    recall = 1 - len(missed) / len(risk)
    fp_rate = len(false_alarms) / len(other)
    print(
        f"\n{name}: recall {recall:.3f} ({len(risk) - len(missed)}/{len(risk)}), "
        f"false positives {fp_rate:.1%} ({len(false_alarms)}/{len(other)})"
    )
    for text in missed:
        print(f"  missed: {text}")
    for text in false_alarms:
        print(f"  false alarm: {text} <- {matcher.matches(text)}")
    assert recall >= 0.97
    assert fp_rate <= 0.03


@pytest.mark.parametrize("name, floor", [("safety_fresh.yaml", 0.67), ("safety_unseen.yaml", 0.57)])
def test_corpora_written_last_are_reported_as_they_are(matcher, name: str, floor: float) -> None:
    """safety_fresh.yaml was measured once untouched (recall 0.592), then general
    combinations were added after seeing its misses (0.672). safety_unseen.yaml was written
    after that and measured once: 0.571. These are the honest figures for phrasing nobody
    has listed, far below the target. The test prints them and guards against the list
    getting worse; raising them needs a better kind of detection (see
    dialogues/safety/README.md), never these sentences added as phrases."""
    corpus = yaml.safe_load((Path(__file__).parent / name).read_text())
    recall = sum(is_risk(t, matcher) for t in corpus["risk"]) / len(corpus["risk"])
    fp_rate = sum(is_risk(t, matcher) for t in corpus["not_risk"]) / len(corpus["not_risk"])
    print(f"\n{name} (written last): recall {recall:.3f}, false positives {fp_rate:.1%}")
    assert recall >= floor and fp_rate <= 0.03


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


def test_a_missing_phrase_list_is_an_error(tmp_path: Path) -> None:
    matcher, problems = load_risk_phrases(tmp_path)
    assert matcher is None and problems[0].code == "BL070"
    assert "must not run without its safety net" in problems[0].message


def test_very_long_input_is_fast_and_safe(matcher) -> None:
    text = "la " * 50_000 + "i want to die"
    # Only the first 10,000 characters are read: a message is at most 4096 anyway.
    assert is_risk(text[-5000:], matcher)
    assert not is_risk("\u200b\u202e" * 2000, matcher)
