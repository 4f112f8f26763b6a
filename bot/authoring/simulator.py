"""``babyloss-bot chat``: play the dialogues in the terminal as a parent would see them.

Buttons become numbered choices; anything else typed is free text (and passes the safety
net, as on Telegram). /back, /menu, /restart, /support and /quit work as commands.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from bot.authoring.terminal_text import to_terminal
from bot.dialogue.engine import (
    Command,
    Context,
    Pause,
    Press,
    Reply,
    Say,
    Start,
    StepResult,
    enter,
    new_session,
    step,
)
from bot.dialogue.model import Dialogue

HELP = "Type a number to press a button, or type words. /back /menu /restart /support /quit"


def run_chat(
    dialogue: Dialogue,
    *,
    start_node: str | None = None,
    language: str | None = None,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    pause_seconds: float = 0.6,
    first_name: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run the conversation until /quit or end of input. Returns an exit code."""
    interactive = stdin.isatty() and stdout.isatty()
    colour = interactive
    ctx = Context(first_name=first_name)

    def show(result: StepResult) -> None:
        for out in result.outputs:
            if isinstance(out, Pause):
                if interactive and pause_seconds:
                    sleep(pause_seconds)
                continue
            assert isinstance(out, Reply)
            prefix = {"note": "[content note] ", "system": "(bot) "}.get(out.kind, "")
            if out.kind == "note" and out.text.lower().startswith("content note"):
                prefix = ""  # the note says so itself: no "[content note] Content note:"
            stdout.write(f"\n{prefix}{to_terminal(out.text, colour=colour)}\n")
            for i, button in enumerate(out.buttons, start=1):
                stdout.write(f"  [{i}] {button.label}\n")
        stdout.flush()

    stdout.write(f"babyloss-bot (dialogue {dialogue.version}). {HELP}\n")
    session = new_session(dialogue, language)
    result = (
        enter(dialogue, session, start_node, ctx)
        if start_node
        else step(dialogue, session, Start(), ctx)
    )
    show(result)
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            return 0
        text = line.strip()
        if not text:
            continue
        buttons = result.buttons
        if text.startswith("/"):
            name, _, arg = text[1:].partition(" ")
            if name in ("quit", "exit", "q"):
                return 0
            if name == "help" and not arg:
                stdout.write(HELP + "\n")
            if name in ("mydata", "forget"):  # the terminal keeps nothing, on disk or off it
                stdout.write(
                    "\n(bot) "
                    + to_terminal(
                        dialogue.system("nothing_stored").pick(
                            language or dialogue.settings.default_language,
                            dialogue.settings.default_language,
                        ),
                        colour=colour,
                    )
                    + "\n"
                )
                continue
            inp = Command(name, arg)
        elif text.isdigit() and buttons:
            index = int(text) - 1
            if not 0 <= index < len(buttons):
                stdout.write(f"(choose a number from 1 to {len(buttons)})\n")
                continue
            inp = Press(buttons[index].data)
        else:
            inp = Say(text)
        result = step(dialogue, result.session, inp, ctx)
        show(result)
