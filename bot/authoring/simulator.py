"""``babyloss-bot chat``: play the dialogues in the terminal as a parent would see them.

Buttons become numbered choices; anything else typed is free text (and passes the safety
net, as on Telegram). /back, /menu, /restart, /support and /quit work as commands.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import replace
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
    forget_typed,
    held_in_memory,
    new_session,
    step,
)
from bot.dialogue.model import Dialogue

HELP = "Type a number to press a button, or type words. /back /menu /restart /support /quit"


TERMINAL_KEEPS_NOTHING = (
    "(terminal) This terminal keeps nothing: on Telegram the bot would now remember your "
    "place; here, everything is forgotten when you /quit."
)
TERMINAL_ASKED = (
    "(terminal) You said yes, but this terminal keeps nothing, so there is nothing to send "
    "or delete. On Telegram, /mydata sends what the bot keeps and /forget deletes it."
)


def said_yes(session) -> bool:
    """The consent variable the Telegram service reads (bot/storage/parents.py)."""
    return str(session.variables.get("remember", "")).lower() in ("yes", "true")


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
            if name in ("mydata", "forget"):  # the terminal keeps nothing on disk
                lang = language or dialogue.settings.default_language
                # Only a baby's name, told in this conversation, is held (in memory).
                held = held_in_memory(dialogue, result.session)
                erasing = name == "forget" and held
                if said_yes(result.session) and not erasing:
                    stdout.write(f"\n{TERMINAL_ASKED}\n")
                else:
                    said = dialogue.system("forgotten" if erasing else "nothing_stored")
                    shown = to_terminal(said.pick(lang, lang), colour=colour)
                    stdout.write("\n(bot) " + shown + "\n")
                if held and name == "mydata":
                    stdout.write(f"\n(bot) {to_terminal(held, colour=colour)}\n")
                if name == "forget":
                    result = replace(result, session=forget_typed(dialogue, result.session))
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
        before = said_yes(result.session)
        result = step(dialogue, result.session, inp, ctx)
        show(result)
        if said_yes(result.session) and not before:
            # The dialogue speaks for the Telegram bot ("I'll remember where you got to");
            # here nothing is kept, and the parent trying it out should not believe otherwise.
            stdout.write(f"\n{TERMINAL_KEEPS_NOTHING}\n")
