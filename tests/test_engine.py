"""The pure engine: (dialogue, session, input) -> (new session, outputs)."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from bot.dialogue.engine import (
    HISTORY_LIMIT,
    Command,
    Context,
    Other,
    Pause,
    Press,
    Reply,
    Say,
    Session,
    Start,
    enter,
    new_session,
    step,
)
from bot.dialogue.loader import load_dialogue_dir
from bot.safety import load_risk_phrases
from tests.conftest import ROOT

# The shipped answers that mean "No, I'm safe" (dialogues/safety/risk-phrases.yaml).
SHIPPED = load_risk_phrases(ROOT / "dialogues")[0]


def press(d, result, label, ctx=None):
    matches = [b for b in result.buttons if b.label == label]
    assert matches, f"no button {label!r} in {[b.label for b in result.buttons]}"
    return step(d, result.session, Press(matches[0].data), ctx)


def texts(result):
    return [r.text for r in result.replies]


def test_start_shows_note_first_then_messages_with_pauses_and_buttons(example_dialogue):
    d = example_dialogue
    result = step(d, new_session(d), Start(), Context(first_name="Sam"))
    kinds = [o.kind if isinstance(o, Reply) else "pause" for o in result.outputs]
    assert kinds == ["note", "pause", "message", "pause", "message"]
    assert result.outputs[2].text.startswith("Hello Sam.")
    assert [b.label for b in result.buttons] == ["I carried my baby", "I'm a partner", "Not today"]
    assert result.session.node == "welcome"
    assert "node:welcome" in result.events


def test_names_are_escaped_and_defaults_fill_gaps(example_dialogue):
    d = example_dialogue
    hostile = step(d, new_session(d), Start(), Context(first_name="<b>Eve</b> & co"))
    assert "Hello &lt;b&gt;Eve&lt;/b&gt; &amp; co." in hostile.outputs[2].text
    anonymous = step(d, new_session(d), Start())
    assert "Hello there." in anonymous.outputs[2].text


def test_options_set_variables_and_conditions_choose_messages(example_dialogue):
    d = example_dialogue
    start = step(d, new_session(d), Start())
    partner = press(d, start, "I'm a partner")
    assert partner.session.variables["relationship"] == "partner"
    assert any("Partners are often forgotten" in t for t in texts(partner))
    mother = press(d, start, "I carried my baby")
    assert not any("Partners are often forgotten" in t for t in texts(mother))


def test_step_is_pure(example_dialogue):
    d = example_dialogue
    session = step(d, new_session(d), Start()).session
    before = copy.deepcopy(session.to_dict())
    one = step(d, session, Say("who made this"))
    two = step(d, session, Say("who made this"))
    assert one == two
    assert session.to_dict() == before  # the input session is never changed


def test_back_returns_to_the_previous_node_and_stops_at_the_beginning(example_dialogue):
    d = example_dialogue
    result = press(d, step(d, new_session(d), Start()), "I'm a partner")
    result = press(d, result, "About this bot")
    assert result.session.history == ("welcome", "menu")
    back = step(d, result.session, Command("back"))
    assert back.session.node == "menu"
    back = step(d, back.session, Command("back"))
    assert back.session.node == "welcome"
    nothing = step(d, back.session, Command("back"))
    assert nothing.session.node == "welcome"
    assert "nothing earlier" in nothing.replies[0].text
    assert nothing.buttons  # still something to press


def test_history_is_bounded(example_dialogue):
    d = example_dialogue
    result = step(d, new_session(d), Start())
    result = press(d, result, "I'm a partner")
    for _ in range(HISTORY_LIMIT + 10):
        result = press(d, result, "About this bot")
        result = press(d, result, "Back to the menu")
    assert len(result.session.history) == HISTORY_LIMIT


def test_commands_reach_the_entry_points(example_dialogue):
    d = example_dialogue
    session = step(d, new_session(d), Start()).session
    assert step(d, session, Command("menu")).session.node == "menu"
    assert step(d, session, Command("pause")).session.node == "not_today"
    assert step(d, session, Command("help")).session.node == "about"
    support = step(d, session, Command("support"))
    assert support.session.node == "crisis" and "support" in support.events
    unknown = step(d, session, Command("dance"))
    assert unknown.session == session and "don't know that command" in unknown.replies[0].text


def test_old_buttons_work_while_they_make_sense(example_dialogue):
    d = example_dialogue
    start = step(d, new_session(d), Start())
    old_data = start.buttons[1].data  # "I'm a partner", from the first message
    later = press(d, press(d, start, "I carried my baby"), "About this bot")
    again = step(d, later.session, Press(old_data))
    assert again.session.node == "menu"
    assert again.session.variables["relationship"] == "partner"


def test_forged_or_outdated_buttons_get_a_gentle_note(example_dialogue):
    d = example_dialogue
    session = step(d, new_session(d), Start()).session
    for data in ["nonsense", "welcome|9|abcd", "welcome|0|ffff", "ghost|0|0000", "|||", "a|b|c"]:
        result = step(d, session, Press(data))
        assert result.session == session
        assert "moved on" in result.replies[0].text and result.buttons
        assert "stale" in result.events


def test_a_node_removed_by_a_reload_takes_the_parent_to_the_menu(example_dialogue):
    d = example_dialogue
    lost = Session(node="deleted_node", history=("welcome",))
    result = step(d, lost, Say("hello"))
    assert result.session.node == "menu"
    assert "changed since we last spoke" in result.replies[0].text


def test_free_text_routes_then_fallback(example_dialogue):
    d = example_dialogue
    menu = enter(d, new_session(d), "menu").session
    assert step(d, menu, Say("Who MADE this bot??")).session.node == "about"
    assert step(d, menu, Say("bananas")).session.node == "menu"


def test_typed_label_counts_as_a_press_and_other_text_gets_the_buttons_again(example_dialogue):
    d = example_dialogue
    welcome = step(d, new_session(d), Start()).session
    assert step(d, welcome, Say("i'm a partner")).session.variables["relationship"] == "partner"
    other = step(d, welcome, Say("hello?"))
    assert other.session == welcome
    assert "follow the buttons" in other.replies[0].text
    assert len(other.buttons) == 3


def test_safety_net_fires_at_every_node_before_anything_else(example_dialogue):
    d = example_dialogue
    for node_id in d.nodes:
        session = enter(d, new_session(d), node_id).session
        result = step(d, session, Say("I just can't go on 😢"))
        assert result.session.node == "crisis", node_id
        assert "crisis" in result.events
        assert any("116 123" in t for t in texts(result))
        assert result.buttons  # the conversation stays open


def test_languages_fall_back_to_the_default(example_dialogue):
    d = example_dialogue
    welsh = step(d, new_session(d, "cy"), Start())
    assert "Rhaglen awtomatig" in welsh.outputs[2].text
    switched = step(d, welsh.session, Command("language", "fr"))
    assert switched.session.language == "cy" and "not available" in switched.replies[0].text
    english = step(d, welsh.session, Command("language", "en"))
    assert english.session.language == "en"


def test_signposts_follow_the_region(example_dialogue):
    d = example_dialogue
    uk = enter(d, new_session(d), "crisis")
    assert any("116 123" in t for t in texts(uk))
    session = new_session(d)
    us = enter(d, Session(variables={**session.variables, "region": "us"}), "crisis")
    assert not any("116 123" in t for t in texts(us))


def test_start_again_keeps_region_but_forgets_the_path(example_dialogue):
    d = example_dialogue
    result = press(d, step(d, new_session(d), Start()), "I'm a partner")
    session = Session(
        node=result.session.node,
        variables={**result.session.variables, "region": "au"},
        history=result.session.history,
    )
    again = step(d, session, Command("restart"))
    assert again.session.node == "welcome" and again.session.history == ()
    assert again.session.variables["region"] == "au"
    assert again.session.variables["relationship"] == "unsure"


def test_session_round_trips_through_a_dict(example_dialogue):
    d = example_dialogue
    session = press(d, step(d, new_session(d), Start()), "I'm a partner").session
    assert Session.from_dict(session.to_dict()) == session


def test_pauses_only_between_messages(example_dialogue):
    d = example_dialogue
    result = enter(d, new_session(d), "crisis")
    assert isinstance(result.outputs[1], Pause)
    assert not isinstance(result.outputs[0], Pause) and not isinstance(result.outputs[-1], Pause)


def test_the_loader_keeps_the_old_dialogue_when_a_new_one_is_broken(tmp_path):
    # Loading is pure: a bad new version gives problems and no dialogue, nothing else.
    import shutil

    src = ROOT / "docs" / "examples" / "first-dialogue"
    shutil.copytree(src, tmp_path / "d")
    good = load_dialogue_dir(tmp_path / "d")
    main = tmp_path / "d" / "main.yaml"
    main.write_text(main.read_text().replace("to: about", "to: abuot"))
    bad = load_dialogue_dir(tmp_path / "d")
    assert good.ok and not bad.ok
    assert any(p.code == "BL011" and "abuot" in p.message for p in bad.problems)


def test_a_name_longer_than_telegram_allows_is_cut_to_64(example_dialogue):
    d = example_dialogue
    result = step(d, new_session(d), Start(), Context(first_name="N" * 5000))
    assert "N" * 64 + "." in result.outputs[2].text and "N" * 65 not in result.outputs[2].text


def test_privacy_command_uses_the_privacy_entry_point_or_help(example_dialogue, shipped_dialogue):
    d = example_dialogue  # no privacy entry point: the help node
    assert step(d, new_session(d), Command("privacy")).session.node == d.entry["help"]
    s = shipped_dialogue
    assert step(s, new_session(s), Command("privacy")).session.node == s.entry["privacy"]


def _with_model(d):
    """The example dialogue with a tiny hand-made model: 'sad' alone makes it unsure
    (about 0.73, between ask 0.5 and crisis 0.9); 'gone' makes it sure."""
    from bot.safety.model import Block, RiskModel

    model = RiskModel(
        (Block("words", {"sad": (1.0, 3.0), "gone": (1.0, 10.0)}),),
        bias=-2.0,
        threshold=0.9,
        trained_on="test",
        ask_threshold=0.5,
    )
    return replace(d, risk_phrases=replace(d.risk_phrases, model=model))


def test_when_the_safety_net_is_unsure_it_asks_directly_and_keeps_the_parent_in_place(
    example_dialogue,
):
    d = _with_model(example_dialogue)
    node = next(n for n in d.nodes if n not in ("crisis", d.entry["start"]))
    session = enter(d, new_session(d), node).session
    asked = step(d, session, Say("so sad"))
    assert asked.events == ("safety_check",)
    assert asked.session == replace(session, asked=True)  # nowhere else yet
    assert "thoughts of ending your life" in asked.replies[0].text
    assert [b.label for b in asked.buttons] == ["Yes, or I'm not sure", "No, I'm safe"]

    safe = press(d, asked, "No, I'm safe")
    assert safe.session.node == node and "safety_check_no" in safe.events
    assert "carry on whenever you're ready" in safe.replies[0].text
    assert safe.buttons  # the node's own buttons again

    unsafe = press(d, asked, "Yes, or I'm not sure")
    assert unsafe.session.node == "crisis" and "crisis" in unsafe.events
    assert any("116 123" in t for t in texts(unsafe))


def test_a_confident_model_sends_the_crisis_reply_without_asking(example_dialogue):
    d = _with_model(example_dialogue)
    result = step(d, new_session(d), Say("gone"))
    assert result.session.node == "crisis" and "crisis" in result.events
    plain = step(d, new_session(d), Say("hello there"))
    assert "safety_check" not in plain.events and "crisis" not in plain.events


def test_a_safety_check_node_shows_its_messages_then_asks_with_the_two_answers(example_dialogue):
    from bot.dialogue.model import ANY, Message, Node, Text, freeze

    def text(words: str) -> Text:
        return Text(freeze({ANY: words}))

    d = _with_model(example_dialogue)
    ask = Node(
        "ask",
        "main.yaml",
        (1, 1),
        (Message(text("If a life is at risk, call 999.")), Message(text("Are you safe?"))),
        set=freeze({"asked": "yes"}),  # never applied: the parent has not moved
    )
    d = replace(d, nodes={**d.nodes, "ask": ask}, entry={**d.entry, "safety_check": "ask"})
    node = next(n for n in d.nodes if n not in ("crisis", "ask", d.entry["start"]))
    session = enter(d, new_session(d), node).session
    asked = step(d, session, Say("so sad"))
    assert asked.events == ("safety_check", "node:ask")
    assert asked.session == replace(session, asked=True)
    assert texts(asked) == ["If a life is at risk, call 999.", "Are you safe?"]
    assert asked.replies[0].buttons == ()  # the answers sit under the question
    assert [b.label for b in asked.replies[-1].buttons] == ["Yes, or I'm not sure", "No, I'm safe"]
    assert press(d, asked, "No, I'm safe").session.node == node
    assert press(d, asked, "Yes, or I'm not sure").session.node == "crisis"


@pytest.mark.parametrize(
    ("answer", "safe"),
    [
        ("no", True),
        ("No, I'm safe", True),
        ("nope, just sad", True),
        ("lol no", True),
        ("I'm not suicidal", True),
        ("yes", False),
        ("sometimes", False),
        ("not sure", False),
        ("idk", False),
        ("not really", False),  # not a clear no
        ("no, not yet", False),  # a no with more after it
        ("no one cares anymore", False),
        ("im ok", False),  # "I'm ok" only counts after a clear no
        ("no, I'm ok, thank you", True),
        ("no but i want to die", False),
        ("what is microchimerism", False),  # not an answer: the crisis reply, to be safe
    ],
)
def test_a_typed_answer_to_the_safety_question_is_read_as_an_answer(
    example_dialogue, answer: str, safe: bool
):
    d = _with_model(example_dialogue)
    answers = {"safe_answers": SHIPPED.safe_answers, "safe_endings": SHIPPED.safe_endings}
    d = replace(d, risk_phrases=replace(d.risk_phrases, **answers))
    node = next(n for n in d.nodes if n not in ("crisis", d.entry["start"]))
    session = enter(d, new_session(d), node).session
    asked = step(d, session, Say("so sad"))
    assert asked.session.asked
    answered = step(d, asked.session, Say(answer))
    assert not answered.session.asked
    if safe:
        assert answered.session.node == node and "safety_check_no" in answered.events
    else:
        assert answered.session.node == "crisis" and "crisis" in answered.events


def test_anything_but_typed_words_ends_the_wait_for_an_answer(example_dialogue):
    d = _with_model(example_dialogue)
    asked = step(d, new_session(d), Say("so sad"))
    assert asked.session.asked
    for inp in (Command("menu"), Start(), Other()):
        after = step(d, asked.session, inp)
        assert not after.session.asked
        # ...so words typed later are read as usual, not as the answer
        assert "crisis" not in step(d, after.session, Say("hello there")).events


def test_a_pending_question_survives_storage_and_old_sessions_load():
    from bot.dialogue.engine import Session

    asked = Session(node="menu", asked=True)
    assert Session.from_dict(asked.to_dict()) == asked
    assert "asked" not in Session(node="menu").to_dict()  # stored sessions stay as they were
    assert Session.from_dict({"node": "menu"}).asked is False


# -- Grief-aware typed routes and the baby's name (issue #11) ------------------------------
GRIEF_DIALOGUE = b"""
entry_points: {start: menu, menu: menu, pause: menu, help: menu, crisis: crisis}
settings:
  kept_on_restart: [baby_name]
