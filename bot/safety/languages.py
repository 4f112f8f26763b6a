"""The safety net in other languages: one phrase list per language.

The English phrase list and model understand English only. A parent writing Welsh or
Spanish must still get the crisis reply for the crisis words of their language, so each
language has its own list, ``safety/risk-phrases.<lang>.yaml``, in the same format as
``risk-phrases.yaml`` and reviewed the same way (``phrases_reviewed_by`` in the language's
review record). There is no model for these languages: the list is all the net claims.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.dialogue.problems import Problem
from bot.safety import PHRASES_FILE, RiskMatcher, parse_risk_phrases

_NAME = re.compile(r"^risk-phrases\.([a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?)\.yaml$")


def phrase_file(dialogue_dir: Path, lang: str) -> Path:
    base = dialogue_dir if dialogue_dir.is_dir() else dialogue_dir.parent
    return base / PHRASES_FILE.parent / f"risk-phrases.{lang}.yaml"


def load_language_phrases(dialogue_dir: Path) -> tuple[dict[str, RiskMatcher], list[Problem]]:
    """Every ``safety/risk-phrases.<lang>.yaml`` beside the dialogue, compiled."""
    base = dialogue_dir if dialogue_dir.is_dir() else dialogue_dir.parent
    folder = base / PHRASES_FILE.parent
    matchers: dict[str, RiskMatcher] = {}
    problems: list[Problem] = []
    try:
        paths = sorted(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        paths = []
    for path in paths:
        m = _NAME.match(path.name)
        if not m:
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(Problem("BL070", f"cannot read: {exc.strerror}", str(path)))
            continue
        matcher, found = parse_risk_phrases(data, str(path))
        problems += found
        if matcher is not None:
            matchers[m.group(1)] = matcher
    return matchers, problems


def other_languages_risk(text: str, language_phrases) -> bool:
    """Whether the phrase list of any other language fires on ``text``. Every list
    applies whatever language the parent chose: someone in crisis may write in their own
    language before, or without, switching with /language."""
    from bot.safety import is_risk

    return any(is_risk(text, m) for m in language_phrases.values())


def is_safe_answer_any(text: str, dialogue) -> bool:
    """A clear no to the safety question, in English or in any offered language."""
    from bot.safety import is_safe_answer

    return is_safe_answer(text, dialogue.risk_phrases) or any(
        is_safe_answer(text, m) for m in dialogue.language_phrases.values()
    )
