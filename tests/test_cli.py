"""The volunteer's commands, run the way a volunteer runs them: as a real process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "docs" / "examples" / "first-dialogue"


def run(*args: str, stdin: str = "", cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        text=True,
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )


def test_validate_clean_folder_exits_0() -> None:
    result = run("validate", str(EXAMPLE), "--strict")
    assert result.returncode == 0, result.stdout
    assert "0 error(s), 0 warning(s), 9 node(s)" in result.stdout


def test_validate_reports_file_line_code_and_hint(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "d")
    main = tmp_path / "d" / "main.yaml"
    main.write_text(main.read_text().replace("to: about", "to: abuot", 1))
    result = run("validate", str(tmp_path / "d"))
    assert result.returncode == 1
    line = next(i for i, text in enumerate(main.read_text().splitlines(), 1) if "abuot" in text)
    assert f"main.yaml:{line}:" in result.stdout
    assert (
        "BL011 error: option 1 of node 'menu' goes to 'abuot', which is not a node. "
        "Did you mean 'about'?" in result.stdout
    )
    assert "hint: Fix the spelling" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_warnings_fail_only_with_strict(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "d")
    main = tmp_path / "d" / "main.yaml"
    island = '  lonely:\n    messages: ["hi"]\n    options: [{label: Menu, to: menu}]\n'
    main.write_text(main.read_text().replace("nodes:\n", "nodes:\n" + island, 1))
    assert run("validate", str(tmp_path / "d")).returncode == 0
    strict = run("validate", str(tmp_path / "d"), "--strict")
    assert strict.returncode == 1 and "BL012 warning" in strict.stdout


@pytest.mark.parametrize("content", [b"", b"\x00\x01binary", b"nodes: [\n", b"\t- x\n"])
def test_broken_files_never_show_a_traceback(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "broken.yaml").write_bytes(content)
    result = run("validate", str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "broken.yaml" in result.stdout


def test_validate_missing_folder(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "nope"))
    assert result.returncode == 1 and "BL009" in result.stdout


def test_chat_plays_buttons_text_and_commands() -> None:
    session = "2\nwhat now\n/back\nI can't go on\n/menu\n1\n/quit\n"
    result = run("chat", str(EXAMPLE), "--name", "Sam", stdin=session)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\nContent note: this conversation" in out  # said once, not twice
    assert "[content note] Content note" not in out
    assert "Hello Sam." in out
    assert "[2] I'm a partner" in out
    assert "Partners are often forgotten" in out  # pressed 2
    assert "(bot) I can only follow the buttons" not in out  # the menu has free_text
    assert "116 123" in out  # typed risk language -> crisis reply
    assert "This is an example" in out  # /menu then 1 -> about
    assert "<b>" not in out and "\x1b[" not in out  # no HTML, no colour codes in a pipe


def test_chat_from_a_node_and_in_another_language() -> None:
    result = run(
        "chat", str(EXAMPLE), "--from", "about", "--lang", "cy", stdin="/quit\n"
    )
    assert result.returncode == 0
    assert "Enghraifft yw hon" in result.stdout
    assert "Sands (https://www.sands.org.uk)" in result.stdout


def test_chat_unknown_node_is_a_clear_error() -> None:
    result = run("chat", str(EXAMPLE), "--from", "abuot")
    assert result.returncode == 2 and "Did you mean 'about'?" in result.stderr


def test_chat_number_out_of_range_is_explained() -> None:
    result = run("chat", str(EXAMPLE), stdin="9\n/quit\n")
    assert "choose a number from 1 to 3" in result.stdout


def test_chat_refuses_a_broken_dialogue(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "d")
    (tmp_path / "d" / "main.yaml").write_text("nodes: [\n")
    result = run("chat", str(tmp_path / "d"))
    assert result.returncode == 1 and "BL001" in result.stderr and "fix them first" in result.stderr


def test_graph_mermaid_and_dot(tmp_path: Path) -> None:
    mermaid = run("graph", str(EXAMPLE))
    assert mermaid.returncode == 0
    assert mermaid.stdout.startswith("flowchart TD")
    assert 'welcome -->|"I\'m a partner"| menu' in mermaid.stdout
    assert 'menu -.->|"about / who made"| about' in mermaid.stdout
    out = tmp_path / "flow.dot"
    dot = run("graph", str(EXAMPLE), "--format", "dot", "-o", str(out))
    assert dot.returncode == 0 and out.read_text().startswith("digraph dialogue {")
    assert '"welcome" -> "menu"' in out.read_text()


def test_graph_marks_unreachable_and_dead_end_nodes(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "d")
    main = tmp_path / "d" / "main.yaml"
    main.write_text(
        main.read_text()
        .replace(
            "nodes:\n",
            'nodes:\n  island:\n    messages: ["alone"]\n'
            '    options: [{label: Menu, to: menu}]\n  stuck:\n    messages: ["stuck"]\n',
            1,
        )
        .replace("  about:\n", "  about:\n", 1)
    )
    main.write_text(
        main.read_text().replace(
            '      - label: {en: "About this bot"',
            '      - label: {en: "Stuck", cy: "Sownd"}\n'
            '        to: stuck\n      - label: {en: "About this bot"',
            1,
        )
    )
    result = run("graph", str(tmp_path / "d"))
    assert result.returncode == 0
    assert "class island unreachable" in result.stdout
    assert "class stuck deadend" in result.stdout
    assert "the dialogues have errors" in result.stderr


def test_conversation_tests_pass_and_failures_are_explained(tmp_path: Path) -> None:
    ok = run("test", str(EXAMPLE))
    assert ok.returncode == 0 and ok.stdout.strip().endswith("7 passed, 0 failed")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        'tests:\n  - name: wrong turn\n    steps:\n      - press: "I\'m a partner"\n'
        "        expect: {node: about, variables: {relationship: mother}}\n"
        '  - name: no such button\n    steps:\n      - press: "Tell me"\n'
    )
    failed = run("test", str(EXAMPLE), "--file", str(bad))
    assert failed.returncode == 1
    assert f"{bad}:4: FAIL 'wrong turn' step 1" in failed.stdout
    assert "expected to arrive at node 'about', but arrived at 'menu'" in failed.stdout
    assert "expected variable 'relationship' to be 'mother', but it is 'partner'" in failed.stdout
    assert "press 'Tell me': no such button. Offered: 'I carried my baby'" in failed.stdout
    assert failed.stdout.strip().endswith("0 passed, 2 failed")


def test_safety_command_explains_which_phrase_fired() -> None:
    result = run("safety", "i cant go on", "this heat is killing me")
    assert result.returncode == 0
    assert "'i cant go on': CRISIS REPLY" in result.stdout
    assert "'this heat is killing me': no match" in result.stdout


def test_console_script_and_module_agree() -> None:
    # Beside this Python (the venv's bin/), whether or not the venv is on PATH.
    beside = Path(sys.executable).with_name("babyloss-bot")
    exe = str(beside) if beside.exists() else shutil.which("babyloss-bot")
    assert exe, "the babyloss-bot console script is installed by pip install -e ."
    a = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30)
    b = run("--help")
    assert a.returncode == b.returncode == 0
    assert a.stdout.replace("babyloss-bot", "") == b.stdout.replace("babyloss-bot", "")
    for command in ("chat", "validate", "graph", "test"):
        assert command in a.stdout


def test_chat_says_nothing_is_kept_for_mydata_and_forget() -> None:
    result = run("chat", str(EXAMPLE), stdin="/mydata\n/forget\n/quit\n")
    assert result.returncode == 0
    assert result.stdout.count("I'm not keeping anything about you") == 2


def test_graph_draws_the_safety_check_with_its_answer_not_as_a_dead_end() -> None:
    result = run("graph", str(ROOT / "dialogues"))
    assert result.returncode == 0, result.stderr
    assert 'safety_check -->|"Yes, or I\'m not sure"| crisis' in result.stdout
    assert not any(
        line.strip().startswith("class ") and "deadend" in line and "safety_check" in line
        for line in result.stdout.splitlines()
    )


def test_chat_shows_a_baby_s_name_held_in_memory_and_forget_drops_it() -> None:
    steps = "3\n1\nRose & Lily\n/mydata\n/forget\n/mydata\n1\n/quit\n"
    result = run("chat", str(ROOT / "dialogues"), stdin=steps)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("the name you told me: Rose and Lily") == 1  # the first /mydata only
    assert "Done: I've deleted everything I kept about you" in out
    assert out.rstrip().endswith("[7] Not today")  # back on "After a loss"...
    assert "I'm so sorry that your baby died." in out.split("Done: I've deleted")[1]


def test_chat_is_honest_that_saying_yes_keeps_nothing_here() -> None:
    dialogues = str(ROOT / "dialogues")
    result = run("chat", dialogues, "--from", "consent", stdin="1\n/mydata\n/quit\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    said_yes = out.index("I'll remember where you got to")
    honest = out.index("(terminal) This terminal keeps nothing", said_yes)
    assert "You haven't asked me to remember you" not in out[honest:]
    assert "You said yes, but this terminal keeps nothing" in out[honest:]


def test_graph_into_markdown_is_a_fenced_mermaid_block(tmp_path: Path) -> None:
    out = tmp_path / "flow.md"
    result = run("graph", str(EXAMPLE), "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("```mermaid\nflowchart TD") and text.endswith("\n```\n")
    plain = tmp_path / "flow.mmd"
    assert run("graph", str(EXAMPLE), "-o", str(plain)).returncode == 0
    assert plain.read_text().startswith("flowchart TD")
