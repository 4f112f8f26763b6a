"""Commands for the charity team (ids in ``admins``): /reload, /stats and /preview.

To anyone else these commands do not exist. A mixin for
:class:`bot.telegram.adapter.BabylossBot`.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Update

from bot.dialogue import engine
from bot.dialogue.engine import Context
from bot.storage.stats import database_stats, format_stats

log = logging.getLogger("babyloss.bot")

ADMIN_COMMANDS = {"reload", "stats", "preview"}


class AdminMixin:
    async def on_admin(self, update: Update, context, name: str, argument: str) -> None:
        if name == "reload":
            ok, summary = self.reload()
            await self._send_plain(update, summary)
        elif name == "stats":
            await self._send_plain(update, await self.stats_text())
        elif name == "preview":
            node = argument.strip()
            if node not in self.dialogue.nodes:
                from bot.dialogue.problems import did_you_mean

                await self._send_plain(
                    update, f"No node '{node}'.{did_you_mean(node, self.dialogue.nodes)}"
                )
                return
            result = engine.enter(
                self.dialogue,
                engine.new_session(self.dialogue),
                node,
                Context(first_name=update.effective_user.first_name or ""),
            )
            await self.send_outputs(update.effective_chat.id, result, remember_keyboard=False)

    async def stats_text(self) -> str:
        """The anonymous figures behind /stats: the database's, plus this run's counters."""
        await self.flush_visits()
        if self.db is not None:
            stats = await asyncio.to_thread(database_stats, self.db.path)
        else:
            stats = {"remembered_parents": 0, "visits": dict(self.stats.visits), "reminders": {}}
        run = (
            f"Since start: {self.stats.updates} updates, {self.stats.steps} steps, "
            f"{self.stats.crisis} crisis replies, {self.stats.safety_checks} safety checks, "
            f"{self.stats.errors} errors."
        )
        return format_stats(stats, self.dialogue, active_sessions=len(self.sessions)) + "\n" + run

    def reload(self) -> tuple[bool, str]:
        """Load the dialogues again; keep the old ones if the new ones have errors."""
        result = self.config.load_dialogues()
        if not result.ok:
            errors = [p for p in result.problems if p.is_error]
            for problem in errors:
                log.error("reload rejected: %s", problem.format().replace("\n", " "))
            summary = (
                f"Reload rejected: {len(errors)} error(s); still serving version "
                f"{self.dialogue.version}."
            )
            log.error(summary)
            return False, summary
        old = self.dialogue.version
        self.dialogue = result.dialogue
        self.sessions.privacy_version = result.dialogue.settings.privacy_version
        summary = (
            f"Dialogues reloaded: version {old} -> {result.dialogue.version}, "
            f"{len(result.dialogue.nodes)} nodes."
        )
        log.info(summary)
        return True, summary
