"""Two YAML slips volunteers make, reported where they are with the fix: a missing closing
quote, and a colon in unquoted words (which YAML reads as 'key: value')."""

from __future__ import annotations

from bot.dialogue.loader import load_dialogue

HEAD = "nodes:\n  start:\n    messages:\n"
TAIL = "    options:\n      - label: Menu\n        to: start\n"
ENTRY = "entry_points:\n  start: start\n  menu: start\n  crisis: start\n"


def problems(body: str) -> list[str]:
    result = load_dialogue({"main.yaml": (HEAD + body + TAIL + ENTRY).encode()})
    return [p.format() for p in result.problems if p.code in ("BL001", "BL007")]


def test_a_missing_closing_quote_is_reported_on_its_own_line() -> None:
    (problem,) = problems('      - "Hello there\n      - "Second message"\n')
    assert problem.startswith("main.yaml:4:9: BL001 error: the quote opened here never closes")
    assert 'hint: Add the closing " at the end of the text' in problem
    assert "indentation" not in problem


def test_a_missing_closing_quote_in_a_language_mapping() -> None:
    (problem,) = problems('      - en: "Hello there\n        cy: "Helo"\n')
    assert problem.startswith("main.yaml:4:13: BL001 error: the quote opened here never closes")


def test_a_colon_in_unquoted_words_says_to_add_quotes() -> None:
    (problem,) = problems("      - Remember: there is help whenever you need it.\n")
    assert problem.startswith(
        "main.yaml:4:9: BL007 error: 'Remember: there is help whenever you need it.' was read "
        "as 'Remember' followed by a value, because of the colon"
    )
    assert 'hint: Put the whole text in quotes: "Remember: there is help' in problem


def test_a_real_language_mapping_with_a_bad_code_is_still_explained() -> None:
    (problem,) = problems("      - en: Hello\n        english: Hello\n")
    assert "'english' in message 1 of node 'start' is not a language code" in problem
