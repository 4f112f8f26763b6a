"""Every validator code has a fixture whose exact output is pinned in expected.txt."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.dialogue.loader import load_dialogue_dir
from bot.dialogue.problems import CODES
from bot.dialogue.schema import schema_json
from tests.fixture_runner import CODES_DIR, TODAY, fixture_output

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted(p for p in CODES_DIR.iterdir() if p.is_dir())


@pytest.mark.parametrize("folder", FIXTURES, ids=[p.name for p in FIXTURES])
def test_fixture_prints_exactly_the_expected_problems(folder: Path) -> None:
    output = fixture_output(folder)
    assert output == (folder / "expected.txt").read_text()
    # The folder is named after the code it demonstrates: that code must be reported.
    assert f" {folder.name} " in output


def test_every_code_has_a_fixture_and_a_line_in_the_docs() -> None:
    assert {p.name for p in FIXTURES} == set(CODES)
    docs = (ROOT / "docs" / "validator-codes.md").read_text()
    documented = {
        line.split("|")[1].strip() for line in docs.splitlines() if line.startswith("| BL")
    }
    assert documented == set(CODES)


def test_published_schema_matches_the_loader() -> None:
    assert (ROOT / "dialogues" / "schema.json").read_text() == schema_json()


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@pytest.mark.parametrize(
    "folder",
    [ROOT / "dialogues", ROOT / "docs/examples/first-dialogue"],
    ids=["shipped", "example"],
)
def test_real_dialogue_files_satisfy_the_schema(folder: Path) -> None:
    schema = json.loads((ROOT / "dialogues" / "schema.json").read_text())
    files = sorted(folder.glob("*.yaml"))
    assert files
    for path in files:
        jsonschema.validate(_plain(yaml.safe_load(path.read_text())), schema)


def test_schema_rejects_an_unknown_node_key() -> None:
    schema = json.loads(schema_json())
    bad = {"nodes": {"a": {"mesages": ["hi"], "messages": ["hi"]}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_documented_example_validates_clean_and_its_tests_pass() -> None:
    from bot.authoring.convtests import find_test_files, run_files

    folder = ROOT / "docs" / "examples" / "first-dialogue"
    result = load_dialogue_dir(folder, today=TODAY)
    assert result.problems == []
    passed, failures, problems = run_files(result.dialogue, find_test_files(folder))
    assert (failures, problems) == ([], [])
    assert passed == 7


def test_snippets_in_the_format_doc_come_from_the_example() -> None:
    """The YAML shown in docs/dialogue-format.md must be real: each entry-points and node
    snippet's lines appear in the example files or the shipped dialogues (ignoring
    indentation); both are validated by the suite."""
    doc = (ROOT / "docs" / "dialogue-format.md").read_text()
    example = "\n".join(
        p.read_text()
        for p in [
            *(ROOT / "docs/examples/first-dialogue").rglob("*.yaml"),
            *(ROOT / "dialogues").glob("*.yaml"),
        ]
    )

    def code(line: str) -> str:
        return line.split("  #")[0].strip()

    example_lines = {code(line) for line in example.splitlines()}
    blocks = doc.split("```yaml")[1:]
    checked = 0
    for block in blocks:
        body = block.split("```")[0]
        if "entry_points:" in body or "free_text:" in body or "tests:" in body:
            for line in body.splitlines():
                stripped = code(line)
                if stripped and not stripped.startswith("#"):
                    assert stripped in example_lines, f"doc line not in the example: {stripped}"
            checked += 1
    assert checked >= 3


def test_every_system_message_and_setting_is_documented() -> None:
    from bot.dialogue.loader import SETTINGS_KEYS
    from bot.dialogue.model import DEFAULT_SYSTEM_MESSAGES, OPTIONAL_ENTRY_POINTS

    doc = (ROOT / "docs" / "dialogue-format.md").read_text()
    for key in [*DEFAULT_SYSTEM_MESSAGES, *SETTINGS_KEYS, *OPTIONAL_ENTRY_POINTS]:
        assert f"`{key}`" in doc or f"{key}:" in doc, key
