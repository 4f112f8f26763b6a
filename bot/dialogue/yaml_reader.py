"""Read one YAML file into plain Python values that remember their line and column.

Volunteers need every error to point at a line, so mappings and lists here carry the
position of each key and item. The reader never raises: whatever the bytes, it returns
either a value or a list of :class:`~bot.dialogue.problems.Problem` (empty file, binary file,
tabs, duplicate keys, syntax errors, ...).
"""

from __future__ import annotations

import yaml

from bot.dialogue.problems import Problem

Pos = tuple[int, int]  # 1-based line and column

# A hostile or broken file must not exhaust memory through alias expansion ("billion
# laughs") or the stack through deep nesting.
MAX_VALUES = 200_000
MAX_DEPTH = 60


class YMap(dict):
    """A mapping that remembers where it, each key and each value start."""

    pos: Pos = (0, 0)
    key_pos: dict
    value_pos: dict

    def where(self, key: str) -> Pos:
        return self.key_pos.get(key, self.pos)

    def where_value(self, key: str) -> Pos:
        return self.value_pos.get(key, self.where(key))


class YList(list):
    """A list that remembers where it and each item start."""

    pos: Pos = (0, 0)
    item_pos: list

    def where(self, index: int) -> Pos:
        return self.item_pos[index] if index < len(self.item_pos) else self.pos


def pos_of(value: object, default: Pos = (0, 0)) -> Pos:
    return getattr(value, "pos", default)


# libyaml (bundled with PyYAML's wheels) composes about ten times faster than pure Python.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_STR = "tag:yaml.org,2002:str"


class _TooBig(Exception):
    pass


def _mark(node: yaml.Node) -> Pos:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Converter:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []
        self.count = 0
        self._scalars = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, depth: int = 0) -> object:
        self.count += 1
        if self.count > MAX_VALUES or depth > MAX_DEPTH:
            raise _TooBig
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR:  # most values are words: skip the constructor machinery
                return node.value
            try:
                return self._scalars.construct_object(node, deep=True)
            except Exception:  # e.g. a date such as 2026-13-45: keep the words as written
                return node.value
        if isinstance(node, yaml.SequenceNode):
            out = YList()
            out.pos = _mark(node)
            out.item_pos = []
            for item in node.value:
                out.append(self.convert(item, depth + 1))
                out.item_pos.append(_mark(item))
            return out
        if isinstance(node, yaml.MappingNode):
            out = YMap()
            out.pos = _mark(node)
            out.key_pos, out.value_pos = {}, {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    line, col = _mark(key_node)
                    self.problems.append(
                        Problem(
                            "BL006",
                            "a key must be a plain word, not a list or mapping",
                            self.filename,
                            line,
                            col,
                        )
                    )
                    continue
                # Keys are taken as written: 'no:' (Norwegian) must not become False.
                key = key_node.value
                if key in out:
                    first = out.key_pos[key]
                    line, col = _mark(key_node)
                    self.problems.append(
                        Problem(
                            "BL005",
                            f"'{key}' appears twice (first at line {first[0]})",
                            self.filename,
                            line,
                            col,
                        )
                    )
                    continue
                out[key] = self.convert(value_node, depth + 1)
                out.key_pos[key] = _mark(key_node)
                out.value_pos[key] = _mark(value_node)
            return out
        return None  # pragma: no cover - yaml has only the three node kinds


def _tab_problems(text: str, filename: str) -> list[Problem]:
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            problems.append(
                Problem(
                    "BL004",
                    "a tab is used to indent this line",
                    filename,
                    number,
                    indent.index("\t") + 1,
                )
            )
    return problems


def _open_quote(line: str) -> tuple[int, str] | None:
    """(0-based column, character) of a quoted value this line opens and never closes."""
    at_value_start, quote, start, i = True, "", 0, 0
    while i < len(line):
        c = line[i]
        nxt = line[i + 1 : i + 2]
        if quote == '"':
            if c == "\\":
                i += 1
            elif c == '"':
                quote = ""
        elif quote == "'":
            if c == "'" and nxt == "'":
                i += 1
            elif c == "'":
                quote = ""
        elif c in "\"'" and at_value_start:
            quote, start = c, i
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            break  # a comment
        elif c in " \t":
            pass
        elif c in "-:" and nxt in ("", " ") or c in "[{,":
            at_value_start = True
        else:
            at_value_start = False
        i += 1
    return (start, quote) if quote else None


def _unclosed_quote(text: str, error_line: int) -> tuple[int, int, str] | None:
    """Where a quote that never closes begins, if one does just above a syntax error.

    YAML lets a quoted text run over several lines, so PyYAML reports the problem where
    the runaway text finally collides with something, often lines later; the fix belongs
    where the quote opened.
    """
    lines = text.splitlines()
    for number in range(min(error_line, len(lines)), max(0, error_line - 6), -1):
        found = _open_quote(lines[number - 1])
        if found:
            return number, found[0] + 1, found[1]
    return None


def read_yaml(data: bytes, filename: str) -> tuple[object | None, list[Problem]]:
    """Parse ``data`` (the bytes of ``filename``). Returns (value, problems)."""
    if b"\x00" in data:
        return None, [Problem("BL003", "the file contains binary data", filename)]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [Problem("BL003", "the file is not valid UTF-8 text", filename, line, 1)]
    tabs = _tab_problems(text, filename)
    if tabs:
        return None, tabs
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        quote = _unclosed_quote(text, line)
        if quote:
            qline, qcol, char = quote
            escape = '\\"' if char == '"' else "''"
            return None, [
                Problem(
                    "BL001",
                    "the quote opened here never closes",
                    filename,
                    qline,
                    qcol,
                    hint=f"Add the closing {char} at the end of the text (a {char} inside "
                    f"the text is written {escape}).",
                )
            ]
        what = exc.problem or exc.context or "the file could not be read"
        return None, [Problem("BL001", f"YAML syntax error: {what}", filename, line, col)]
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        return None, [Problem("BL001", f"YAML could not be read: {type(exc).__name__}", filename)]
    if root is None:
        return None, [Problem("BL002", "the file has no content", filename)]
    converter = _Converter(filename)
    try:
        value = converter.convert(root)
    except (_TooBig, RecursionError):
        return None, [
            Problem(
                "BL001",
                "the file is too large or too deeply nested to read "
                f"(more than {MAX_VALUES} values or {MAX_DEPTH} levels)",
                filename,
            )
        ]
    if value is None:
        return None, [Problem("BL002", "the file holds only an empty value", filename, 1, 1)]
    return value, converter.problems
