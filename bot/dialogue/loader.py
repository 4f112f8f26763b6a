"""Turn the bytes of dialogue files into a :class:`~bot.dialogue.model.Dialogue`, or into problems.

:func:`load_dialogue` is pure (bytes in, dialogue and problems out), so a running bot can
load a new version and keep serving the old one if the new one has errors.
:func:`read_dialogue_files` is the only function here that touches the disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from bot.dialogue import checks
from bot.dialogue.fingerprint import FROM_SUFFIX, SOURCE_LANGUAGE, fuzzy_languages
from bot.dialogue.model import (
    ANY,
    CAPTURE_KINDS,
    DEFAULT_SYSTEM_MESSAGES,
    ENTRY_POINTS,
    OPTIONAL_ENTRY_POINTS,
    REMINDER_KINDS,
    ROUTE_GRIEF,
    Capture,
    Condition,
    Dialogue,
    FreeText,
    Grief,
    Message,
    Node,
    Option,
    Route,
    Settings,
    Signpost,
    Text,
    freeze,
)
from bot.dialogue.problems import Problem, did_you_mean, has_errors
from bot.dialogue.review import read_reviews
from bot.dialogue.yaml_reader import YList, YMap, read_yaml
from bot.safety import PHRASES_FILE, load_risk_phrases
from bot.safety.languages import load_language_phrases

FILE_KEYS = ("nodes", "signposts", "entry_points", "settings", "system_messages", "reminders")
NODE_KEYS = ("note", "messages", "options", "free_text", "set", "milestone")
MESSAGE_KEYS = ("text", "signposts", "if", "unless")
OPTION_KEYS = ("label", "to", "set", "if", "unless")
FREE_TEXT_KEYS = ("routes", "grief", "capture", "fallback")
CAPTURE_KEYS = ("variable", "kind", "then", "lead_ins")
CAPTURE_REQUIRED = ("variable", "kind", "then")
GRIEF_KEYS = ("match", "to")
ROUTE_KEYS = ("match", "not_with", "grief", "to", "set")
SIGNPOST_KEYS = ("text", "region", "needs", "source", "checked")
SETTINGS_KEYS = (
    "default_language",
    "languages",
    "default_region",
    "variables",
    "readability_limit",
    "label_limit",
    "privacy_version",
    "translations",
    "kept_on_restart",
)

NODE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
LANG_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
VAR_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# Folders inside a dialogue folder that hold other kinds of YAML.
SKIP_DIRS = ("tests", "safety", "translations")


@dataclass
class LoadResult:
    dialogue: Dialogue | None  # None when there are errors: never serve a broken dialogue
    problems: list[Problem] = field(default_factory=list)
    draft: Dialogue | None = None  # whatever could be read, errors or not (for diagrams)
    language_notes: list[str] = field(default_factory=list)  # languages run refuses, and why

    @property
    def ok(self) -> bool:
        return self.dialogue is not None


def read_dialogue_files(path: str | Path) -> tuple[dict[str, bytes], list[Problem]]:
    """Read the .yaml/.yml files of a dialogue folder (or one file). Never raises."""
    root = Path(path)
    try:
        if root.is_file():
            return {str(root): root.read_bytes()}, []
        if not root.is_dir():
            return {}, [Problem("BL009", f"'{root}' does not exist", str(root))]
        files = sorted(
            p
            for p in root.rglob("*")
            if p.suffix in (".yaml", ".yml")
            and p.is_file()
            and not any(part in SKIP_DIRS for part in p.relative_to(root).parts[:-1])
        )
        out = {str(p): p.read_bytes() for p in files}
    except OSError as exc:
        return {}, [Problem("BL009", f"could not read '{root}': {exc.strerror}", str(root))]
    if not out:
        return {}, [Problem("BL009", f"no .yaml files in '{root}'", str(root))]
    return out, []


class _FileParser:
    """Parses one file's top-level value into model objects, collecting problems."""

    def __init__(self, filename: str, problems: list[Problem]) -> None:
        self.file = filename
        self.problems = problems

    # -- reporting ---------------------------------------------------------------
    def report(self, code: str, message: str, pos: tuple[int, int], hint: str | None = None):
        self.problems.append(Problem(code, message, self.file, pos[0], pos[1], hint))

    def expect_map(self, value: object, what: str, pos) -> YMap | None:
        if isinstance(value, YMap):
            return value
        self.report(
            "BL006", f"{what} should be a mapping (key: value lines), not {_kind(value)}", pos
        )
        return None

    def expect_list(self, value: object, what: str, pos) -> YList | None:
        if isinstance(value, YList):
            return value
        self.report(
            "BL006", f"{what} should be a list (lines starting with '- '), not {_kind(value)}", pos
        )
        return None

    def known_keys(self, mapping: YMap, allowed: tuple[str, ...], what: str) -> None:
        for key in mapping:
            if key not in allowed:
                self.report(
                    "BL007",
                    f"unknown key '{key}' in {what}.{did_you_mean(key, allowed)}",
                    mapping.where(key),
                    hint=f"{what.capitalize()} accepts: {', '.join(allowed)}.",
                )

    def require(self, mapping: YMap, key: str, what: str) -> bool:
        if key in mapping and mapping[key] is not None:
            return True
        self.report("BL008", f"{what} has no '{key}'", mapping.pos)
        return False

    # -- values ------------------------------------------------------------------
    def text(self, value: object, what: str, pos) -> Text | None:
        if isinstance(value, str):
            if not value.strip():
                self.report("BL024", f"{what} is empty", pos)
                return None
            return Text(freeze({ANY: value}), pos)
        if isinstance(value, YMap):
            variants = {}
            origins = {}  # cy_from: the English a translation was made from
            for lang, item in value.items():
                if lang.endswith(FROM_SUFFIX) and LANG_CODE.match(lang[: -len(FROM_SUFFIX)]):
                    origins[lang[: -len(FROM_SUFFIX)]] = _scalar_str(item)
                    continue
                if not LANG_CODE.match(lang) and len(value) == 1 and isinstance(item, str):
                    # "- Remember: there is help" is YAML for {Remember: "there is help"}
                    words = f"{lang}: {item}"
                    self.report(
                        "BL007",
                        f"'{words}' was read as '{lang}' followed by a value, because of the colon",
                        value.where(lang),
                        hint=f"Put the whole text in quotes: {_quoted(words)}",
                    )
                    continue
                if not LANG_CODE.match(lang):
                    self.report(
                        "BL007",
                        f"'{lang}' in {what} is not a language code",
                        value.where(lang),
                        hint="A text is either plain words or a mapping from language "
                        "codes (en, cy, ...) to words.",
                    )
                    continue
                if not isinstance(item, str) or not item.strip():
                    self.report(
                        "BL024" if isinstance(item, str) or item is None else "BL006",
                        f"the '{lang}' text of {what} is empty or not text",
                        value.where_value(lang),
                    )
                    continue
                variants[lang] = item
            if not variants:
                return None
            return Text(freeze(variants), pos, fuzzy_languages(variants, origins))
        if value is None:
            self.report("BL024", f"{what} is empty", pos)
        else:
            self.report("BL006", f"{what} should be text, not {_kind(value)}", pos)
        return None

    def id_list(self, value: object, what: str, pos) -> tuple[str, ...]:
        if isinstance(value, str):
            return (value,)
        items = self.expect_list(value, what, pos)
        if items is None:
            return ()
        out = []
        for i, item in enumerate(items):
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                out.append(str(item))
            else:
                self.report("BL006", f"each entry of {what} should be a word", items.where(i))
        return tuple(out)

    def variables(self, value: object, what: str, pos) -> dict[str, str]:
        mapping = self.expect_map(value, what, pos)
        if mapping is None:
            return {}
        out = {}
        for name, val in mapping.items():
            if not VAR_NAME.match(name):
                self.report(
                    "BL006",
                    f"'{name}' is not a valid variable name",
                    mapping.where(name),
                    hint="Variable names use lower-case letters, digits and underscores.",
                )
                continue
            if isinstance(val, YMap | YList) or val is None:
                self.report(
                    "BL006",
                    f"variable '{name}' should be set to a single word",
                    mapping.where_value(name),
                )
                continue
            out[name] = _scalar_str(val)
        return out

    def conditions(self, mapping: YMap, what: str) -> tuple[Condition, ...]:
        out = []
        for key, negate in (("if", False), ("unless", True)):
            if key not in mapping:
                continue
            cond = self.expect_map(mapping[key], f"'{key}' of {what}", mapping.where_value(key))
            if cond is None:
                continue
            required = {}
            for name, val in cond.items():
                if isinstance(val, YList):
                    required[name] = tuple(_scalar_str(v) for v in val)
                elif isinstance(val, YMap):
                    self.report(
                        "BL006",
                        f"condition on '{name}' should be a value or a list of values",
                        cond.where_value(name),
                    )
                else:
                    required[name] = (_scalar_str(val),)
            out.append(Condition(freeze(required), negate, mapping.where(key)))
        return tuple(out)

    def target(self, mapping: YMap, what: str) -> str | None:
        if not self.require(mapping, "to", what):
            return None
        value = mapping["to"]
        if not isinstance(value, str):
            self.report("BL006", f"'to' of {what} should be a node id", mapping.where_value("to"))
            return None
        return value

    # -- parts -------------------------------------------------------------------
    def node(self, node_id: str, value: object, pos) -> Node | None:
        what = f"node '{node_id}'"
        mapping = self.expect_map(value, what, pos)
        if mapping is None:
            return None
        self.known_keys(mapping, NODE_KEYS, "a node")
        note = None
        if "note" in mapping:
            note = self.text(mapping["note"], f"the note of {what}", mapping.where_value("note"))
        messages: list[Message] = []
        if self.require(mapping, "messages", what):
            raw = mapping["messages"]
            if isinstance(raw, str | YMap):  # a single message is fine too
                raw_items, positions = [raw], [mapping.where_value("messages")]
            else:
                items = self.expect_list(
                    raw, f"'messages' of {what}", mapping.where_value("messages")
                )
                raw_items = list(items) if items is not None else []
                positions = [items.where(i) for i in range(len(raw_items))] if items else []
            for i, (item, ipos) in enumerate(zip(raw_items, positions, strict=True)):
                msg = self.message(item, f"message {i + 1} of {what}", ipos)
                if msg:
                    messages.append(msg)
        options = []
        if "options" in mapping and mapping["options"] is not None:
            items = self.expect_list(
                mapping["options"], f"'options' of {what}", mapping.where_value("options")
            )
            for i, item in enumerate(items or []):
                opt = self.option(item, f"option {i + 1} of {what}", items.where(i))
                if opt:
                    options.append(opt)
        free_text = None
        if "free_text" in mapping:
            free_text = self.free_text(mapping["free_text"], what, mapping.where_value("free_text"))
        node_set = {}
        if "set" in mapping:
            node_set = self.variables(
                mapping["set"], f"'set' of {what}", mapping.where_value("set")
            )
        milestone = None
        if "milestone" in mapping:
            if isinstance(mapping["milestone"], str) and mapping["milestone"].strip():
                milestone = mapping["milestone"].strip()
            else:
                self.report(
                    "BL006",
                    f"'milestone' of {what} should be a short name",
                    mapping.where_value("milestone"),
                )
        return Node(
            node_id,
            self.file,
            pos,
            tuple(messages),
            note,
            tuple(options),
            free_text,
            freeze(node_set),
            milestone,
        )

    def message(self, value: object, what: str, pos) -> Message | None:
        if isinstance(value, YMap) and any(k in value for k in MESSAGE_KEYS):
            self.known_keys(value, MESSAGE_KEYS, "a message")
            conds = self.conditions(value, what)
            if "signposts" in value:
                # Words then signposts in one message: "You can talk to someone now:" and
                # the numbers arrive together, so the numbers are in the first message.
                text = None
                if "text" in value:
                    text = self.text(value["text"], what, value.where_value("text"))
                ids = self.id_list(
                    value["signposts"], f"'signposts' of {what}", value.where_value("signposts")
                )
                return Message(text, ids, conds, pos) if ids else None
            if not self.require(value, "text", what):
                return None
            text = self.text(value["text"], what, value.where_value("text"))
            return Message(text, (), conds, pos) if text else None
        text = self.text(value, what, pos)
        return Message(text, (), (), pos) if text else None

    def option(self, value: object, what: str, pos) -> Option | None:
        mapping = self.expect_map(value, what, pos)
        if mapping is None:
            return None
        self.known_keys(mapping, OPTION_KEYS, "an option")
        label = None
        if self.require(mapping, "label", what):
            label = self.text(
                mapping["label"], f"the label of {what}", mapping.where_value("label")
            )
        to = self.target(mapping, what)
        option_set = {}
        if "set" in mapping:
            option_set = self.variables(
                mapping["set"], f"'set' of {what}", mapping.where_value("set")
            )
        conds = self.conditions(mapping, what)
        if label is None or to is None:
            return None
        return Option(label, to, freeze(option_set), conds, pos, mapping.where_value("to"))

    def free_text(self, value: object, what: str, pos) -> FreeText | None:
        mapping = self.expect_map(value, f"'free_text' of {what}", pos)
        if mapping is None:
            return None
        self.known_keys(mapping, FREE_TEXT_KEYS, "free_text")
        routes = []
        if "routes" in mapping and mapping["routes"] is not None:
            items = self.expect_list(
                mapping["routes"], f"'routes' of {what}", mapping.where_value("routes")
            )
            for i, item in enumerate(items or []):
                rwhat = f"route {i + 1} of {what}"
                route = self.expect_map(item, rwhat, items.where(i))
                if route is None:
                    continue
                self.known_keys(route, ROUTE_KEYS, "a route")
                words = ()
                if self.require(route, "match", rwhat):
                    words = tuple(
                        w.lower().strip()
                        for w in self.id_list(
                            route["match"], f"'match' of {rwhat}", route.where_value("match")
                        )
                        if w.strip()
                    )
                to = self.target(route, rwhat)
                route_set = {}
                if "set" in route:
                    route_set = self.variables(
                        route["set"], f"'set' of {rwhat}", route.where_value("set")
                    )
                not_with = ()
                if "not_with" in route:
                    not_with = self.phrases(route, "not_with", rwhat)
                grief = "reflect"
                if "grief" in route:
                    grief = _scalar_str(route["grief"])
                    if grief not in ROUTE_GRIEF:
                        self.report(
                            "BL006",
                            f"'grief' of {rwhat} should be one of: {', '.join(ROUTE_GRIEF)}",
                            route.where_value("grief"),
                            hint="'follow' for a route that is itself about grief or urgent "
                            "help; 'reflect' (the default) sends grief to the grief reply.",
                        )
                        grief = "reflect"
                if words and to:
                    routes.append(
                        Route(
                            words,
                            to,
                            freeze(route_set),
                            items.where(i),
                            route.where_value("to"),
                            not_with,
                            grief,
                        )
                    )
        grief_reply = None
        if "grief" in mapping:
            gwhat = f"'grief' of {what}"
            gmap = self.expect_map(mapping["grief"], gwhat, mapping.where_value("grief"))
            if gmap is not None:
                self.known_keys(gmap, GRIEF_KEYS, "grief")
                ok = all([self.require(gmap, k, gwhat) for k in GRIEF_KEYS])
                words = self.phrases(gmap, "match", gwhat) if ok else ()
                to = self.target(gmap, gwhat) if ok else None
                if words and to:
                    grief_reply = Grief(words, to, gmap.where_value("to"))
        capture = None
        if "capture" in mapping:
            capture = self.capture(mapping["capture"], what, mapping.where_value("capture"))
        if not self.require(mapping, "fallback", f"'free_text' of {what}"):
            return None
        fallback = mapping["fallback"]
        if not isinstance(fallback, str):
            self.report("BL006", "'fallback' should be a node id", mapping.where_value("fallback"))
            return None
        return FreeText(
            tuple(routes), fallback, mapping.where_value("fallback"), capture, grief_reply
        )

    def phrases(self, parent: YMap, key: str, what: str) -> tuple[str, ...]:
        """A list of words or phrases under ``key``, lower-cased, for matching typed text."""
        return tuple(
            w.lower().strip()
            for w in self.id_list(parent[key], f"'{key}' of {what}", parent.where_value(key))
            if w.strip()
        )

    def capture(self, value: object, what: str, pos) -> Capture | None:
        cwhat = f"'capture' of {what}"
        mapping = self.expect_map(value, cwhat, pos)
        if mapping is None:
            return None
        self.known_keys(mapping, CAPTURE_KEYS, "capture")
        ok = all([self.require(mapping, k, cwhat) for k in CAPTURE_REQUIRED])
        if not ok:
            return None
        variable, kind, then = (str(mapping[k]) for k in CAPTURE_REQUIRED)
        lead_ins = ()
        if "lead_ins" in mapping:
            lead_ins = self.phrases(mapping, "lead_ins", cwhat)
        if not VAR_NAME.match(variable):
            self.report(
                "BL006",
                f"'{variable}' is not a valid variable name",
                mapping.where_value("variable"),
            )
            return None
        if kind not in CAPTURE_KINDS:
            self.report(
                "BL006",
                f"capture kind '{kind}' is not one of: "
                f"{', '.join(CAPTURE_KINDS)}.{did_you_mean(kind, CAPTURE_KINDS)}",
                mapping.where_value("kind"),
            )
            return None
        return Capture(variable, kind, then, mapping.where_value("then"), lead_ins)

    def signpost(self, sp_id: str, value: object, pos) -> Signpost | None:
        what = f"signpost '{sp_id}'"
        mapping = self.expect_map(value, what, pos)
        if mapping is None:
            return None
        self.known_keys(mapping, SIGNPOST_KEYS, "a signpost")
        ok = all([self.require(mapping, k, what) for k in ("text", "source", "checked")])
        if not ok:
            return None
        text = self.text(mapping["text"], f"the text of {what}", mapping.where_value("text"))
        checked = mapping["checked"]
        if isinstance(checked, dt.datetime):
            checked = checked.date()
        if not isinstance(checked, dt.date):
            self.report(
                "BL061",
                f"'checked' of {what} is not a date: '{checked}'",
                mapping.where_value("checked"),
            )
            checked = None
        region = _scalar_str(mapping.get("region", "any")).lower()
        needs = ()
        if "needs" in mapping:
            needs = self.id_list(
                mapping["needs"], f"'needs' of {what}", mapping.where_value("needs")
            )
        if text is None:
            return None
        return Signpost(
            sp_id, self.file, pos, text, region, _scalar_str(mapping["source"]), checked, needs
        )


