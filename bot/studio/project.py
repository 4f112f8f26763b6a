"""A dialogue folder as the studio sees it: validate, play, graph, test and list signposts.

This is the only studio module that imports the project's dialogue code (loader, engine,
graph, conversation tests, safety net), so that moving those modules touches one file.
Everything here is the same code the terminal commands and the Telegram service run:
``validate`` problems are the loader's own, formatted as ``babyloss-bot validate`` prints
them; the player steps the pure engine; the graph is ``babyloss-bot graph``'s Mermaid text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.authoring.convtests import find_test_files, parse_tests, run_case
from bot.authoring.graph import _marks, to_mermaid
from bot.authoring.terminal_text import to_terminal
from bot.dialogue.checks import STALE_AFTER_DAYS
from bot.dialogue.engine import (
    Command,
    Context,
    Pause,
    Press,
    Reply,
    Say,
    Session,
    Start,
    StepResult,
    enter,
    new_session,
    step,
)
from bot.dialogue.incremental import DialogueMemo
from bot.dialogue.loader import LoadResult, load_dialogue, load_dialogue_dir, read_dialogue_files
from bot.dialogue.model import freeze
from bot.dialogue.problems import CODES, Problem, did_you_mean
from bot.dialogue.yaml_reader import read_yaml
from bot.safety import PHRASES_FILE, load_risk_phrases, parse_risk_phrases
from bot.safety.languages import load_language_phrases

EDITABLE_SUFFIXES = (".yaml", ".yml")


def problem_json(problem: Problem, root: Path) -> dict:
    """A problem for the page: where it is (relative to the folder) and validate's text."""
    return {
        "file": relative_name(problem.file, root),
        "line": problem.line,
        "col": problem.col,
        "code": problem.code,
        "severity": problem.severity,
        "message": problem.message,
        "hint": problem.hint or CODES[problem.code].hint,
        "text": problem.format(),
    }


def relative_name(filename: str, root: Path) -> str:
    try:
        return Path(filename).relative_to(root).as_posix()
    except ValueError:
        return filename


@dataclass
class _Cached:
    key: tuple
    value: object


