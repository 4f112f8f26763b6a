"""Shared fixtures: real dialogues loaded from real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.loader import load_dialogue_dir

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def example_dialogue():
    result = load_dialogue_dir(ROOT / "docs" / "examples" / "first-dialogue")
    assert result.ok, [p.format() for p in result.problems]
    return result.dialogue


@pytest.fixture(scope="session")
def shipped_dialogue():
    result = load_dialogue_dir(ROOT / "dialogues")
    assert result.ok, [p.format() for p in result.problems]
    return result.dialogue
