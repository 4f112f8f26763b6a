"""Where the translatable texts of one dialogue file are, to the character.

The loader reads a dialogue for the bot; this module reads the same YAML for translators:
each text with a stable name (``node:welcome/message 2``), its English, its translations,
and the exact span of characters it occupies, so that ``yaml_edit`` can write a
translation in without touching anything else in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from bot.dialogue.fingerprint import FROM_SUFFIX, SOURCE_LANGUAGE

MESSAGE_KEYS = ("text", "signposts", "if", "unless")


@dataclass
class Spot:
    """One translatable text in one file."""

    context: str  # stable name: the PO msgctxt
    kind: str  # message, button, note, signpost, system
    line: int  # 1-based line of the text
    node: yaml.Node  # a ScalarNode (English only) or a MappingNode ({en: ..., cy: ...})
    holder: str  # "item" (block list), "value" (block mapping value) or "flow"
    key_node: yaml.Node | None = None  # the key, when the text is a mapping value
    node_id: str = ""  # the dialogue node it belongs to, if any
    comments: list[str] = field(default_factory=list)  # the YAML comments above its node

    @property
    def english(self) -> str | None:
        if isinstance(self.node, yaml.ScalarNode):
            return self.node.value
        value = _get(self.node, SOURCE_LANGUAGE)
        return value[1].value if value and isinstance(value[1], yaml.ScalarNode) else None

    def translation(self, lang: str) -> str | None:
        if isinstance(self.node, yaml.MappingNode):
            value = _get(self.node, lang)
            if value and isinstance(value[1], yaml.ScalarNode):
                return value[1].value
        return None

    def origin(self, lang: str) -> str | None:
        if isinstance(self.node, yaml.MappingNode):
            value = _get(self.node, lang + FROM_SUFFIX)
            if value and isinstance(value[1], yaml.ScalarNode):
                return value[1].value
        return None


def _get(mapping: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None


def _pairs(mapping: yaml.Node | None):
    if isinstance(mapping, yaml.MappingNode):
        for k, v in mapping.value:
            if isinstance(k, yaml.ScalarNode):
                yield k, v


def compose(text: str) -> yaml.Node | None:
    # The pure-Python loader: its marks count characters, which is what we slice by.
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _is_text(node: yaml.Node) -> bool:
    if isinstance(node, yaml.ScalarNode):
        return node.tag == "tag:yaml.org,2002:str" and bool(node.value.strip())
    return _get(node, SOURCE_LANGUAGE) is not None


def _comments_above(lines: list[str], line_index: int) -> list[str]:
    out: list[str] = []
    i = line_index - 1
    while i >= 0 and lines[i].lstrip().startswith("#"):
        text = lines[i].strip().lstrip("#").strip(" -")  # "# -- Section ----" rules too
        if text:
            out.append(text)
        i -= 1
    return list(reversed(out))


def find_spots(text: str) -> tuple[list[Spot], dict]:
    """The translatable texts of one file, in file order, and its entry points (if any)."""
    root = compose(text)
    if not isinstance(root, yaml.MappingNode):
        return [], {}
    lines = text.splitlines()
    spots: list[Spot] = []
    entry: dict[str, str] = {}

    seen: set[int] = set()

    def add(context, kind, node, parent, key_node=None, node_id="", comments=None):
        # A text shared through a YAML alias (*name) is one text: translated where its
        # anchor (&name) is, and everywhere it is used.
        if not _is_text(node) or id(node) in seen:
            return
        seen.add(id(node))
        holder = "flow" if parent.flow_style else ("value" if key_node is not None else "item")
        spots.append(
            Spot(
                context,
                kind,
                node.start_mark.line + 1,
                node,
                holder,
                key_node,
                node_id,
                comments or [],
            )
        )

    for section_key, section in _pairs(root):
        name = section_key.value
        if name == "entry_points":
            entry = {k.value: v.value for k, v in _pairs(section) if isinstance(v, yaml.ScalarNode)}
        elif name == "nodes":
            for id_node, node in _pairs(section):
                node_id = id_node.value
                comments = _comments_above(lines, id_node.start_mark.line)
                base = f"node:{node_id}"
                for key, value in _pairs(node):
                    if key.value == "note":
                        add(f"{base}/note", "note", value, node, key, node_id, comments)
                    elif key.value == "messages":
                        items = value.value if isinstance(value, yaml.SequenceNode) else [value]
                        holder = value if isinstance(value, yaml.SequenceNode) else node
                        for i, item in enumerate(items, start=1):
                            ctx = f"{base}/message {i}"
                            keys = {k.value for k, _ in _pairs(item)}
                            if isinstance(item, yaml.MappingNode) and keys & set(MESSAGE_KEYS):
                                found = _get(item, "text")
                                if found:
                                    add(ctx, "message", found[1], item, found[0], node_id, comments)
                            elif holder is node:
                                add(ctx, "message", item, node, key, node_id, comments)
                            else:
                                add(ctx, "message", item, holder, None, node_id, comments)
                    elif key.value == "options" and isinstance(value, yaml.SequenceNode):
                        for i, option in enumerate(value.value, start=1):
                            found = _get(option, "label")
                            if found:
                                add(
                                    f"{base}/button {i}",
                                    "button",
                                    found[1],
                                    option,
                                    found[0],
                                    node_id,
                                    comments,
                                )
        elif name == "signposts":
            for id_node, signpost in _pairs(section):
                found = _get(signpost, "text")
                if found:
                    comments = _comments_above(lines, id_node.start_mark.line)
                    add(
                        f"signpost:{id_node.value}",
                        "signpost",
                        found[1],
                        signpost,
                        found[0],
                        comments=comments,
                    )
        elif name == "system_messages":
            for key, value in _pairs(section):
                add(f"system:{key.value}", "system", value, section, key)
    return spots, entry
