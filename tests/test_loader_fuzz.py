"""No input, however broken, makes the loader raise: it always answers with problems."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.authoring.convtests import parse_tests
from bot.dialogue.loader import load_dialogue
from bot.dialogue.problems import CODES
from bot.dialogue.yaml_reader import read_yaml
from bot.safety import parse_risk_phrases

KEYS = [
    "nodes",
    "entry_points",
    "settings",
    "signposts",
    "system_messages",
    "messages",
    "options",
    "label",
    "to",
    "free_text",
    "routes",
    "match",
    "fallback",
    "set",
    "if",
    "unless",
    "text",
    "note",
    "start",
    "menu",
    "pause",
    "help",
    "crisis",
    "a",
    "b",
    "en",
    "cy",
    "languages",
    "variables",
    "checked",
    "source",
    "region",
    "tests",
    "steps",
    "press",
    "type",
    "expect",
    "node",
    "says",
    "phrases",
    "spellings",
    "<b>",
    "{x}",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(KEYS),
    st.text(max_size=30),
    st.dates(),
)
structures = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.sampled_from(KEYS), children, max_size=5)
    ),
    max_leaves=40,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _all_known(problems) -> bool:
    return all(p.code in CODES and p.file for p in problems)


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    value, problems = read_yaml(data, "fuzz.yaml")
    assert value is not None or problems
    result = load_dialogue({"fuzz.yaml": data})
    assert result.problems and _all_known(result.problems)


@SETTINGS
@given(
    st.text(alphabet=st.sampled_from(list("ab:-[]{}'\"\n\t #&*!|>?%@`,\\x0é😀<>")), max_size=200)
)
def test_yaml_punctuation_soup_never_raises(text: str) -> None:
    result = load_dialogue({"soup.yaml": text.encode("utf-8", "surrogatepass")})
    assert _all_known(result.problems)


@SETTINGS
@given(structures)
def test_well_formed_yaml_of_any_shape_never_raises(value) -> None:
    data = yaml.safe_dump(value, allow_unicode=True).encode()
    result = load_dialogue({"shape.yaml": data})
    assert _all_known(result.problems)
    # Never silently accepted unless it really is a complete dialogue.
    assert (
        result.dialogue is None
        or result.problems == []
        or all(not p.is_error for p in result.problems)
    )
    parse_tests(data, "tests.yaml")
    parse_risk_phrases(data, "phrases.yaml")


@SETTINGS
@given(st.dictionaries(st.sampled_from(["a", "b", "c", "menu"]), structures, max_size=4))
def test_nodes_of_any_shape_never_raise(nodes) -> None:
    doc = {
        "entry_points": {"start": "a", "menu": "a", "pause": "a", "help": "a", "crisis": "a"},
        "nodes": nodes,
    }
    result = load_dialogue({"main.yaml": yaml.safe_dump(doc).encode()})
    assert _all_known(result.problems)


def test_alias_bomb_is_refused_not_expanded() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"l{i}: &l{i} [" + ", ".join([f"*{'a' if i == 1 else f'l{i - 1}'}"] * 10) + "]\n"
    value, problems = read_yaml(bomb.encode(), "bomb.yaml")
    assert value is None and problems[0].code == "BL001"
    assert "too large" in problems[0].message


def test_deep_nesting_is_refused() -> None:
    value, problems = read_yaml(("[" * 500 + "]" * 500).encode(), "deep.yaml")
    assert value is None and problems[0].code == "BL001"


def test_a_list_where_a_mapping_belongs() -> None:
    result = load_dialogue({"list.yaml": b"- nodes\n- more\n"})
    assert [p.code for p in result.problems] == ["BL006"]
    assert "should be a mapping" in result.problems[0].message


def test_utf8_bom_and_windows_line_endings_are_fine() -> None:
    data = (
        "\ufeffentry_points: {start: a, menu: a, pause: a, help: a, crisis: a}\r\n"
        'nodes:\r\n  a:\r\n    messages: ["Hi"]\r\n    options: [{label: Go, to: a}]\r\n'
    )
    result = load_dialogue({"main.yaml": data.encode()})
    assert result.problems == [] and result.dialogue is not None