@dataclass
class _Collected:
    nodes: dict = field(default_factory=dict)
    signposts: dict = field(default_factory=dict)
    entry: dict | None = None
    entry_where: tuple | None = None
    settings: Settings | None = None
    system: dict = field(default_factory=dict)
    reminders: dict = field(default_factory=dict)  # kind -> (node id, position, file)
    unreadable: bool = False  # a file could not be read as a mapping of sections


@dataclass(frozen=True)
class FileParts:
    """What one file says, read without looking at any other file.

    Each node, signpost and ``entry_points`` section keeps its own problems: when an earlier
    file already defines the same id (or has the entry points), :func:`_merge` reports the
    duplicate and drops the copy with its problems, as if it had never been read. So a
    file's parts depend only on its name and bytes, and a caller may keep them while those
    stay the same (see :mod:`bot.dialogue.incremental`).
    """

    file: str
    problems: tuple[Problem, ...] = ()  # reading the file, and its sections' own problems
    nodes: tuple = ()  # (node id, position, Node or None, its problems), in file order
    signposts: tuple = ()  # (signpost id, position, Signpost or None, its problems)
    entry: tuple | None = None  # (position, {name: (node id, position, file)} or None, problems)
    reminders: tuple = ()  # (kind, (node id, position, file))
    settings: Settings | None = None  # present when the file has a settings section
    system: tuple = ()  # (key, Text)
    unreadable: bool = False  # the file could not be read as a mapping of sections