nodes:
  menu:
    messages: ["Menu. {baby_name|Your baby}."]
    options:
      - {label: "Name", to: ask}
    free_text:
      grief:
        match: [died, miss]
        to: gentle
      routes:
        - match: [need help]
          not_with: [funeral]
          grief: follow
          to: crisis
        - match: [candle]
          to: candle
      fallback: menu
  ask:
    messages: ["What is the name?"]
    options:
      - {label: "Back", to: menu}
    free_text:
      capture: {variable: baby_name, kind: name, then: menu, lead_ins: [her name was]}
      fallback: ask
  crisis:
    messages:
      - text: "Thank you for telling me. Talk to someone now:"
        signposts: [line]
    options:
      - {label: "Back", to: menu}
  gentle:
    messages: ["I'm so sorry."]
    options:
      - {label: "Back", to: menu}
  candle:
    messages: ["Light a candle."]
    options:
      - {label: "Back", to: menu}
signposts:
  line:
    text: "<b>Line</b>: call 1."
    source: "example.org"
    checked: 2026-12-05
"""


@pytest.fixture
def grief_dialogue():
    from bot.dialogue.loader import load_dialogue

    result = load_dialogue({"main.yaml": GRIEF_DIALOGUE}, risk_phrases=SHIPPED)
    assert result.ok, [p.format() for p in result.problems]
    return result.dialogue


def _typed(d, words, session=None):
    session = session or step(d, new_session(d), Start()).session
    return step(d, session, Say(words))


def test_a_route_that_also_reads_as_grief_gets_the_grief_reply(grief_dialogue):
    d = grief_dialogue
    assert _typed(d, "tell me about the candle").session.node == "candle"
    grieving = _typed(d, "I miss her, I lit a candle")
    assert grieving.session.node == "gentle" and "grief" in grieving.events
    assert _typed(d, "my dad died").session.node == "gentle"  # no route, still reflected


def test_a_follow_route_is_followed_and_not_with_stops_a_route(grief_dialogue):
    d = grief_dialogue
    assert _typed(d, "I need help, my baby died").session.node == "crisis"
    assert _typed(d, "I need help with the funeral").session.node == "menu"  # not a crisis


def test_words_and_signposts_arrive_in_one_message(grief_dialogue):
    d = grief_dialogue
    result = _typed(d, "I need help")
    assert result.replies[0].text == (
        "Thank you for telling me. Talk to someone now:\n\n<b>Line</b>: call 1."
    )


def test_a_captured_name_is_clean_bounded_escaped_and_kept_on_restart(grief_dialogue):
    d = grief_dialogue
    at_ask = enter(d, new_session(d), "ask")
    named = step(d, at_ask.session, Say("her name was <i>Rose</i> & Lily"))
    assert named.session.variables["baby_name"] == "Rose and Lily"
    assert "Menu. Rose and Lily." in texts(named)
    # A name can't carry markup into the HTML, and a sentence is not kept at all.
    odd = step(d, at_ask.session, Say("Zoë <script>x</script>"))
    assert odd.session.variables["baby_name"] == "Zoë x"
    long = step(d, at_ask.session, Say("it was all so fast and nobody told us anything"))
    assert "baby_name" not in long.session.variables and long.session.node == "ask"
    again = step(d, named.session, Start())
    assert again.session.variables["baby_name"] == "Rose and Lily"


def test_risk_words_typed_as_a_name_get_the_crisis_reply_and_nothing_is_kept(grief_dialogue):
    d = grief_dialogue
    at_ask = enter(d, new_session(d), "ask")
    result = step(d, at_ask.session, Say("her name was Hope and I want to be with her"))
    assert result.session.node == "crisis" and "baby_name" not in result.session.variables


def test_a_bad_grief_setting_is_a_clear_error():
    from bot.dialogue.loader import load_dialogue

    broken = GRIEF_DIALOGUE.replace(b"grief: follow", b"grief: always")
    result = load_dialogue({"main.yaml": broken})
    assert not result.ok
    assert any(p.code == "BL006" and "'grief'" in p.message for p in result.problems)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("प्रिया", "प्रिया"),  # Hindi: the vowel signs are combining marks
        ("مريم وآدم", "مريم وآدم"),  # Arabic: one name of two words, kept as typed
        ("Zoe\u0301", "Zoe\u0301"),  # an accent typed as a separate mark
        ("Rose\u202e & Lily\u200b", "Rose and Lily"),  # invisible controls are dropped
        ("Rose, Lily, Sam", "Rose, Lily and Sam"),
        ("x" * 61, None),  # longer than a name
        ("1, 2, 3, 4, 5, 6, 7", None),  # not names
    ],
)
def test_names_of_every_script_are_kept_and_controls_dropped(typed, kept):
    from bot.dialogue.names import parse_names

    assert parse_names(typed) == kept