@dataclass
class Project:
    """One dialogue folder (a volunteer's checkout, or the live bot's draft copy)."""

    root: Path
    _phrases: _Cached | None = field(default=None, repr=False)
    _loaded: _Cached | None = field(default=None, repr=False)
    # A keystroke changes one file: keep the other files' parts and checks (the result is
    # the loader's own; tests/test_incremental_validation.py compares the two).
    _memo: DialogueMemo = field(default_factory=DialogueMemo, repr=False)

    # -- Files ---------------------------------------------------------------------
    def editable_files(self) -> list[str]:
        """Every dialogue, test and safety YAML file, relative to the folder."""
        out = []
        for p in sorted(self.root.rglob("*")):
            rel = p.relative_to(self.root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            if p.suffix in EDITABLE_SUFFIXES and p.is_file() and not p.is_symlink():
                out.append(rel.as_posix())
        return out

    def kind_of(self, rel: str) -> str:
        parts = Path(rel).parts
        if parts and parts[0] == "tests":
            return "test"
        if parts and parts[0] == "safety":
            return "phrases" if Path(rel) == PHRASES_FILE else "safety"
        return "dialogue"

    def _signature(self, sub: str | None = None) -> tuple:
        """What the files on disk look like now (names, sizes, modification times)."""
        base = self.root / sub if sub else self.root
        if not base.is_dir():
            return ()
        return tuple(
            (str(p), st.st_mtime_ns, st.st_size)
            for p in sorted(base.rglob("*"))
            if p.is_file() and (st := p.stat())
        )

    def _risk_phrases(self):
        key = self._signature("safety")
        if self._phrases is None or self._phrases.key != key:
            self._phrases = _Cached(key, load_risk_phrases(self.root))
        return self._phrases.value

    # -- Validating ----------------------------------------------------------------
    def load(self, overlay: dict[str, str] | None = None) -> LoadResult:
        """Load the folder as ``load_dialogue_dir`` does, with unsaved editor text on top.

        ``overlay`` maps relative file names to the text in the editor. The last result is
        kept while neither the disk nor the overlay changes (the player steps often).
        """
        overlay = overlay or {}
        digest = hashlib.sha256(repr(sorted(overlay.items())).encode()).hexdigest()
        key = (self._signature(), digest)
        if self._loaded is not None and self._loaded.key == key:
            return self._loaded.value  # type: ignore[return-value]
        result = self._load(overlay)
        self._loaded = _Cached(key, result)
        return result

    def _load(self, overlay: dict[str, str]) -> LoadResult:
        phrases_text = overlay.get(PHRASES_FILE.as_posix())
        if phrases_text is not None:
            name = str(self.root / PHRASES_FILE)
            matcher, safety_problems = parse_risk_phrases(phrases_text.encode("utf-8"), name)
        else:
            matcher, safety_problems = self._risk_phrases()
        dialogue_overlay = {
            rel: text for rel, text in overlay.items() if self.kind_of(rel) == "dialogue"
        }
        if not dialogue_overlay and phrases_text is None:
            return (
                load_dialogue_dir(self.root, risk_phrases=matcher, memo=self._memo)
                if matcher
                else (load_dialogue_dir(self.root, memo=self._memo))
            )
        files, problems = read_dialogue_files(self.root)
        if problems:
            return LoadResult(None, problems)
        for rel, text in dialogue_overlay.items():
            files[str(self.root / rel)] = text.encode("utf-8")
        languages, language_problems = load_language_phrases(self.root)  # risk-phrases.cy.yaml
        safety_problems = safety_problems + language_problems
        result = load_dialogue(
            files, risk_phrases=matcher or (), language_phrases=languages, memo=self._memo
        )
        all_problems = sorted(safety_problems + result.problems, key=Problem.sort_key)
        ok = result.ok and matcher is not None and not any(p.is_error for p in safety_problems)
        return LoadResult(result.dialogue if ok else None, all_problems, result.draft)

    def validate(self, rel: str | None = None, text: str | None = None) -> dict:
        """Problems of the whole folder with ``text`` in place of file ``rel``.

        A test file is checked as ``babyloss-bot test`` reads it; every other file as
        ``babyloss-bot validate`` does (the safety phrase list with the dialogue it guards).
        """
        extra: list[Problem] = []
        overlay: dict[str, str] = {}
        if rel is not None and text is not None:
            kind = self.kind_of(rel)
            name = str(self.root / rel)
            if kind == "test":
                extra = self._test_file_problems(text, name)
            elif kind == "safety":
                extra = read_yaml(text.encode("utf-8"), name)[1]
            else:
                overlay[rel] = text
        result = self.load(overlay)
        problems = sorted(result.problems + extra, key=Problem.sort_key)
        errors = sum(p.is_error for p in problems)
        return {
            "problems": [problem_json(p, self.root) for p in problems],
            "errors": errors,
            "warnings": len(problems) - errors,
            "nodes": len(result.draft.nodes) if result.draft else 0,
        }

    def _test_file_problems(self, text: str, name: str) -> list[Problem]:
        cases, problems = parse_tests(text.encode("utf-8"), name)
        draft = self.load().draft
        if draft is not None:
            for case in cases:
                if case.start and case.start not in draft.nodes:
                    problems.append(
                        Problem(
                            "BL081",
                            f"test '{case.name}' starts at '{case.start}', which is not a "
                            f"node.{did_you_mean(case.start, draft.nodes)}",
                            name,
                            case.line,
                            1,
                        )
                    )
        return problems

    # -- Graph ---------------------------------------------------------------------
    def graph(self) -> dict:
        """``babyloss-bot graph``'s Mermaid text, and where each node is written."""
        result = self.load()
        draft = result.draft
        if draft is None or not draft.nodes:
            return {"mermaid": "", "nodes": {}, "unreachable": [], "dead_ends": []}
        unreachable, dead, _missing = _marks(draft)
        return {
            "mermaid": to_mermaid(draft),
            "nodes": {
                n.id: {"file": relative_name(n.file, self.root), "line": n.pos[0]}
                for n in draft.nodes.values()
            },
            "unreachable": sorted(unreachable),
            "dead_ends": sorted(dead),
        }

    # -- Conversation tests ----------------------------------------------------------
    def run_tests(self) -> dict:
        """Run every conversation test against the saved folder."""
        result = self.load()
        if not result.ok:
            errors = [problem_json(p, self.root) for p in result.problems if p.is_error]
            return {"ran": False, "passed": 0, "failures": [], "problems": errors}
        dialogue = result.dialogue
        passed, failures, problems = 0, [], []
        for path in find_test_files(self.root):
            cases, file_problems = parse_tests(path.read_bytes(), str(path))
            problems += [problem_json(p, self.root) for p in file_problems]
            for case in cases:
                if case.start and case.start not in dialogue.nodes:
                    problems.append(
                        problem_json(
                            Problem(
                                "BL081",
                                f"test '{case.name}' starts at '{case.start}', which is not "
                                "a node.",
                                case.file,
                                case.line,
                                1,
                            ),
                            self.root,
                        )
                    )
                    continue
                case_failures = run_case(dialogue, case)
                passed += not case_failures
                for f in case_failures:
                    failures.append(self._failure_json(f, dialogue))
        return {"ran": True, "passed": passed, "failures": failures, "problems": problems}

    def _failure_json(self, failure, dialogue) -> dict:
        case = failure.case
        node = None
        if 0 < failure.step_number <= len(case.steps):
            node = case.steps[failure.step_number - 1].expect.get("node")
        if node is None:
            arrived = re.search(r"arrived at '([a-z0-9_]+)'", failure.what)
            node = arrived.group(1) if arrived else case.start
        where = None
        if node in dialogue.nodes:
            n = dialogue.nodes[node]
            where = {"id": node, "file": relative_name(n.file, self.root), "line": n.pos[0]}
        return {
            "name": case.name,
            "file": relative_name(case.file, self.root),
            "line": failure.line,
            "what": failure.what,
            "text": failure.format(),
            "node": where,
        }

    # -- Signposts -------------------------------------------------------------------
    def signposts(self, today: dt.date | None = None) -> list[dict]:
        today = today or dt.date.today()
        draft = self.load().draft
        if draft is None:
            return []
        lang = draft.settings.default_language
        rows = []
        for sp in draft.signposts.values():
            age = (today - sp.checked).days if sp.checked else None
            rows.append(
                {
                    "id": sp.id,
                    "region": sp.region,
                    "text": to_terminal(sp.text.pick(lang, lang), colour=False),
                    "source": sp.source,
                    "checked": sp.checked.isoformat() if sp.checked else "",
                    "stale": age is None or age > STALE_AFTER_DAYS,
                    "file": relative_name(sp.file, self.root),
                    "line": sp.pos[0],
                }
            )
        rows.sort(key=lambda r: (r["region"], r["id"]))
        return rows

    # -- Playing ---------------------------------------------------------------------
    def choices(self) -> dict:
        """Languages, regions and node ids the player offers."""
        draft = self.load().draft
        if draft is None:
            return {"languages": [], "regions": [], "nodes": [], "default_region": ""}
        regions = sorted({sp.region for sp in draft.signposts.values()} - {"any"})
        return {
            "languages": list(draft.settings.languages),
            "default_language": draft.settings.default_language,
            "regions": regions,
            "default_region": draft.settings.default_region,
            "nodes": sorted(draft.nodes),
        }

    def play(self, state: dict | None, action: dict, overlay: dict[str, str] | None = None):
        """One step of the player. ``state`` is what the last step returned (or None).

        Returns (new state, reply for the page). The dialogue is the folder with the
        editor's unsaved text on top, loaded exactly as the bot loads it; if it has errors
        the player says so instead of playing a broken version.
        """
        result = self.load(overlay)
        if not result.ok:
            errors = [p for p in result.problems if p.is_error]
            return state, {
                "error": f"The dialogue has {len(errors)} error(s); fix them to play it.",
                "problems": [problem_json(p, self.root) for p in errors[:5]],
            }
        d = result.dialogue
        kind = action.get("kind")
        lang = action.get("language") or None
        if lang is not None and lang not in d.settings.languages:
            lang = None
        region = action.get("region") or d.settings.default_region
        session = Session.from_dict(state["session"]) if state else new_session(d, lang)
        session = replace(
            session,
            language=lang,
            variables=freeze({**session.variables, "region": region}),
        )
        ctx = Context(first_name=str(action.get("first_name") or "")[:64])
        value = str(action.get("value") or "")
        if kind == "start":
            session = replace(new_session(d, lang), variables=session.variables)
            res = step(d, session, Start(), ctx)
        elif kind == "enter":
            if value not in d.nodes:
                return state, {
                    "error": f"There is no node '{value}'.{did_you_mean(value, d.nodes)}"
                }
            res = enter(d, session, value, ctx)
        elif kind == "press":
            res = step(d, session, Press(value), ctx)
        elif kind == "say":
            if not value.strip():
                return state, {"error": "Type something first."}
            res = step(d, session, Say(value), ctx)
        elif kind == "command":
            name, _, arg = value.lstrip("/").partition(" ")
            res = step(d, session, Command(name, arg), ctx)
        else:
            return state, {"error": "Unknown player action."}
        return {"session": res.session.to_dict()}, self._outputs(res)

    @staticmethod
    def _outputs(res: StepResult) -> dict:
        items = []
        for out in res.outputs:
            if isinstance(out, Pause):
                items.append({"pause": True})
            elif isinstance(out, Reply):
                items.append(
                    {
                        "kind": out.kind,
                        "text": to_terminal(out.text, colour=False),
                        "buttons": [{"label": b.label, "data": b.data} for b in out.buttons],
                    }
                )
        return {
            "outputs": items,
            "node": res.session.node,
            "crisis": "crisis" in res.events,
        }

    # -- Publishing --------------------------------------------------------------------
    def strict_check(self) -> tuple[bool, list[dict], dict]:
        """validate --strict and the conversation tests, on the files as saved."""
        result = load_dialogue_dir(self.root)
        problems = [problem_json(p, self.root) for p in result.problems]
        tests = self.run_tests() if result.ok else {"ran": False, "passed": 0, "failures": []}
        clean = (
            result.ok
            and not result.problems
            and tests["ran"]
            and not tests["failures"]
            and not tests.get("problems")
        )
        return clean, problems, tests

    def version(self) -> str | None:
        result = load_dialogue_dir(self.root)
        return result.dialogue.version if result.ok else None
