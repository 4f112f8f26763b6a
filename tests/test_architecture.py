"""The import direction, enforced: dependencies point inward, to the pure dialogue core.

Every module under bot/ is parsed with ``ast`` (nothing is imported, so a forbidden import
fails here even if it is never run) and each of its imports, at the top or inside a
function, is checked against the table in ARCHITECTURE.md, "What may import what".
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"

# Outer layers and outside libraries the pure core (bot.dialogue, bot.safety) must never see.
IO_LIBRARIES = ("telegram", "aiohttp", "aiosqlite", "sqlite3", "prometheus_client", "socket")
CORE = ("bot.dialogue", "bot.safety")

# Layer -> the project packages and outside libraries it may import (besides the standard
# library and PyYAML). The same table is in ARCHITECTURE.md.
ALLOWED = {
    "bot.dialogue": {"bot": CORE, "outside": ()},
    "bot.safety": {"bot": CORE, "outside": ("sklearn", "numpy", "scipy")},  # training only
    # polib: PO files for translators (bot.authoring.translation).
    "bot.authoring": {"bot": (*CORE, "bot.authoring"), "outside": ("polib",)},
    "bot.storage": {"bot": (*CORE, "bot.storage"), "outside": ("aiosqlite", "sqlite3")},
    "bot.telegram": {
        # The shell's leaf modules: settings, counters, the memory job. None imports back.
        # Not bot.safety: the engine's result says whether the words were risk language.
        "bot": (
            "bot.dialogue",
            "bot.storage",
            "bot.telegram",
            *(f"bot.service.{m}" for m in ("config", "metrics", "memory")),
        ),
        "outside": ("telegram", "aiohttp"),
    },
    "bot.service": {
        # The process shell starts the front ends it serves: the bot, and the studio beside it.
        "bot": (*CORE, "bot.storage", "bot.telegram", "bot.studio", "bot.service"),
        # socket: --check tries the ports run will listen on.
        "outside": ("telegram", "aiohttp", "prometheus_client", "socket"),
    },
    "bot.studio": {
        # The shell's config: where the accounts file and the live folder are.
        # Never storage: the studio cannot see parents' data.
        "bot": (*CORE, "bot.authoring", "bot.studio", "bot.service.config"),
        "outside": ("aiohttp", "argon2"),
    },
    # The outermost shell: the command line may start anything.
    "bot.cli": {"bot": ("bot",), "outside": ("sklearn",)},  # only to say if train can run
    "bot.__main__": {"bot": ("bot",), "outside": ()},
}
# Shell modules the adapter may use must not import the adapter back (no cycle).
SHELL_LEAVES = ("bot.service.config", "bot.service.metrics", "bot.service.memory")
THIRD_PARTY_ANYWHERE = ("yaml",)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, wherever it sits."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = module or module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            if name == "bot" or (node.level and not node.module):
                # "from bot import engine": the names are modules of that package.
                found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, name))
    return found


def within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer_of(module: str) -> str | None:
    for layer in sorted(ALLOWED, key=len, reverse=True):
        if within(module, (layer,)):
            return layer
    return None


BOT_MODULES = sorted(BOT.rglob("*.py"))


def test_every_module_belongs_to_a_layer():
    # A new top-level module or package must be given a place in the table first.
    strays = [str(p.relative_to(ROOT)) for p in BOT_MODULES if layer_of(module_name(p)) is None]
    assert strays == [p for p in strays if p == "bot/__init__.py"]


def violations(path: Path, module: str) -> list[str]:
    """Each import in the file that its layer may not make, as 'file:line: reason'."""
    layer = layer_of(module)
    if layer is None:
        return []  # bot/__init__.py: only the version
    rules = ALLOWED[layer]
    wrong = []
    for line, name in imports_of(path, module):
        top = name.split(".")[0]
        if top == "bot":
            if not within(name, rules["bot"]):
                wrong.append(f"{path.name}:{line}: {layer} may not import {name}")
        elif (
            top in IO_LIBRARIES or top not in _stdlib() and top not in THIRD_PARTY_ANYWHERE
        ) and top not in rules["outside"]:
            wrong.append(f"{path.name}:{line}: {layer} may not import {top}")
    return wrong


@pytest.mark.parametrize("path", BOT_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path: Path):
    assert violations(path, module_name(path)) == []


@pytest.mark.parametrize("layer", CORE)
def test_the_core_imports_no_io_and_no_outer_layer(layer: str):
    # Stated separately, as the issue put it: the core never sees Telegram, a database,
    # the network, or any adapter.
    outer = ("bot.telegram", "bot.storage", "bot.authoring", "bot.studio", "bot.service", "bot.cli")
    offending = [
        f"{p.relative_to(ROOT)}:{line}: {name}"
        for p in BOT_MODULES
        if layer_of(module_name(p)) == layer
        for line, name in imports_of(p)
        if within(name, outer) or name.split(".")[0] in (*IO_LIBRARIES, "aiohttp")
    ]
    assert offending == []


def test_the_shell_modules_the_adapter_uses_do_not_import_it_back():
    offending = [
        f"{leaf}:{line}: {name}"
        for leaf in SHELL_LEAVES
        for line, name in imports_of(ROOT / (leaf.replace(".", "/") + ".py"))
        if within(name, ("bot.telegram", "bot.service.run", "bot.service.health"))
    ]
    assert offending == []


def test_the_checker_notices_forbidden_imports(tmp_path):
    # The rules must be able to fail: an engine that reached for Telegram, storage or the
    # command line, even inside a function or relatively, is caught.
    probe = tmp_path / "engine.py"
    probe.write_text(
        "import telegram\n"
        "from bot.storage import database\n"
        "def later():\n"
        "    from bot import cli\n"
        "    from ..telegram import adapter\n"
        "from bot.dialogue.model import Dialogue\n"
        "from . import templating\n"
    )
    assert violations(probe, "bot.dialogue.engine") == [
        "engine.py:1: bot.dialogue may not import telegram",
        "engine.py:2: bot.dialogue may not import bot.storage",
        "engine.py:4: bot.dialogue may not import bot.cli",
        "engine.py:5: bot.dialogue may not import bot.telegram",
    ]


def _stdlib() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names)
