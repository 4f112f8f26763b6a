"""Rules the engine decides alone, tested without Telegram: the safety net reads each
typed message once (captions and edits too), and what a returning parent is offered."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.dialogue import engine
from bot.dialogue.engine import (
    FRESH,
    RESUME,
    Command,
    Edit,
    Other,
    Press,
    Say,
    Start,
    enter,
    new_session,
    step,
)
from bot.safety.model import Block, RiskModel


@pytest.fixture
def dialogue(example_dialogue):
    """The example dialogue with a tiny model: 'sad' makes it unsure (it asks), 'gone'
    makes it sure (the crisis reply)."""
    model = RiskModel(
        (Block("words", {"sad": (1.0, 3.0), "gone": (1.0, 10.0)}),),
        bias=-2.0,
        threshold=0.9,
        trained_on="test",
        ask_threshold=0.5,
    )
    return replace(
        example_dialogue, risk_phrases=replace(example_dialogue.risk_phrases, model=model)
    )


def somewhere(d):
    node = next(n for n in d.nodes if n not in ("crisis", d.entry["start"]))
    return enter(d, new_session(d), node).session


# -- One safety decision per message ----------------------------------------------------
def test_the_result_says_whether_the_safety_net_acted_on_the_words(dialogue):
    d, s = dialogue, somewhere(dialogue)
    crisis = step(d, s, Say("gone"))
    assert crisis.risk and crisis.session.node == "crisis" and "crisis" in crisis.events
    asked = step(d, s, Say("so sad"))
    assert asked.risk and asked.events == ("safety_check",)
    plain = step(d, s, Say("hello there"))
    assert not plain.risk and "crisis" not in plain.events
    for inp in (Start(), Command("menu"), Press("nonsense"), Other()):
        assert not step(d, s, inp).risk
    # The crisis reply a parent asks for is not risk language they typed.
    assert not step(d, s, Command("support")).risk


def test_each_typed_message_is_assessed_exactly_once(dialogue, monkeypatch):
    calls = []
    real = engine.assess

    def counting(text, phrases):  # the real safety net, counted
        calls.append(text)
        return real(text, phrases)

    monkeypatch.setattr(engine, "assess", counting)
    d, s = dialogue, somewhere(dialogue)
    for inp in (Say("gone"), Say("so sad"), Say("hello"), Other("gone"), Edit("fine")):
        calls.clear()
        step(d, s, inp)
        assert calls == [engine.words_of(inp)]
    for inp in (Start(), Press("x"), Command("menu"), Other()):
        calls.clear()
        step(d, s, inp)
        assert calls == []  # no words, nothing to read


def test_a_caption_is_read_like_typed_words(dialogue):
    d, s = dialogue, somewhere(dialogue)
    crisis = step(d, s, Other("gone"))
    assert crisis.risk and crisis.session.node == "crisis"
    assert step(d, s, Other("so sad")).events == ("safety_check",)
    quiet_caption = step(d, s, Other("our garden"))
    assert not quiet_caption.risk and "other" in quiet_caption.events
    assert quiet_caption.replies == step(d, s, Other()).replies  # as for a bare sticker


def test_an_edit_is_answered_only_when_it_holds_risk_language(dialogue):
    d, s = dialogue, somewhere(dialogue)
    nothing = step(d, s, Edit("a typo fixed"))
    assert nothing.quiet and nothing.session == s and not nothing.risk
    crisis = step(d, s, Edit("gone"))
    assert crisis.risk and not crisis.quiet and crisis.session.node == "crisis"
    asked = step(d, s, Edit("so sad"))
    assert asked.risk and asked.session.asked


# -- A remembered parent comes back -------------------------------------------------------
def test_a_returning_parent_is_offered_to_carry_on_or_start_afresh(dialogue):
    d, s = dialogue, somewhere(dialogue)
    agreed = d.settings.privacy_version
    for inp in (Start(), Say("hello"), Other(), Other("a photo of the sea")):
        result = step(d, s, inp, returning=agreed)
        assert result.events == ("welcome_back",), inp
        assert result.session == s  # nothing moves until they choose
        assert [b.data for b in result.buttons] == [RESUME, FRESH]
    carried_on = step(d, s, Press(RESUME), returning=agreed)
    assert carried_on.session.node == s.node and "resumed" in carried_on.events


def test_a_returning_parent_who_presses_or_commands_gets_exactly_that(dialogue):
    d, s = dialogue, somewhere(dialogue)
    agreed = d.settings.privacy_version
    assert step(d, s, Command("menu"), returning=agreed) == step(d, s, Command("menu"))
    assert step(d, s, Press(RESUME), returning=agreed) == step(d, s, Press(RESUME))
    assert step(d, s, Edit("typo"), returning=agreed).quiet


def test_risk_language_from_a_returning_parent_is_answered_before_anything_else(dialogue):
    d, s = dialogue, somewhere(dialogue)
    for agreed in (d.settings.privacy_version, "an older version"):
        for inp in (Say("gone"), Other("gone"), Edit("gone")):
            result = step(d, s, inp, returning=agreed)
            assert result.risk and result.session.node == "crisis"
            assert "welcome_back" not in result.events


def test_a_changed_privacy_text_is_agreed_to_again_before_carrying_on(shipped_dialogue):
    d = shipped_dialogue
    s = enter(d, new_session(d), d.entry["menu"]).session
    for inp in (Start(), Say("hello"), Command("menu")):
        result = step(d, s, inp, returning="an older version")
        assert result.session.node == d.entry["consent"], inp
    # A press still does what the button says.
    pressed = step(d, s, Press(RESUME), returning="an older version")
    assert pressed.session.node == s.node
    # The same privacy version: no question.
    same = step(d, s, Start(), returning=d.settings.privacy_version)
    assert same.events == ("welcome_back",)


def test_without_a_consent_node_a_changed_privacy_text_still_welcomes_back(dialogue):
    d = replace(dialogue, entry={k: v for k, v in dialogue.entry.items() if k != "consent"})
    result = step(d, somewhere(d), Start(), returning="an older version")
    assert result.events == ("welcome_back",)


# -- The net's verdict read against where the parent is ----------------------------------
@pytest.fixture
def shipped():
    from bot.dialogue.loader import load_dialogue_dir
    from tests.conftest import ROOT

    result = load_dialogue_dir(ROOT / "dialogues")
    assert result.ok
    return result.dialogue


def _at(d, node_id):
    return enter(d, new_session(d), node_id).session


def test_a_buttons_own_words_typed_out_count_as_pressing_it(shipped):
    # "Small steps to stay safe" is a button on the crisis reply; the net alone asks.
    from bot.safety import ASK, assess

    assert assess("Small steps to stay safe", shipped.risk_phrases) == ASK
    result = step(shipped, _at(shipped, "crisis"), Say("Small steps to stay safe"))
    assert result.session.node == "safety_step" and not result.risk


def test_a_route_to_the_crisis_reply_wins_over_asking_first(shipped):
    from bot.safety import ASK, assess

    assert assess("I need help", shipped.risk_phrases) == ASK
    result = step(shipped, _at(shipped, "menu"), Say("I need help"))
    assert result.session.node == "crisis" and result.risk and "crisis" in result.events


def test_the_parents_own_risk_words_are_never_quietened_by_where_they_are(shipped):
    for node_id in ("menu", "crisis", "grounding", "baby_name_ask"):
        result = step(shipped, _at(shipped, node_id), Say("I want to die"))
        assert result.session.node == "crisis" and result.risk, node_id
    # Unsure words where no route leads to the crisis reply are still asked about.
    asked = step(shipped, _at(shipped, "menu"), Say("Hope"))
    assert asked.risk and asked.session.asked