class LoadMemo(Protocol):
    """What :func:`load_dialogue` may ask a memo (``memo=``) for."""

    def file_parts(self, filename: str, data: bytes, read: Callable) -> FileParts:
        """``read_file_parts(filename, data, read)``, or an earlier result for the same bytes."""

    def node_problems(
        self, context: checks.TextContext, parts: list[FileParts], nodes: Mapping[str, Node]
    ) -> list[Problem]:
        """``checks.check_node(context, node)`` for each node of ``nodes``, in order."""


def read_file_parts(
    filename: str, data: bytes, read: Callable[[bytes, str], tuple] = read_yaml
) -> FileParts:
    """Read one file's bytes into its :class:`FileParts`. Pure: same name and bytes, same parts."""
    root, read_problems = read(data, filename)
    problems = list(read_problems)
    if root is None:
        return FileParts(filename, tuple(problems))
    p = _FileParser(filename, problems)
    top = p.expect_map(root, "the file", (1, 1))
    if top is None:
        return FileParts(filename, tuple(problems), unreadable=True)
    p.known_keys(top, FILE_KEYS, "a dialogue file")
    nodes = top.get("nodes")
    if "nodes" in top:
        nodes = p.expect_map(nodes, "'nodes'", top.where_value("nodes"))
    node_parts = []
    for node_id, value in (nodes or {}).items():
        where = nodes.where(node_id)
        if not NODE_ID.match(node_id):
            p.report("BL015", f"'{node_id}' is not a valid node id", where)
            continue
        own: list[Problem] = []
        node = _FileParser(filename, own).node(node_id, value, where)
        node_parts.append((node_id, where, node, tuple(own)))
    signpost_parts = []
    if "signposts" in top:
        signposts = p.expect_map(top["signposts"], "'signposts'", top.where_value("signposts"))
        for sp_id, value in (signposts or {}).items():
            where = signposts.where(sp_id)
            own = []
            sp = _FileParser(filename, own).signpost(sp_id, value, where)
            signpost_parts.append((sp_id, where, sp, tuple(own)))
    entry_part = None
    if "entry_points" in top:
        where = top.where("entry_points")
        own = []
        q = _FileParser(filename, own)
        got_entry = None
        entry = q.expect_map(top["entry_points"], "'entry_points'", where)
        if entry is not None:
            q.known_keys(entry, ENTRY_POINTS + OPTIONAL_ENTRY_POINTS, "entry_points")
            got_entry = {}
            for name in ENTRY_POINTS + OPTIONAL_ENTRY_POINTS:
                if name not in entry:
                    if name in ENTRY_POINTS:
                        q.report("BL014", f"entry_points has no '{name}'", where)
                elif not isinstance(entry[name], str):
                    q.report(
                        "BL006",
                        f"entry point '{name}' should be a node id",
                        entry.where_value(name),
                    )
                else:
                    got_entry[name] = (entry[name], entry.where_value(name), filename)
        entry_part = (where, None if got_entry is None else freeze(got_entry), tuple(own))
    reminder_parts = []
    if "reminders" in top:
        reminders = p.expect_map(top["reminders"], "'reminders'", top.where_value("reminders"))
        for kind, node_id in (reminders or {}).items():
            if kind not in REMINDER_KINDS:
                p.report(
                    "BL007",
                    f"unknown reminder '{kind}'.{did_you_mean(kind, REMINDER_KINDS)}",
                    reminders.where(kind),
                    hint=f"Reminders are: {', '.join(REMINDER_KINDS)}.",
                )
            elif not isinstance(node_id, str):
                p.report(
                    "BL006", f"reminder '{kind}' should name a node", reminders.where_value(kind)
                )
            else:
                reminder_parts.append((kind, (node_id, reminders.where_value(kind), filename)))
    settings = None
    if "settings" in top:
        settings = _settings(p, top["settings"], top.where_value("settings"))
    system_parts = []
    if "system_messages" in top:
        sysm = p.expect_map(
            top["system_messages"], "'system_messages'", top.where_value("system_messages")
        )
        for key, value in (sysm or {}).items():
            if key not in DEFAULT_SYSTEM_MESSAGES:
                p.report(
                    "BL007",
                    f"unknown system message '{key}'.{did_you_mean(key, DEFAULT_SYSTEM_MESSAGES)}",
                    sysm.where(key),
                )
                continue
            text = p.text(value, f"system message '{key}'", sysm.where_value(key))
            if text:
                system_parts.append((key, text))
    return FileParts(
        filename,
        tuple(problems),
        tuple(node_parts),
        tuple(signpost_parts),
        entry_part,
        tuple(reminder_parts),
        settings,
        tuple(system_parts),
    )


