"""Checks that need the whole dialogue: targets, reachability, dead ends, Telegram limits,
formatting, variables, languages and signpost dates.

Called by :func:`bot.dialogue.loader.load_dialogue` once every file has been parsed.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.dialogue.fingerprint import SOURCE_LANGUAGE
from bot.dialogue.model import ANY, BUILTIN_VARIABLES, DEFAULT_SYSTEM_MESSAGES, Dialogue, Node, Text
from bot.dialogue.names import MAX_LENGTH as MAX_NAME_LENGTH
from bot.dialogue.problems import Problem, did_you_mean
from bot.dialogue.telegram_html import html_problems, offset_to_pos, telegram_length, visible_text
from bot.dialogue.templating import placeholders, render

TELEGRAM_MAX_MESSAGE = 4096
TELEGRAM_MAX_CALLBACK_DATA = 64
STALE_AFTER_DAYS = 365
# Telegram profile names are at most 64 characters; assume the longest when measuring.
LONGEST_BUILTIN_VALUE = {"first_name": "W" * 64, "region": "uk", "language": "en"}


def callback_data(node_id: str, index: int, option_key: str) -> str:
    """The hidden data behind a button: where it was shown, which one, and a short
    fingerprint of the option so a button from an older version is recognised."""
    return f"{node_id}|{index}|{option_key}"


@dataclass(frozen=True)
class TextContext:
    """Everything the checks of a node's own texts and conditions see, besides the node.

    :func:`check_node` is given this and the node, never the dialogue, so its problems can
    be kept while neither changes (:mod:`bot.dialogue.incremental`). A new field here must
    be added to :meth:`key_for` too (tests/test_incremental_validation.py lists them).
    """

    languages: frozenset[str]
    default_language: str
    label_limit: int
    readability_limit: int
    settable: frozenset[str]  # variables something sets (or built in)
    longest: Mapping[str, str]  # the longest value each can hold, to measure texts
    typed_names: frozenset[str]  # words parents typed: not everyone will have told them

    def key_for(self, names: frozenset[str]) -> tuple:
        """What checks of texts and conditions that use only the variables ``names`` see."""
        per_name = tuple(
            (n, n in self.settable, n in self.typed_names, self.longest.get(n))
            for n in sorted(names)
        )
        # Only a variable that nothing sets has its spelling compared with the others.
        unknown = any(n not in self.settable for n in names)
        return (
            self.languages,
            self.default_language,
            self.label_limit,
            self.readability_limit,
            per_name,
            self.settable if unknown else None,
        )


def text_context(d: Dialogue) -> TextContext:
    settable = _settable_values(d)
    return TextContext(
        languages=frozenset(d.settings.languages),
        default_language=d.settings.default_language,
        label_limit=d.settings.label_limit,
        readability_limit=d.settings.readability_limit,
        settable=frozenset(settable),
        longest=_longest_values(settable),
        typed_names=d.name_variables(),
    )


def names_used(node: Node) -> frozenset[str]:
    """The variables :func:`check_node` looks up for ``node``: its texts' and conditions'."""
    texts = [node.note, *(m.text for m in node.messages), *(o.label for o in node.options)]
    names = {
        name
        for text in texts
        if text is not None
        for raw in text.variants.values()
        for name, _, _ in placeholders(raw)
    }
    for conds in [*(m.conditions for m in node.messages), *(o.conditions for o in node.options)]:
        for cond in conds:
            names.update(cond.required)
    return frozenset(names)


def _text_checks(context: TextContext):
    """check_text and check_conditions for one context; they report into ``problems``."""
    problems: list[Problem] = []
    settable = context.settable
    longest = context.longest
    languages = context.languages
    typed_names = context.typed_names

    def report(code: str, message: str, file: str, pos, hint: str | None = None) -> None:
        problems.append(Problem(code, message, file, pos[0], pos[1], hint))

    def check_text(
        text: Text, what: str, file: str, *, is_label: bool = False, filled: frozenset = frozenset()
    ) -> None:
        translated = [lang for lang in text.variants if lang != ANY]
        for lang in translated:
            if lang not in languages:
                report(
                    "BL051",
                    f"{what} has a '{lang}' text but '{lang}' is not in "
                    f"settings.languages ({', '.join(sorted(languages))})",
                    file,
                    text.pos,
                )
        if len(languages) > 1:
            missing = sorted(languages - set(text.variants)) if translated else []
            if not translated:
                missing = sorted(languages - {context.default_language})
            if missing:
                report("BL050", f"{what} has no {', '.join(missing)} text", file, text.pos)
        for lang in sorted(text.fuzzy):
            report(
                "BL052",
                f"{what}: the {lang} translation was made from older English, so parents "
                "see the English",
                file,
                text.pos,
            )
        source = text.variants.get(SOURCE_LANGUAGE, text.variants.get(ANY))
        if source is not None and translated:
            wanted = _variable_names(source)
            for lang in translated:
                if lang == SOURCE_LANGUAGE or lang in text.fuzzy:
                    continue
                got = _variable_names(text.variants[lang])
                if got != wanted:
                    differ = ", ".join(f"{{{n}}}" for n in sorted(got ^ wanted))
                    report(
                        "BL053",
                        f"{what} ({lang}) does not use the same variables as the English "
                        f"({differ})",
                        file,
                        text.pos,
                    )
        for lang, raw in text.variants.items():
            label = "" if lang == ANY else f" ({lang})"
            for name, default, offset in placeholders(raw):
                if default is None and name in typed_names:
                    report(
                        "BL042",
                        f"{what}{label} uses {{{name}}}, a name parents type, with no "
                        "default, so a parent who hasn't told it would see a gap",
                        file,
                        offset_to_pos(raw, offset, text.pos),
                    )
                if default is None and name not in settable and name not in filled:
                    report(
                        "BL040",
                        f"{what}{label} uses {{{name}}}, which nothing sets."
                        f"{did_you_mean(name, settable)}",
                        file,
                        offset_to_pos(raw, offset, text.pos),
                    )
            if is_label:
                if (
                    "<" in raw
                    and any(c == "BL030" or c == "BL031" for c, _, _ in html_problems(raw))
                    or "<" in raw
                    and ">" in raw
                ):
                    report(
                        "BL030",
                        f"{what}{label} has formatting; button labels are plain text",
                        file,
                        text.pos,
                    )
                rendered = render(raw, longest)
                if telegram_length(rendered) > context.label_limit:
                    report(
                        "BL022",
                        f"{what}{label} is {telegram_length(rendered)} characters "
                        f"(limit {context.label_limit}): '{visible_text(raw)[:30]}...'",
                        file,
                        text.pos,
                    )
                continue
            for code, message, offset in html_problems(raw):
                report(
                    code, f"{what}{label}: {message}", file, offset_to_pos(raw, offset, text.pos)
                )
            rendered = render(raw, longest)
            length = telegram_length(rendered)
            if length > TELEGRAM_MAX_MESSAGE:
                report(
                    "BL020",
                    f"{what}{label} is {length} characters after filling in "
                    f"variables; Telegram's limit is {TELEGRAM_MAX_MESSAGE}",
                    file,
                    text.pos,
                )
            elif length > context.readability_limit:
                report(
                    "BL021",
                    f"{what}{label} is {length} characters (readability limit "
                    f"{context.readability_limit})",
                    file,
                    text.pos,
                )

    def check_conditions(conds, what: str, file: str) -> None:
        for cond in conds:
            for name in cond.required:
                if name not in settable:
                    report(
                        "BL041",
                        f"{what} checks '{name}', which nothing sets."
                        f"{did_you_mean(name, settable)}",
                        file,
                        cond.pos,
                    )

    return problems, report, check_text, check_conditions


def check_node(context: TextContext, node: Node) -> list[Problem]:
    """The problems of one node's own texts, conditions and buttons.

    They depend only on the node and ``context``; :func:`check_dialogue` adds those that
    need the rest of the dialogue (targets, signposts, reachability, dead ends).
    """
    problems, report, check_text, check_conditions = _text_checks(context)
    f = node.file
    where = f"node '{node.id}'"
    if node.note:
        check_text(node.note, f"the note of {where}", f)
    for i, msg in enumerate(node.messages, start=1):
        mwhat = f"message {i} of {where}"
        if msg.text:
            check_text(msg.text, mwhat, f)
        check_conditions(msg.conditions, mwhat, f)
    for i, opt in enumerate(node.options):
        owhat = f"option {i + 1} of {where}"
        check_text(opt.label, f"the label of {owhat}", f, is_label=True)
        check_conditions(opt.conditions, owhat, f)
        data = callback_data(node.id, i, "0000")
        if len(data.encode()) > TELEGRAM_MAX_CALLBACK_DATA:
            report(
                "BL023",
                f"the button data for {owhat} would be {len(data.encode())} "
                f"bytes (limit {TELEGRAM_MAX_CALLBACK_DATA}) because the node id is "
                "long",
                f,
                opt.pos,
            )
    return problems


def check_dialogue(
    d: Dialogue,
    *,
    today: dt.date,
    local: Callable[[TextContext], list[Problem]] | None = None,
) -> list[Problem]:
    """Every check of a loaded dialogue. ``local(context)``, if given, returns
    :func:`check_node`'s problems for every node of ``d`` (a caller that kept them)."""
    context = text_context(d)
    problems, report, check_text, _ = _text_checks(context)
    if local is None:
        for node in d.nodes.values():
            problems.extend(check_node(context, node))
    else:
        problems.extend(local(context))

    def check_target(target: str, what: str, file: str, pos) -> None:
        if target not in d.nodes:
            report(
                "BL011",
                f"{what} goes to '{target}', which is not a node.{did_you_mean(target, d.nodes)}",
                file,
                pos,
            )

    for node in d.nodes.values():
        f = node.file
        where = f"node '{node.id}'"
        for i, msg in enumerate(node.messages, start=1):
            mwhat = f"message {i} of {where}"
            for sp in msg.signposts:
                if sp not in d.signposts:
                    report(
                        "BL017",
                        f"{mwhat} lists signpost '{sp}', which does not exist."
                        f"{did_you_mean(sp, d.signposts)}",
                        f,
                        msg.pos,
                    )
        _check_signpost_lengths(d, node, report)
        for i, opt in enumerate(node.options):
            check_target(opt.to, f"option {i + 1} of {where}", f, opt.to_pos)
        if node.free_text:
            for j, route in enumerate(node.free_text.routes, start=1):
                check_target(route.to, f"route {j} of {where}", f, route.to_pos)
            if node.free_text.grief:
                check_target(
                    node.free_text.grief.to,
                    f"the grief reply of {where}",
                    f,
                    node.free_text.grief.to_pos,
                )
            check_target(
                node.free_text.fallback,
                f"the free_text fallback of {where}",
                f,
                node.free_text.fallback_pos,
            )
        if node.id == d.entry.get("safety_check"):
            if node.options or node.free_text:
                report(
                    "BL018",
                    f"{where} is the safety check, so it cannot have options or free_text",
                    f,
                    node.pos,
                )
        elif not node.options and not node.free_text:
            report(
                "BL013",
                f"{where} has no options and no free_text, so a parent reaching it would be stuck",
                f,
                node.pos,
            )

    for key, text in d.system_messages.items():
        check_text(
            text,
            f"system message '{key}'",
            _entry_file(d),
            # The bot fills in its own messages' variables (e.g. {name}), as in the default.
            filled=frozenset(_variable_names(DEFAULT_SYSTEM_MESSAGES.get(key, ""))),
        )

    for sp in d.signposts.values():
        check_text(sp.text, f"the text of signpost '{sp.id}'", sp.file)
        if sp.checked and (today - sp.checked).days > STALE_AFTER_DAYS:
            report(
                "BL060",
                f"signpost '{sp.id}' was last checked on {sp.checked.isoformat()}",
                sp.file,
                sp.pos,
            )

    if not any(p.code == "BL011" for p in problems):
        reachable = reachable_nodes(d)
        for node in d.nodes.values():
            if node.id not in reachable:
                report(
                    "BL012",
                    f"node '{node.id}' cannot be reached from the start or any entry point",
                    node.file,
                    node.pos,
                )
    return problems


