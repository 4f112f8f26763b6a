"""One way to name a dialogue folder: every authoring command takes it as PATH (default
./dialogues), says which folder it used first, and refuses to guess when there is none."""

from __future__ import annotations

import shutil

import pytest

from tests.test_cli import EXAMPLE, run

COMMANDS = ("chat", "graph", "test", "validate")


@pytest.mark.parametrize("command", COMMANDS)
def test_without_a_dialogues_folder_here_the_command_says_so(tmp_path, command) -> None:
    result = run(command, cwd=tmp_path, stdin="/quit\n")
    assert result.returncode == 2, result.stdout
    assert "There is no 'dialogues' folder in" in result.stderr
    assert f"babyloss-bot {command} PATH" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_the_folder_is_a_positional_path_named_in_the_first_line(tmp_path, command) -> None:
    folder = tmp_path / "mine"
    shutil.copytree(EXAMPLE, folder)
    result = run(command, str(folder), cwd=tmp_path, stdin="/quit\n")
    assert result.returncode == 0, result.stdout + result.stderr
    # graph keeps stdout for the diagram itself, so it names the folder on stderr
    first = (result.stderr if command == "graph" else result.stdout).lstrip().splitlines()[0]
    assert str(folder) in first, first


def test_the_default_is_dialogues_of_the_current_folder(tmp_path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "dialogues")
    result = run("validate", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == "Checking the dialogues in dialogues"


def test_test_runs_the_folders_own_tests_against_that_folder(tmp_path) -> None:
    folder = tmp_path / "mine"
    shutil.copytree(EXAMPLE, folder)
    result = run("test", str(folder), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("7 passed, 0 failed")


def test_test_given_a_test_file_explains_how_to_run_it(tmp_path) -> None:
    folder = tmp_path / "mine"
    shutil.copytree(EXAMPLE, folder)
    result = run("test", str(folder / "tests" / "example.yaml"), cwd=tmp_path)
    assert result.returncode == 2
    assert f"babyloss-bot test {folder} --file {folder / 'tests' / 'example.yaml'}" in (
        result.stderr
    )
    only = run("test", str(folder), "--file", str(folder / "tests" / "example.yaml"))
    assert only.returncode == 0 and "7 passed, 0 failed" in only.stdout


def test_a_new_folder_without_a_safety_net_is_told_how_to_start_one(tmp_path) -> None:
    folder = tmp_path / "mine"
    shutil.copytree(EXAMPLE, folder)
    shutil.rmtree(folder / "safety")
    result = run("validate", str(folder))
    assert result.returncode == 1
    assert "BL070 error: the safety phrase list is missing" in result.stdout
    assert "cp -r" in result.stdout and "safety" in result.stdout
    assert "docs/dialogue-format.md" in result.stdout
