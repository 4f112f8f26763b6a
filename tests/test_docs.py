"""The documentation renders as written: every code fence in the Markdown files closes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCS = sorted(
    p
    for p in [*ROOT.glob("*.md"), *ROOT.glob("docs/**/*.md"), *ROOT.glob("dialogues/**/*.md")]
    if ".venv" not in p.parts
)
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def fence_problems(text: str) -> list[str]:
    """CommonMark's rule: a fence closes only on a line of the same characters, at least as
    many, and nothing else; a fence left open turns the rest of the page into code."""
    problems, opened = [], None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if not match:
            continue
        marks, rest = match.groups()
        if opened is None:
            opened = (number, marks)
        elif marks[0] == opened[1][0] and len(marks) >= len(opened[1]):
            if rest.strip():
                problems.append(
                    f"line {number}: text after a closing fence, so it does not close "
                    f"the block opened on line {opened[0]}"
                )
            else:
                opened = None
    if opened is not None:
        problems.append(f"line {opened[0]}: this code block never closes")
    return problems


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_code_fence_closes(path: Path) -> None:
    assert fence_problems(path.read_text(encoding="utf-8")) == []


def test_the_fence_check_catches_an_unclosed_block() -> None:
    assert fence_problems("```yaml\na: 1\n``` then prose\n") == [
        "line 3: text after a closing fence, so it does not close the block opened on line 1",
        "line 1: this code block never closes",
    ]
    assert fence_problems("```sh\nls\n```\n") == []


BARE_PYTHON = re.compile(r"(?<![/\w.])python3? (?:benchmarks/|-m bot)")


def test_commands_in_the_docs_name_the_venvs_python() -> None:
    # A bare `python` may be the system's, without the bot's dependencies installed.
    files = [*DOCS, *sorted(ROOT.glob("benchmarks/*.py"))]
    bare = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if BARE_PYTHON.search(line)
    ]
    assert bare == []