def _variable_names(raw: str) -> set[str]:
    return {name for name, _, _ in placeholders(raw)}


def _check_signpost_lengths(d: Dialogue, node: Node, report) -> None:
    for i, msg in enumerate(node.messages, start=1):
        if not msg.signposts:
            continue
        total = (
            telegram_length(msg.text.pick(d.settings.default_language, d.settings.default_language))
            + 2
            if msg.text
            else 0
        ) + sum(
            telegram_length(sp.text.pick(d.settings.default_language, d.settings.default_language))
            + 2
            for s in msg.signposts
            if (sp := d.signposts.get(s))
        )
        if total > TELEGRAM_MAX_MESSAGE:
            report(
                "BL020",
                f"message {i} of node '{node.id}' lists signposts adding up to "
                f"{total} characters; Telegram's limit is {TELEGRAM_MAX_MESSAGE}",
                node.file,
                msg.pos,
            )


def _entry_file(d: Dialogue) -> str:
    start = d.nodes.get(d.entry.get("start", ""))
    return start.file if start else "dialogues"


def _settable_values(d: Dialogue) -> dict[str, set[str]]:
    values: dict[str, set[str]] = {
        name: {LONGEST_BUILTIN_VALUE.get(name, "")} for name in BUILTIN_VARIABLES
    }
    for name, val in d.settings.variables.items():
        values.setdefault(name, set()).add(val)
    for node in d.nodes.values():
        sets = [node.set, *(o.set for o in node.options)]
        if node.free_text:
            sets += [r.set for r in node.free_text.routes]
        for s in sets:
            for name, val in s.items():
                values.setdefault(name, set()).add(val)
        if node.free_text and node.free_text.capture:
            capture = node.free_text.capture
            longest = "12-31" if capture.kind == "date" else "W" * MAX_NAME_LENGTH
            values.setdefault(capture.variable, set()).add(longest)
    return values


def _longest_values(settable: dict[str, set[str]]) -> dict[str, str]:
    return {name: max(vals, key=len) if vals else "" for name, vals in settable.items()}


def reachable_nodes(d: Dialogue) -> set[str]:
    seen: set[str] = set()
    roots = [*d.entry.values(), *d.reminders.values()]  # reminders open their node directly
    queue = deque(n for n in roots if n in d.nodes)
    while queue:
        node_id = queue.popleft()
        if node_id in seen:
            continue
        seen.add(node_id)
        queue.extend(t for t, _ in d.nodes[node_id].targets() if t in d.nodes and t not in seen)
    return seen
