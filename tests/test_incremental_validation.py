"""The studio's incremental validation gives exactly what a fresh load gives.

``load_dialogue(files, memo=DialogueMemo())`` keeps each file's parts and its nodes' own
checks between loads (bot/dialogue/incremental.py). These tests make random edits (a
broken line, a renamed node, a removed target, a changed variable, a new or deleted
file, ...) one after another, load after each with the same memo, and compare the
problems, the dialogue and the draft with a fresh ``load_dialogue`` of the same bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.dialogue.checks import TextContext
from bot.dialogue.incremental import DialogueMemo
from bot.dialogue.loader import load_dialogue, read_dialogue_files

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 12, 5)

_spec = importlib.util.spec_from_file_location(
    "validate_bench", ROOT / "benchmarks" / "validate_bench.py"
)
validate_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(validate_bench)


def _lines(files: dict[str, bytes], rnd: random.Random) -> tuple[str, list[str]]:
    name = rnd.choice(sorted(files))
    return name, files[name].decode("utf-8", "replace").split("\n")


def _put(files: dict[str, bytes], name: str, lines: list[str]) -> dict[str, bytes]:
    return {**files, name: "\n".join(lines).encode()}


def break_line(files, rnd):
    name, lines = _lines(files, rnd)
    i = rnd.randrange(len(lines))
    col = rnd.randint(0, len(lines[i]))
    junk = rnd.choice([":", " [", "'", "\t", "  ", "- ", "{", "#", "x: y"])
    lines[i] = lines[i][:col] + junk + lines[i][col:]
    return _put(files, name, lines)


def delete_line(files, rnd):
    name, lines = _lines(files, rnd)
    del lines[rnd.randrange(len(lines))]
    return _put(files, name, lines)


def move_line(files, rnd):
    name, lines = _lines(files, rnd)
    line = lines.pop(rnd.randrange(len(lines)))
    lines.insert(rnd.randint(0, len(lines)), line)
    return _put(files, name, lines)


NODE_LINE = re.compile(r"^  ([a-z][a-z0-9_]*):\s*$")


def rename_node(files, rnd):
    name, lines = _lines(files, rnd)
    found = [i for i, line in enumerate(lines) if NODE_LINE.match(line)]
    if found:
        i = rnd.choice(found)
        lines[i] = lines[i].replace(":", rnd.choice(["_x:", "2:", "X:"]), 1)
    return _put(files, name, lines)


TARGET = re.compile(r"\b(to|fallback|then|start|menu|help): ([a-z][a-z0-9_]*)")


def retarget(files, rnd):
    name, lines = _lines(files, rnd)
    found = [(i, m) for i, line in enumerate(lines) for m in TARGET.finditer(line)]
    if found:
        i, m = rnd.choice(found)
        new = rnd.choice(["nowhere", "n1", "n0", "start", "about", "menu", m.group(2) + "s"])
        lines[i] = lines[i][: m.start(2)] + new + lines[i][m.end(2) :]
    return _put(files, name, lines)


WORDS = [
    "partner",
    "relationship",
    "unsure",
    "first_name",
    "baby_name",
    "en",
    "cy",
    "fr",
    "n5",
    "about",
    "start",
    "samaritans",
    "{first_name}",
    "{relationship}",
    "{baby_name}",
    "{nothing_sets_this}",
    "<b>bold",
    "a much longer value than any other " * 3,
    "words " * 130,
]


def replace_word(files, rnd):
    """Variables, values, languages, targets, placeholders, formatting, long texts."""
    name, lines = _lines(files, rnd)
    i = rnd.randrange(len(lines))
    words = list(re.finditer(r"[a-z_]+", lines[i]))
    if words:
        m = rnd.choice(words)
        lines[i] = lines[i][: m.start()] + rnd.choice(WORDS) + lines[i][m.end() :]
    return _put(files, name, lines)


SET_VALUE = re.compile(r"\b(relationship|baby_name_offer|shop_link|[a-z_]+_offer): ([a-z_]+)")
QUOTED = re.compile(r"'[^'{}]*'")


def set_value(files, rnd):
    """A value set somewhere else gets longer or shorter: texts using it measure again."""
    name, lines = _lines(files, rnd)
    found = [(i, m) for i, line in enumerate(lines) for m in SET_VALUE.finditer(line)]
    if found:
        i, m = rnd.choice(found)
        new = rnd.choice(["partner", "x", "a" * 650, "a" * rnd.randint(1, 700)])
        lines[i] = lines[i][: m.start(2)] + new + lines[i][m.end(2) :]
    return _put(files, name, lines)


def use_variable(files, rnd):
    """A text starts using a variable (with or without a default)."""
    name, lines = _lines(files, rnd)
    found = [(i, m) for i, line in enumerate(lines) for m in QUOTED.finditer(line)]
    if found:
        i, m = rnd.choice(found)
        var = rnd.choice(["relationship", "baby_name", "shop_link", "relationshp", "first_name"])
        var += rnd.choice(["", "|there"])
        at = rnd.randint(m.start() + 1, m.end() - 1)
        lines[i] = lines[i][:at] + "{" + var + "}" + lines[i][at:]
    return _put(files, name, lines)


NEW_FILES = [
    "nodes:\n  {node}:\n    messages: ['Hello {{relationship}}']\n"
    "    options: [{{label: Back, to: {node}}}]\n",
    "nodes:\n  extra_node:\n    messages: ['Hi {{first_name|there}}']\n"
    "    options: [{{label: Go, to: {node}, set: {{relationship: a_very_long_value_here}}}}]\n",
    "entry_points: {{start: {node}, menu: {node}, pause: {node}, help: {node}, crisis: {node}}}\n",
    "settings: {{languages: [en, cy, fr], label_limit: 12, readability_limit: 40}}\n",
    "signposts:\n  samaritans: {{text: 'Call 116 123', source: https://example.org,"
    " checked: 2020-01-01}}\n",
    "system_messages: {{choose: 'Pick one, {{first_name}}:'}}\n",
    "reminders: {{check_in: {node}, anniversary: nowhere}}\n",
    "nodes:\n  extra_capture:\n    messages: [Tell me]\n    free_text:\n"
    "      capture: {{variable: relationship, kind: name, then: {node}}}\n"
    "      fallback: {node}\n",
    "nodes: [not, a, mapping]\n",
    "- just a list\n",
    "",
]


def new_file(files, rnd):
    some = rnd.choice(sorted(files))
    lines = files[some].decode("utf-8", "replace").split("\n")
    ids = [m.group(1) for line in lines if (m := NODE_LINE.match(line))] or ["n0"]
    text = rnd.choice(NEW_FILES).format(node=rnd.choice(ids))
    # Sorted before or after the others: which copy of an id comes first matters.
    stem = rnd.choice(["aaa", "zzz", "m"])
    folder = str(Path(some).parent) + "/" if "/" in some else ""
    return {**files, f"{folder}{stem}-{rnd.randrange(1000)}.yaml": text.encode()}


def name_capture(files, rnd):
    """A new file makes a variable hold words parents type (texts need a default, BL042)."""
    var = rnd.choice(["relationship", "baby_name", "first_name"])
    text = (
        "nodes:\n  extra_capture:\n    messages: [Tell me]\n    free_text:\n"
        f"      capture: {{variable: {var}, kind: name, then: n0}}\n      fallback: n0\n"
    )
    return {**files, f"{rnd.choice(['aaa', 'zzz'])}-capture.yaml": text.encode()}


def new_settings(files, rnd):
    """Languages and limits every text is checked against (the last settings win)."""
    text = rnd.choice(
        [
            "settings: {languages: [en, cy, fr]}\n",
            "settings: {languages: [en]}\n",
            "settings: {languages: [en, cy], label_limit: 8}\n",
            "settings: {languages: [en, cy], readability_limit: 30}\n",
            "settings: {variables: {relationship: a_much_longer_starting_value}}\n",
        ]
    )
    return {**files, f"{rnd.choice(['aaa', 'zzz'])}-settings.yaml": text.encode()}


def remove_file(files, rnd):
    if len(files) < 2:
        return files
    gone = rnd.choice(sorted(files))
    return {name: data for name, data in files.items() if name != gone}


def copy_lines(files, rnd):
    """Part of one file appended to another: duplicate nodes and signposts across files."""
    _, source = _lines(files, rnd)
    name, lines = _lines(files, rnd)
    start = rnd.randrange(len(source))
    return _put(files, name, lines + source[start : start + rnd.randint(1, 40)])


EDITS = [
    break_line,
    delete_line,
    move_line,
    rename_node,
    retarget,
    replace_word,
    replace_word,
    set_value,
    set_value,
    use_variable,
    use_variable,
    new_file,
    name_capture,
    new_settings,
    remove_file,
    copy_lines,
]

# Edits to one file that change what the checks of the others see.
CONTEXT_EDITS = [set_value, use_variable, name_capture, new_settings, remove_file]

edit_lists = st.lists(
    st.tuples(st.sampled_from(EDITS), st.integers(0, 2**32 - 1)), min_size=1, max_size=8
)


def assert_same(files: dict[str, bytes], memo: DialogueMemo) -> None:
    incremental = load_dialogue(files, memo=memo, today=TODAY)
    fresh = load_dialogue(files, today=TODAY)
    assert incremental.problems == fresh.problems
    assert incremental.draft == fresh.draft
    assert incremental.dialogue == fresh.dialogue


def check_edits(files: dict[str, bytes], edits) -> None:
    memo = DialogueMemo()
    load_dialogue(files, memo=memo, today=TODAY)  # as the studio: everything kept
    for edit, seed in edits:
        files = edit(files, random.Random(seed))
        assert_same(files, memo)


@pytest.fixture(scope="module")
def shipped() -> dict[str, bytes]:
    files, problems = read_dialogue_files(ROOT / "dialogues")
    assert not problems
    return files


@pytest.fixture(scope="module")
def big() -> dict[str, bytes]:
    return validate_bench.generate(2000)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=edit_lists)
def test_random_edits_to_the_shipped_dialogues(shipped, edits) -> None:
    check_edits(shipped, edits)


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(EDITS), st.integers(0, 2**32 - 1)), min_size=1, max_size=4
    )
)
def test_random_edits_to_the_2000_node_dialogue(big, edits) -> None:
    check_edits(big, edits)


@pytest.fixture(scope="module")
def medium() -> dict[str, bytes]:
    """The benchmark's shape at 200 nodes (quick to load afresh), its texts using a variable
    that every file sets: a value changed in one file changes how long texts in all are."""
    return {
        name: data.replace(b"'Partners too.'", b"'Partners too, {relationship}.'")
        for name, data in validate_bench.generate(200).items()
    }


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=edit_lists)
def test_random_edits_to_a_200_node_dialogue(medium, edits) -> None:
    check_edits(medium, edits)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(CONTEXT_EDITS), st.integers(0, 2**32 - 1)),
        min_size=1,
        max_size=6,
    )
)
def test_random_edits_that_change_what_other_files_see(medium, edits) -> None:
    check_edits(medium, edits)


def test_edits_reach_the_checks_that_span_files(big) -> None:
    """Not only YAML errors: renamed nodes and broken targets are found through the memo."""
    memo = DialogueMemo()
    assert load_dialogue(big, memo=memo, today=TODAY).ok
    part = big["part07.yaml"].decode()
    renamed = {**big, "part07.yaml": part.replace("  n7:\n", "  n7_x:\n", 1).encode()}
    result = load_dialogue(renamed, memo=memo, today=TODAY)
    assert "BL011" in {p.code for p in result.problems}
    assert result.problems == load_dialogue(renamed, today=TODAY).problems
    assert load_dialogue(big, memo=memo, today=TODAY).ok  # and back again


def test_a_change_in_one_file_rechecks_the_texts_of_another() -> None:
    """A longer value set in b.yaml makes a button label in a.yaml too long (BL022)."""
    a = (
        b"entry_points: {start: a, menu: a, pause: a, help: a, crisis: a}\n"
        b"settings: {label_limit: 20}\n"
        b"nodes:\n  a:\n    messages: ['Hello']\n"
        b"    options: [{label: 'Hi {who}', to: b}]\n"
    )
    b = b"nodes:\n  b:\n    messages: ['Hi']\n    options: [{label: Back, to: a, set: {who: %s}}]\n"
    memo = DialogueMemo()
    files = {"a.yaml": a, "b.yaml": b % b"Sam"}
    assert load_dialogue(files, memo=memo, today=TODAY).problems == []
    files["b.yaml"] = b % (b"S" * 30)
    result = load_dialogue(files, memo=memo, today=TODAY)
    assert [(p.code, p.file) for p in result.problems] == [("BL022", "a.yaml")]
    assert result.problems == load_dialogue(files, today=TODAY).problems
    files["b.yaml"] = b % b"Sam"
    assert load_dialogue(files, memo=memo, today=TODAY).problems == []


def test_a_duplicate_in_an_earlier_file_drops_the_later_copy_and_its_problems() -> None:
    later = (
        b"nodes:\n  n0:\n    colour: red\n    messages: [Hi]\n    options: [{label: X, to: n0}]\n"
    )
    files = {**validate_bench.generate(40), "zzz.yaml": later}
    memo = DialogueMemo()
    first = load_dialogue(files, memo=memo, today=TODAY)
    assert {p.code for p in first.problems} == {"BL010"}  # the copy's BL007 is not reported
    files["aaa.yaml"] = later  # now the broken copy comes first and the generated one is dropped
    result = load_dialogue(files, memo=memo, today=TODAY)
    assert "BL007" in {p.code for p in result.problems}
    assert result.problems == load_dialogue(files, today=TODAY).problems
    assert result.draft == load_dialogue(files, today=TODAY).draft


def test_a_new_variable_in_one_file_changes_the_suggestion_in_another() -> None:
    a = (
        b"entry_points: {start: a, menu: a, pause: a, help: a, crisis: a}\n"
        b"nodes:\n  a:\n    messages: ['Your {colour} ribbon']\n"
        b"    options: [{label: Next, to: b}]\n"
    )
    b = b"nodes:\n  b:\n    messages: ['Hi']\n    options: [{label: Back, to: a, set: %s}]\n"
    memo = DialogueMemo()
    files = {"a.yaml": a, "b.yaml": b % b"{size: big}"}
    (before,) = load_dialogue(files, memo=memo, today=TODAY).problems
    assert before.code == "BL040" and "Did you mean" not in before.message
    files["b.yaml"] = b % b"{color: red}"
    (after,) = load_dialogue(files, memo=memo, today=TODAY).problems
    assert after.message.endswith("Did you mean 'color'?")
    assert [after] == load_dialogue(files, today=TODAY).problems


def test_every_field_of_the_text_context_is_in_its_key() -> None:
    """check_node sees only the TextContext; key_for must cover each field, or a change in
    another file could leave stale problems. Adding a field? Add it to key_for, then here."""
    assert [f.name for f in dataclasses.fields(TextContext)] == [
        "languages",
        "default_language",
        "label_limit",
        "readability_limit",
        "settable",
        "longest",
        "typed_names",
    ]
