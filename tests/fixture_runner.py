"""What `babyloss-bot validate` (and `test`) print for one fixture folder, with stable paths.

Shared by the fixture tests and by the script that (re)writes each fixture's expected.txt.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from bot.authoring.convtests import run_files
from bot.dialogue.loader import load_dialogue
from bot.safety import load_risk_phrases
from bot.safety.languages import load_language_phrases

CODES_DIR = Path(__file__).parent / "fixtures" / "codes"
TODAY = dt.date(2026, 11, 25)  # fixed, so signpost dates give the same answer every year


def fixture_output(folder: Path) -> str:
    """The formatted problems for ``folder``, paths relative to tests/fixtures/codes."""
    cwd = os.getcwd()
    os.chdir(CODES_DIR)
    try:
        name = folder.name
        files = {str(p): p.read_bytes() for p in sorted(Path(name).glob("*.y*ml"))}
        lines: list[str] = []
        if not files:
            from bot.dialogue.loader import read_dialogue_files

            _, problems = read_dialogue_files(name)
            return "\n".join(p.format() for p in problems) + "\n"
        phrases = language_phrases = None
        if Path(name, "safety").is_dir():
            phrases, problems = load_risk_phrases(Path(name))
            language_phrases, more = load_language_phrases(Path(name))
            lines += [p.format() for p in problems + more]
        tests = [p for p in files if not p.endswith("main.yaml") and b"tests:" in files[p]]
        result = load_dialogue(
            {k: v for k, v in files.items() if k not in tests},
            risk_phrases=phrases,
            language_phrases=language_phrases,
            today=TODAY,
        )
        lines += [p.format() for p in result.problems]
        if tests and result.dialogue:
            _, failures, test_problems = run_files(result.dialogue, [Path(t) for t in tests])
            lines += [p.format() for p in test_problems] + [f.format() for f in failures]
        return "\n".join(lines) + "\n"
    finally:
        os.chdir(cwd)


if __name__ == "__main__":  # rewrite every expected.txt; review the diff before committing
    for folder in sorted(CODES_DIR.iterdir()):
        (folder / "expected.txt").write_text(fixture_output(folder))
