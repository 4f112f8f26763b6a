"""The dialogues parents read: they validate clean and every conversation test passes."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.authoring.convtests import find_test_files, parse_tests, run_case
from bot.dialogue.loader import load_dialogue_dir
from tests.conftest import ROOT

DIALOGUES = ROOT / "dialogues"


def _cases():
    out = []
    for path in find_test_files(DIALOGUES):
        cases, problems = parse_tests(path.read_bytes(), str(path.relative_to(ROOT)))
        assert problems == [], [p.format() for p in problems]
        out += cases
    return out


CASES = _cases()


def test_shipped_dialogues_validate_clean_even_with_strict() -> None:
    result = load_dialogue_dir(DIALOGUES)
    assert [p.format() for p in result.problems] == []


def test_signpost_checks_are_recent_enough_for_a_year_from_today() -> None:
    # BL060 warns after 12 months; this pins down that no signpost is already close to it.
    result = load_dialogue_dir(DIALOGUES, today=dt.date.today() + dt.timedelta(days=180))
    assert not [p for p in result.problems if p.code == "BL060"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file}:{c.line}" for c in CASES])
def test_conversation(shipped_dialogue, case) -> None:
    failures = run_case(shipped_dialogue, case)
    assert not failures, "\n".join(f.format() for f in failures)


def test_there_are_conversation_tests_for_every_node(shipped_dialogue) -> None:
    assert len(CASES) >= 50
    visited: set[str] = set()
    for case in CASES:
        run_case(shipped_dialogue, case, visited)
    assert set(shipped_dialogue.nodes) - visited == set()


def test_every_menu_offers_help_now(shipped_dialogue) -> None:
    crisis = shipped_dialogue.entry["crisis"]
    menus = [
        n
        for n in shipped_dialogue.nodes.values()
        if n.id.endswith("menu") or n.id == shipped_dialogue.entry["menu"]
    ]
    assert menus
    for node in menus:
        assert any(o.to == crisis for o in node.options), node.id