def _merge(parts: list[FileParts]) -> tuple[_Collected, list[Problem]]:
    """The files' parts, in order, as one dialogue: the first definition of an id wins."""
    got = _Collected()
    problems: list[Problem] = []
    for part in parts:
        filename = part.file
        problems.extend(part.problems)
        got.unreadable = got.unreadable or part.unreadable
        for node_id, where, node, own in part.nodes:
            if node_id in got.nodes:
                first = got.nodes[node_id]
                problems.append(
                    Problem(
                        "BL010",
                        f"node '{node_id}' is also defined at {first.file}:{first.pos[0]}",
                        filename,
                        *where,
                    )
                )
                problems.append(
                    Problem(
                        "BL010",
                        f"node '{node_id}' is also defined at {filename}:{where[0]}",
                        first.file,
                        *first.pos,
                    )
                )
                continue
            problems.extend(own)
            if node:
                got.nodes[node_id] = node
        for sp_id, where, sp, own in part.signposts:
            if sp_id in got.signposts:
                first = got.signposts[sp_id]
                problems.append(
                    Problem(
                        "BL016",
                        f"signpost '{sp_id}' is also defined at {first.file}:{first.pos[0]}",
                        filename,
                        *where,
                    )
                )
                continue
            problems.extend(own)
            if sp:
                got.signposts[sp_id] = sp
        if part.entry is not None:
            where, entry, own = part.entry
            if got.entry is not None:
                problems.append(
                    Problem(
                        "BL014",
                        "a second 'entry_points' section (the first is at "
                        f"{got.entry_where[0]}:{got.entry_where[1][0]})",
                        filename,
                        *where,
                    )
                )
            else:
                problems.extend(own)
                if entry is not None:
                    got.entry, got.entry_where = dict(entry), (filename, where)
        got.reminders.update(part.reminders)
        if part.settings is not None:
            got.settings = part.settings
        got.system.update(part.system)
    return got, problems


