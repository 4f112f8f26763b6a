"""Shared fixtures: real dialogues loaded from real files."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from bot.dialogue.loader import load_dialogue_dir

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


@pytest.fixture
def child_processes():
    """Processes a test starts; any still running at the end are killed, pass or fail."""
    procs: list = []
    yield procs
    for proc in procs:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
