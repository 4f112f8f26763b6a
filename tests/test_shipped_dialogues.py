"""The dialogues parents read: they validate clean and every conversation test passes."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest

from bot.authoring.convtests import find_test_files, parse_tests, run_case
from bot.dialogue.loader import load_dialogue_dir
from bot.dialogue.telegram_html import visible_text
from tests.conftest import ROOT

DIALOGUES = ROOT / "dialogues"
# The project's shared folder sits beside the checkout (CI's clone) or beside the folder of
# worktrees a developer keeps; CI always has it, so there a missing copy is a failure.
SHARED_REFERENCE = next(
    (
        folder / "shared" / "content-reference.md"
        for folder in (ROOT.parent, ROOT.parent.parent)
        if (folder / "shared" / "content-reference.md").exists()
    ),
    ROOT.parent / "shared" / "content-reference.md",
)


def _skip_without_shared_reference() -> None:
    if not SHARED_REFERENCE.exists():
        assert not os.environ.get("CI"), f"CI has no {SHARED_REFERENCE}"
        pytest.skip(f"{SHARED_REFERENCE} is outside this checkout")


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


# Steps that need no "I need help now" button, and why. Every other step offers it: a
# parent reading about their loss, or typing their baby's name, is one tap from help.
_HELP_NOW_EXEMPT = {
    "crisis": "it is the help: the numbers, calming and small steps",
    "crisis_still": "it shows every crisis line again, with calming and small steps",
    "safety_check": "the bot adds its own two answers (BL018), one of them the crisis reply",
    "not_today": "the parent is stopping; it names /support",
    "enough": "the parent is stopping for now; back to the menu, which offers it",
    "consent": "privacy settings; every way out leads to the menu",
    "consent_yes": "privacy settings",
    "consent_no": "privacy settings",
    "support_region": "a country picker: each answer leads to the support menu, which offers it",
    "anniversary_saved": "reminder settings",
}


def test_every_content_step_offers_help_now(shipped_dialogue) -> None:
    crisis = shipped_dialogue.entry["crisis"]
    missing = [
        n.id
        for n in shipped_dialogue.nodes.values()
        if n.id not in _HELP_NOW_EXEMPT
        # Reminder settings screens (on/off, time zone) lead back to the reminders menu,
        # which offers it; the reminders themselves (reminder_*) are content and do.
        and not n.id.startswith("reminders_")
        and not any(o.to == crisis for o in n.options)
    ]
    assert missing == []
    assert set(_HELP_NOW_EXEMPT) <= set(shipped_dialogue.nodes)  # no stale exemptions


# Numbers as parents see them: "116 123", "0808 164 3332", "1-833-852-6262", "85258".
_NUMBER = re.compile(r"(?<![\w-])\d[\d -]*\d(?![\w-])")
_SITE = re.compile(r"^[a-z0-9.-]+\.[a-z]{2,}\b")


def _reference_numbers(path) -> set[str]:
    return {m.group().strip() for m in _NUMBER.finditer(path.read_text())}


@pytest.mark.parametrize(
    "reference", [ROOT / "docs" / "content-reference.md", SHARED_REFERENCE], ids=str
)
def test_every_number_a_signpost_shows_is_in_the_content_reference(
    shipped_dialogue, reference
) -> None:
    if reference == SHARED_REFERENCE:
        _skip_without_shared_reference()
    known = reference.read_text()
    missing = []
    for sp in shipped_dialogue.signposts.values():
        shown = visible_text(sp.text.pick("en", "en"))
        for number in _NUMBER.findall(shown):
            number = number.strip(" -")
            if len(number.replace(" ", "").replace("-", "")) >= 3 and number not in known:
                missing.append(f"{sp.id}: {number}")
    assert missing == []


# Rows of the reference that name no site: the emergency numbers, and NHS 111 ("NHS
# practice pages"). Their sources still start with the official site.
_ROWS_WITHOUT_A_SITE = {"emergency_uk", "emergency_us", "emergency_au", "emergency_other", "nhs111"}


def test_every_signpost_source_names_a_site_the_reference_names(shipped_dialogue) -> None:
    reference = (ROOT / "docs" / "content-reference.md").read_text()
    unnamed = []
    for sp in shipped_dialogue.signposts.values():
        site = _SITE.match(sp.source)
        if site is None:
            unnamed.append(f"{sp.id}: source '{sp.source}' does not start with a site")
        elif site.group() not in reference and sp.id not in _ROWS_WITHOUT_A_SITE:
            unnamed.append(f"{sp.id}: {site.group()} is not in the content reference")
    assert unnamed == []


def test_the_repo_reference_agrees_with_the_shared_one_on_every_number() -> None:
    _skip_without_shared_reference()
    ours = _reference_numbers(ROOT / "docs" / "content-reference.md")
    assert ours == _reference_numbers(SHARED_REFERENCE)