def _settings(p: _FileParser, value: object, pos) -> Settings:
    mapping = p.expect_map(value, "'settings'", pos)
    if mapping is None:
        return Settings()
    p.known_keys(mapping, SETTINGS_KEYS, "settings")
    kwargs: dict = {}
    if "default_language" in mapping:
        kwargs["default_language"] = _scalar_str(mapping["default_language"])
    if "languages" in mapping:
        kwargs["languages"] = p.id_list(
            mapping["languages"], "'languages'", mapping.where_value("languages")
        )
    if "translations" in mapping:
        kwargs["translations"] = freeze(
            read_reviews(p, mapping["translations"], mapping.where_value("translations"))
        )
    if "kept_on_restart" in mapping:
        kwargs["kept_on_restart"] = p.id_list(
            mapping["kept_on_restart"], "'kept_on_restart'", mapping.where_value("kept_on_restart")
        )
    if "privacy_version" in mapping:
        kwargs["privacy_version"] = _scalar_str(mapping["privacy_version"])
    if "default_region" in mapping:
        kwargs["default_region"] = _scalar_str(mapping["default_region"]).lower()
    if "variables" in mapping:
        kwargs["variables"] = freeze(
            p.variables(mapping["variables"], "'variables'", mapping.where_value("variables"))
        )
    for key in ("readability_limit", "label_limit"):
        if key in mapping:
            val = mapping[key]
            if isinstance(val, int) and not isinstance(val, bool) and val > 0:
                kwargs[key] = val
            else:
                p.report(
                    "BL006", f"'{key}' should be a whole number above 0", mapping.where_value(key)
                )
    return Settings(**kwargs)


