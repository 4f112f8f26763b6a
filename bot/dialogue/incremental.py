"""Validating again after a small edit, redoing only what the edit can have changed.

The studio checks a dialogue as a volunteer types: one file changes, the other nineteen
do not. :class:`DialogueMemo` is the ``memo=`` the loader accepts
(:func:`bot.dialogue.loader.load_dialogue`); it keeps, per file,

- the file's parts (:func:`~bot.dialogue.loader.read_file_parts`: its nodes, signposts,
  settings, ... and their problems), while the file's bytes are the same;
- each node's own checks (:func:`~bot.dialogue.checks.check_node`), while the file's parts
  are the same and so is what those checks see of the rest of the dialogue (the
  :class:`~bot.dialogue.checks.TextContext`, narrowed to the variables the file uses).

What spans files (duplicate ids, targets, reachability, entry points, signposts listed by
a message, settings) is worked out afresh on every load, from the kept parts. Reading a
file and checking a node are pure, so a kept result is the one a fresh load would make:
tests/test_incremental_validation.py compares the two after many random edits.

The memo holds one version of each file and forgets files that are no longer loaded.
Nothing here touches the disk; the caller owns the memo (one per studio project).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.dialogue.checks import TextContext, check_node, names_used
from bot.dialogue.loader import FileParts, read_file_parts
from bot.dialogue.model import Node
from bot.dialogue.problems import Problem


@dataclass(frozen=True)
class _Checked:
    parts: FileParts  # the very parts these problems were worked out from
    key: tuple  # TextContext.key_for(names): what the checks saw of the rest
    problems: Mapping[str, list[Problem]]  # node id -> check_node's problems


class DialogueMemo:
    """Per-file results kept from one load of a dialogue to the next (``memo=``)."""

    def __init__(self) -> None:
        self._parts: dict[str, tuple[bytes, FileParts, frozenset[str]]] = {}
        self._checked: dict[str, _Checked] = {}
        # The studio validates in worker threads; each entry is replaced whole, under a lock.
        self._lock = threading.Lock()

    def file_parts(self, filename: str, data: bytes, read: Callable) -> FileParts:
        with self._lock:
            kept = self._parts.get(filename)
        if kept is not None and kept[0] == data:
            return kept[1]
        parts = read_file_parts(filename, data, read)
        with self._lock:
            self._parts[filename] = (data, parts, _names(parts))
        return parts

    def node_problems(
        self, context: TextContext, parts: list[FileParts], nodes: Mapping[str, Node]
    ) -> list[Problem]:
        out: list[Problem] = []
        for part in parts:
            with self._lock:
                kept_parts = self._parts.get(part.file)
                checked = self._checked.get(part.file)
            if kept_parts is not None and kept_parts[1] is part:
                names = kept_parts[2]
            else:  # parts this memo did not read
                names = _names(part)
            key = context.key_for(names)
            if checked is None or checked.parts is not part or checked.key != key:
                problems = {n_id: check_node(context, n) for n_id, _, n, _ in part.nodes if n}
                checked = _Checked(part, key, problems)
                with self._lock:
                    self._checked[part.file] = checked
            for node_id, _, node, _ in part.nodes:
                # A node another file defined first is not in the dialogue: not checked.
                if node is not None and nodes.get(node_id) is node:
                    out.extend(checked.problems[node_id])
        self._forget_all_but({part.file for part in parts})
        return out

    def _forget_all_but(self, filenames: set[str]) -> None:
        with self._lock:
            for store in (self._parts, self._checked):
                for gone in [name for name in store if name not in filenames]:
                    del store[gone]


def _names(parts: FileParts) -> frozenset[str]:
    """The variables the checks of this file's nodes look up."""
    return frozenset().union(*(names_used(node) for _, _, node, _ in parts.nodes if node))
