"""Commands for the charity team (ids in ``admins``): /reload, /stats and /preview.

To anyone else these commands do not exist (the adapter checks the id). Built with what
it uses: the current dialogue, a Sender, and the service's own reload, figures and way of
showing a step's outputs.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable

from telegram import Update

from bot.dialogue import engine
from bot.dialogue.engine import Context, StepResult
from bot.dialogue.model import Dialogue
from bot.telegram.sending import Sender

ADMIN_COMMANDS = {"reload", "stats", "preview"}


class Admin:
    def __init__(
        self,
        sender: Sender,
        *,
        dialogue: Callable[[], Dialogue],
        reload: Callable[[], tuple[bool, str]],
        figures: Callable[[], Awaitable[str]],
        show: Callable[..., Awaitable[None]],
    ) -> None:
        self.sender = sender
        self.dialogue = dialogue  # the version being served now
        self.reload = reload  # load the dialogues again: (ok, summary)
        self.figures = figures  # the anonymous figures behind /stats
        self.show = show  # send a step's outputs: show(chat_id, result, remember_keyboard=)

    async def on_admin(self, update: Update, context, name: str, argument: str) -> None:
        if name == "reload":
            ok, summary = self.reload()
            await self._send_plain(update, summary)
        elif name == "stats":
            await self._send_plain(update, await self.figures())
        elif name == "preview":
            dialogue = self.dialogue()
            # /preview NODE [LANG]: a preview language, too, is seen by admins only.
            node, _, lang = argument.strip().partition(" ")
            lang = lang.strip().lower() or None
            if lang and lang not in dialogue.settings.languages:
                await self._send_plain(
                    update, f"No language '{lang}' here ({', '.join(dialogue.settings.languages)})."
                )
                return
            if node not in dialogue.nodes:
                from bot.dialogue.problems import did_you_mean

                await self._send_plain(
                    update, f"No node '{node}'.{did_you_mean(node, dialogue.nodes)}"
                )
                return
            result: StepResult = engine.enter(
                dialogue,
                engine.new_session(dialogue, lang),
                node,
                Context(first_name=update.effective_user.first_name or ""),
            )
            await self.show(update.effective_chat.id, result, remember_keyboard=False)

    async def _send_plain(self, update: Update, text: str) -> None:
        await self.sender.send_quietly(update.effective_chat.id, html.escape(text, quote=False))
