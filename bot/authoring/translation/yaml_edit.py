"""Write translations into a dialogue file, changing nothing but the translated text.

Volunteers' comments, key order, quoting and blank lines are theirs: rather than load and
dump the YAML (which would lose or reflow them), each change is a splice at the exact
characters the parser reports. A plain English text becomes a per-language mapping::

    - "Hello"              ->   - en: "Hello"
                                  cy: "Helo"
                                  cy_from: "185f8db3"

and an existing mapping gets its language's lines replaced or added. The result is parsed
again and the English compared before anything is written.
"""

from __future__ import annotations

import json

import yaml

from bot.authoring.translation.spots import Spot, _get, _pairs, compose, find_spots
from bot.dialogue.fingerprint import FROM_SUFFIX

Edit = tuple[int, int, str]  # replace text[start:end] with the string


class EditError(Exception):
    """The file could not be changed safely; nothing was written."""


def quote(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _line_end(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end == -1 else end


def _source(text: str, node: yaml.Node) -> str:
    """The English as written, when it is on one line; otherwise re-quoted on one line."""
    raw = text[node.start_mark.index : node.end_mark.index]
    if node.start_mark.line == node.end_mark.line and not raw.startswith(("|", ">")):
        return raw
    return quote(node.value)


def _after_value(text: str, value: yaml.Node, indent: int, lines: list[str]) -> Edit:
    """Insert ``lines`` (key: value) as new lines after the line where ``value`` ends."""
    end = value.end_mark.index
    pad = " " * indent
    if end > 0 and text[end - 1] == "\n":  # a block scalar ends with its newline
        return (end, end, "".join(f"{pad}{line}\n" for line in lines))
    eol = _line_end(text, end)
    return (eol, eol, "".join(f"\n{pad}{line}" for line in lines))


def plan(text: str, spot: Spot, lang: str, translation: str, origin: str) -> list[Edit]:
    """The edits that give ``spot`` this translation and fingerprint."""
    node = spot.node
    new = [f"{lang}: {quote(translation)}", f"{lang}{FROM_SUFFIX}: {quote(origin)}"]
    if isinstance(node, yaml.ScalarNode):
        src = _source(text, node)
        if spot.holder == "flow":
            inline = f"{{en: {src}, {', '.join(new)}}}"
            return [(node.start_mark.index, node.end_mark.index, inline)]
        if spot.holder == "item":
            col = node.start_mark.column
            eol = _line_end(text, node.end_mark.index)
            return [
                (node.start_mark.index, node.end_mark.index, f"en: {src}"),
                (eol, eol, "".join(f"\n{' ' * col}{line}" for line in new)),
            ]
        key = spot.key_node
        col = key.start_mark.column + 2
        eol = _line_end(text, node.end_mark.index)
        return [
            (key.end_mark.index, node.end_mark.index, f":\n{' ' * col}en: {src}"),
            (eol, eol, "".join(f"\n{' ' * col}{line}" for line in new)),
        ]
    edits: list[Edit] = []
    have = _get(node, lang)
    have_from = _get(node, lang + FROM_SUFFIX)
    if node.flow_style:
        if have:
            edits.append((have[1].start_mark.index, have[1].end_mark.index, quote(translation)))
        if have_from:
            edits.append(
                (have_from[1].start_mark.index, have_from[1].end_mark.index, quote(origin))
            )
        missing = [line for line, h in zip(new, (have, have_from), strict=True) if not h]
        if missing:
            close = node.end_mark.index - 1  # the '}'
            while close > 0 and text[close - 1] in " ,":
                close -= 1
            edits.append((close, close, "".join(f", {line}" for line in missing)))
        return edits
    indent = node.value[0][0].start_mark.column
    if have:
        edits.append((have[1].start_mark.index, have[1].end_mark.index, quote(translation)))
    if have_from:
        edits.append((have_from[1].start_mark.index, have_from[1].end_mark.index, quote(origin)))
    if have and not have_from:
        edits.append(_after_value(text, have[1], indent, new[1:]))
    elif not have:
        last = list(_pairs(node))[-1][1]
        edits.append(_after_value(text, last, indent, new if not have_from else new[:1]))
    return edits


def plan_system_messages(text: str, lang: str, items: list[tuple[str, str, str, str]]) -> Edit:
    """Add built-in system messages (not yet in the file) with their translations:
    ``items`` are (key, English, translation, fingerprint)."""
    root = compose(text)
    section = _get(root, "system_messages") if isinstance(root, yaml.MappingNode) else None
    lines: list[str] = []
    for key, english, translation, origin in items:
        lines += [
            f"{key}:",
            f"  en: {quote(english)}",
            f"  {lang}: {quote(translation)}",
            f"  {lang}{FROM_SUFFIX}: {quote(origin)}",
        ]
    if section is not None:
        mapping = section[1]
        if not isinstance(mapping, yaml.MappingNode) or mapping.flow_style or not mapping.value:
            raise EditError("'system_messages' is not a block mapping; add the messages by hand")
        indent = mapping.value[0][0].start_mark.column
        return _after_value(text, mapping.value[-1][1], indent, lines)
    block = "\nsystem_messages:\n" + "".join(f"  {line}\n" for line in lines)
    sep = "" if text.endswith("\n") else "\n"
    return (len(text), len(text), sep + block)


def apply(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits, last first, so earlier positions stay valid. Of two
    insertions at the same place, the one listed first ends up first in the text."""
    out = text
    previous_start = len(text) + 1
    ordered = sorted(enumerate(edits), key=lambda ie: (ie[1][0], ie[1][1], ie[0]), reverse=True)
    for start, end, new in (e for _, e in ordered):
        if end > previous_start:
            raise EditError("two changes overlap")
        out = out[:start] + new + out[end:]
        previous_start = start
    return out


def english_by_context(text: str) -> dict[str, str | None]:
    spots, _ = find_spots(text)
    return {s.context: s.english for s in spots}


def verify(before: str, after: str) -> None:
    """The edited file must parse, and every English text must be exactly as it was."""
    try:
        was, now = english_by_context(before), english_by_context(after)
    except yaml.YAMLError as exc:
        raise EditError(f"the edited file would not be valid YAML ({exc})") from None
    for context, english in was.items():
        if now.get(context) != english:
            raise EditError(f"the English of {context} would change; nothing was written")