@contextlib.contextmanager
def _gc_paused():
    """Loading builds hundreds of thousands of small objects and no garbage cycles; the
    cyclic collector would walk them again and again (a third of the time on 2,000 nodes)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_dialogue(files: Mapping[str, bytes], **kwargs) -> LoadResult:
    """Parse and validate dialogue files. Pure: same bytes, same result. See _load_dialogue."""
    with _gc_paused():
        return _load_dialogue(files, **kwargs)


def _load_dialogue(
    files: Mapping[str, bytes],
    *,
    default_language: str | None = None,
    variables: Mapping[str, str] | None = None,
    risk_phrases: tuple = (),
    language_phrases: Mapping | None = None,
    today: dt.date | None = None,
    read: Callable[[bytes, str], tuple] = read_yaml,
    memo: LoadMemo | None = None,
) -> LoadResult:
    """Parse and validate dialogue files. Pure: same bytes, same result.

    ``read`` parses one file's bytes (``read_yaml``). ``memo`` (none by default) keeps
    each file's parts and its nodes' own checks from one load to the next, so that the
    studio redoes, for a keystroke, only the file that changed and the checks that look
    at the whole dialogue (:class:`bot.dialogue.incremental.DialogueMemo`); the result is
    the same as without it.

    ``default_language`` and ``variables`` let the deployer's config override the
    dialogue's own settings. ``today`` dates signpost checks (defaults to the real date).
    """
    parts_of = memo.file_parts if memo is not None else read_file_parts
    parts = [parts_of(filename, files[filename], read) for filename in sorted(files)]
    got, problems = _merge(parts)

    settings = got.settings or Settings()
    if default_language:
        settings = _replace(settings, default_language=default_language)
    if variables:
        settings = _replace(settings, variables=freeze({**settings.variables, **variables}))
    if settings.default_language not in settings.languages:
        settings = _replace(settings, languages=(settings.default_language, *settings.languages))

    entry: dict[str, str] = {}
    unreadable = got.unreadable or any(
        p.code in ("BL001", "BL002", "BL003", "BL004") for p in problems
    )
    if got.entry is None:
        # A file that could not be read may well be the one with the entry points.
        if files and not unreadable:
            problems.append(
                Problem("BL014", "no file has an 'entry_points' section", sorted(files)[0])
            )
    else:
        for name, (node_id, pos, filename) in got.entry.items():
            if node_id not in got.nodes:
                problems.append(
                    Problem(
                        "BL011",
                        f"entry point '{name}' goes to '{node_id}', "
                        f"which is not a node.{did_you_mean(node_id, got.nodes)}",
                        filename,
                        *pos,
                    )
                )
            entry[name] = node_id
    for kind, (node_id, pos, filename) in got.reminders.items():
        if node_id not in got.nodes:
            problems.append(
                Problem(
                    "BL011",
                    f"reminder '{kind}' goes to '{node_id}', which is "
                    f"not a node.{did_you_mean(node_id, got.nodes)}",
                    filename,
                    *pos,
                )
            )

    digest = hashlib.sha256()
    for name, filename in _names_in_folder(files):
        digest.update(name.encode() + b"\0" + files[filename] + b"\0")
    dialogue = Dialogue(
        nodes=freeze(got.nodes),
        signposts=freeze(got.signposts),
        entry=freeze(entry),
        settings=settings,
        system_messages=freeze(got.system),
        version=digest.hexdigest()[:12],
        risk_phrases=risk_phrases,
        language_phrases=freeze(language_phrases or {}),
        reminders=freeze({kind: node_id for kind, (node_id, _, _) in got.reminders.items()}),
    )
    if language_phrases is not None:  # None: not looked for (a single file, a test)
        for lang in settings.languages:
            if lang != SOURCE_LANGUAGE and lang not in language_phrases:
                problems.append(
                    Problem(
                        "BL055",
                        f"'{lang}' has no safety phrase list (safety/risk-phrases.{lang}.yaml): "
                        "the safety net would understand only English",
                        got.entry_where[0] if got.entry_where else sorted(files)[0],
                        *(got.entry_where[1] if got.entry_where else (0, 0)),
                    )
                )
    if not has_errors(problems):
        # Cross-file checks need a structurally sound dialogue to look at.
        local = None
        if memo is not None:

            def local(context: checks.TextContext) -> list[Problem]:
                return memo.node_problems(context, parts, dialogue.nodes)

        problems.extend(
            checks.check_dialogue(dialogue, today=today or dt.date.today(), local=local)
        )
    problems.sort(key=Problem.sort_key)
    ok = not has_errors(problems) and all(name in entry for name in ENTRY_POINTS)
    return LoadResult(dialogue if ok else None, problems, dialogue)


def load_dialogue_dir(path: str | Path, **kwargs) -> LoadResult:
    """Read a dialogue folder and load it, with the safety phrases beside it.

    A dialogue without a working safety net is never served: problems in the phrase list
    are reported alongside the dialogue's own, and there is then no dialogue to serve.
    """
    files, problems = read_dialogue_files(path)
    if problems:
        return LoadResult(None, problems)
    safety_problems: list[Problem] = []
    if "risk_phrases" not in kwargs:
        kwargs["risk_phrases"], safety_problems = load_risk_phrases(Path(path))
        safety_problems = [_how_to_start_a_safety_net(p, Path(path)) for p in safety_problems]
    if "language_phrases" not in kwargs:
        kwargs["language_phrases"], more = load_language_phrases(Path(path))
        safety_problems += more
    result = load_dialogue(files, **kwargs)
    if has_errors(safety_problems):
        return LoadResult(
            None, sorted(safety_problems + result.problems, key=Problem.sort_key), result.draft
        )
    if safety_problems:  # warnings, such as a model older than its examples
        return LoadResult(
            result.dialogue,
            sorted(safety_problems + result.problems, key=Problem.sort_key),
            result.draft,
        )
    return result


def _names_in_folder(files: Mapping[str, bytes]) -> list[tuple[str, str]]:
    """(name relative to the files' common folder, key), sorted: the version then depends
    on the files alone, not on how the folder's path was written (relative or absolute)."""
    folders = [os.path.dirname(os.path.normpath(f)) for f in files]
    try:
        common = os.path.commonpath(folders) if folders and all(folders) else ""
    except ValueError:  # absolute and relative names mixed: keep them as given
        common = ""
    return sorted((os.path.relpath(f, common) if common else f, f) for f in files)


def _replace(settings: Settings, **changes) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)


def _scalar_str(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _kind(value: object) -> str:
    if isinstance(value, YMap):
        return "a mapping"
    if isinstance(value, YList):
        return "a list"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"


def _how_to_start_a_safety_net(problem: Problem, folder: Path) -> Problem:
    """A new dialogue folder has no safety/ yet: say how to start one, not how to fix one."""
    base = folder if folder.is_dir() else folder.parent
    if problem.code != "BL070" or (base / PHRASES_FILE).exists():
        return problem
    return replace(
        problem,
        hint=f"Every dialogue folder needs a safety net. Start from the shipped one: "
        f"cp -r dialogues/safety {base}/ (then see 'The safety net' in docs/dialogue-format.md)",
    )


def _quoted(words: str) -> str:
    return f'"{words}"' if '"' not in words else "'" + words.replace("'", "''") + "'"
