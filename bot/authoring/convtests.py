"""Conversation tests written in YAML (``dialogues/tests/*.yaml``) and their runner.

A case starts at a node (default: the start), then presses buttons by their label, types
text or sends commands, checking after each step where the parent is, what they were told,
which buttons they were offered and which variables are set. The same engine that serves
Telegram runs them, so a passing test is what a parent will see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.dialogue.engine import (
    Command,
    Context,
    Press,
    Say,
    Start,
    StepResult,
    enter,
    new_session,
    step,
)
from bot.dialogue.model import Dialogue, freeze
from bot.dialogue.problems import Problem, did_you_mean
from bot.dialogue.telegram_html import visible_text
from bot.dialogue.yaml_reader import YList, YMap, read_yaml

CASE_KEYS = ("name", "start", "language", "variables", "first_name", "steps")
STEP_KEYS = ("press", "type", "command", "expect")
EXPECT_KEYS = (
    "node",
    "says",
    "not_says",
    "first_says",
    "messages_at_most",
    "buttons",
    "buttons_include",
    "variables",
    "crisis",
)


@dataclass
class TestStep:
    action: str  # press, type, command
    value: str
    expect: dict
    line: int


@dataclass
class TestCase:
    name: str
    file: str
    line: int
    start: str | None = None
    language: str | None = None
    variables: dict = field(default_factory=dict)
    first_name: str = ""
    steps: list[TestStep] = field(default_factory=list)


@dataclass
class Failure:
    case: TestCase
    step_number: int  # 0 = the start
    line: int
    what: str

    def format(self) -> str:
        where = "at the start" if self.step_number == 0 else f"step {self.step_number}"
        return f"{self.case.file}:{self.line}: FAIL '{self.case.name}' {where}\n    {self.what}"


def parse_tests(data: bytes, filename: str) -> tuple[list[TestCase], list[Problem]]:
    root, problems = read_yaml(data, filename)
    if root is None or problems:
        return [], problems
    cases: list[TestCase] = []

    def bad(message: str, pos, code: str = "BL080") -> None:
        problems.append(Problem(code, message, filename, pos[0], pos[1]))

    def keys(mapping: YMap, allowed: tuple[str, ...], what: str) -> None:
        for key in mapping:
            if key not in allowed:
                bad(
                    f"unknown key '{key}' in {what}.{did_you_mean(key, allowed)}",
                    mapping.where(key),
                )

    if not isinstance(root, YMap) or not isinstance(root.get("tests"), YList):
        bad("a test file is a mapping with a 'tests:' list", getattr(root, "pos", (1, 1)))
        return [], problems
    keys(root, ("tests",), "a test file")
    items = root["tests"]
    for i, item in enumerate(items):
        if not isinstance(item, YMap):
            bad(f"test {i + 1} should be a mapping with name and steps", items.where(i))
            continue
        keys(item, CASE_KEYS, "a test case")
        name = str(item.get("name") or f"test {i + 1}")
        case = TestCase(
            name,
            filename,
            items.where(i)[0],
            start=_opt_str(item.get("start")),
            language=_opt_str(item.get("language")),
            first_name=str(item.get("first_name") or ""),
        )
        if "variables" in item:
            if isinstance(item["variables"], YMap):
                case.variables = {k: _word(v) for k, v in item["variables"].items()}
            else:
                bad("'variables' should be a mapping", item.where_value("variables"))
        raw_steps = item.get("steps", YList())
        if not isinstance(raw_steps, YList):
            bad("'steps' should be a list", item.where_value("steps"))
            continue
        for j, raw in enumerate(raw_steps):
            pos = raw_steps.where(j)
            if not isinstance(raw, YMap):
                bad(f"step {j + 1} of '{name}' should be a mapping", pos)
                continue
            keys(raw, STEP_KEYS, "a step")
            actions = [k for k in ("press", "type", "command") if k in raw]
            expect = raw.get("expect") or {}
            if len(actions) > 1 or (not actions and "expect" not in raw):
                bad(f"step {j + 1} of '{name}' needs exactly one of press, type or command", pos)
                continue
            if not isinstance(expect, YMap | dict):
                bad(f"'expect' of step {j + 1} should be a mapping", raw.where_value("expect"))
                continue
            if isinstance(expect, YMap):
                keys(expect, EXPECT_KEYS, "an expectation")
            action = actions[0] if actions else "none"
            value = str(raw[action]).lstrip("/") if actions else ""
            case.steps.append(TestStep(action, value, dict(expect), pos[0]))
        cases.append(case)
    return cases, problems


def run_case(dialogue: Dialogue, case: TestCase, visited: set[str] | None = None) -> list[Failure]:
    """Run one case; the nodes it passes through are added to ``visited`` if given."""
    seen = visited if visited is not None else set()
    ctx = Context(first_name=case.first_name)
    session = new_session(dialogue, case.language)
    if case.variables:
        session = type(session)(
            node=None,
            variables=freeze({**session.variables, **case.variables}),
            language=case.language,
        )
    if case.start:  # run_files has checked that the node exists
        result = enter(dialogue, session, case.start, ctx)
    else:
        result = step(dialogue, session, Start(), ctx)
    seen.update(e[5:] for e in result.events if e.startswith("node:"))
    for number, st in enumerate(case.steps, start=1):
        if st.action == "press":
            labels = [b.label for b in result.buttons]
            match = [b for b in result.buttons if b.label.strip().lower() == st.value.lower()]
            if not match:
                offered = ", ".join(f"'{label}'" for label in labels) or "no buttons"
                return [
                    Failure(
                        case,
                        number,
                        st.line,
                        f"press '{st.value}': no such button. "
                        f"Offered: {offered}.{did_you_mean(st.value, labels)}",
                    )
                ]
            result = step(dialogue, result.session, Press(match[0].data), ctx)
        elif st.action == "type":
            result = step(dialogue, result.session, Say(st.value), ctx)
        elif st.action == "command":
            name, _, arg = st.value.partition(" ")
            result = step(dialogue, result.session, Command(name, arg), ctx)
        seen.update(e[5:] for e in result.events if e.startswith("node:"))
        problems = check_expectations(result, st.expect)
        if problems:
            action = f"{st.action} '{st.value}'" if st.action != "none" else "expect"
            return [Failure(case, number, st.line, f"after {action}: " + "; ".join(problems))]
    return []


def check_expectations(result: StepResult, expect: dict) -> list[str]:
    out = []
    texts = [visible_text(r.text) for r in result.replies]
    joined = "\n".join(texts)
    if "node" in expect and result.session.node != str(expect["node"]):
        out.append(
            f"expected to arrive at node '{expect['node']}', but arrived at '{result.session.node}'"
        )
    for phrase in _as_list(expect.get("says")):
        if phrase.lower() not in joined.lower():
            shown = " | ".join(t[:80] for t in texts) or "(nothing)"
            out.append(f"expected a reply containing '{phrase}', but the replies were: {shown}")
    for phrase in _as_list(expect.get("not_says")):
        if phrase.lower() in joined.lower():
            out.append(f"expected no reply containing '{phrase}', but one did")
    # The first message after any content note: what a parent sees before anything else.
    first = next((visible_text(r.text) for r in result.replies if r.kind != "note"), "")
    for phrase in _as_list(expect.get("first_says")):
        if phrase.lower() not in first.lower():
            out.append(
                f"expected the first message to contain '{phrase}', but it was: {first[:160]}"
            )
    if "messages_at_most" in expect:
        count = sum(r.kind != "note" for r in result.replies)
        if count > int(expect["messages_at_most"]):
            out.append(f"expected at most {expect['messages_at_most']} messages, but got {count}")
    labels = [b.label for b in result.buttons]
    if "buttons" in expect and labels != _as_list(expect["buttons"]):
        out.append(f"expected buttons {_as_list(expect['buttons'])}, but got {labels}")
    for label in _as_list(expect.get("buttons_include")):
        if label not in labels:
            out.append(f"expected a button '{label}', but got {labels}")
    for name, value in dict(expect.get("variables") or {}).items():
        actual = result.session.variables.get(name)
        if actual != _word(value):
            out.append(
                f"expected variable '{name}' to be '{_word(value)}', but it is "
                f"{repr(actual) if actual is not None else 'not set'}"
            )
    if "crisis" in expect:
        got = "crisis" in result.events
        if got != bool(expect["crisis"]):
            out.append(
                "expected the crisis reply"
                if not got
                else "expected no crisis reply, but the safety net fired"
            )
    return out


def find_test_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    folder = path / "tests" if (path / "tests").is_dir() else path
    return sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def run_files(dialogue: Dialogue, files: list[Path]) -> tuple[int, list[Failure], list[Problem]]:
    """Run every case in ``files``. Returns (passed, failures, file problems)."""
    passed, failures, problems = 0, [], []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(Problem("BL080", f"could not read: {exc.strerror}", str(path)))
            continue
        cases, file_problems = parse_tests(data, str(path))
        problems.extend(file_problems)
        for case in cases:
            if case.start and case.start not in dialogue.nodes:
                problems.append(
                    Problem(
                        "BL081",
                        f"test '{case.name}' starts at '{case.start}', which is not a "
                        f"node.{did_you_mean(case.start, dialogue.nodes)}",
                        case.file,
                        case.line,
                        1,
                    )
                )
                continue
            case_failures = run_case(dialogue, case)
            failures.extend(case_failures)
            passed += not case_failures
    return passed, failures, problems


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _opt_str(value) -> str | None:
    return None if value is None else str(value)


def _word(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
