"""Sending a reminder a parent asked for, and the one-tap "stop these" under it.

Built with what it uses: the parents' sessions, a Sender, the current dialogue and
``text`` (a key -> system text). The scheduling lives in :mod:`bot.telegram.reminder_jobs`,
the rules in :mod:`bot.dialogue.reminders`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from telegram import Update
from telegram.error import TelegramError

from bot.dialogue import engine
from bot.dialogue.engine import Context
from bot.dialogue.model import Dialogue, freeze
from bot.dialogue.reminders import stop_variables
from bot.storage.parents import ParentSessions
from bot.telegram.sending import Sender, StopSending

log = logging.getLogger("babyloss.bot")

STOP_PREFIX = "~|stop|"  # + reminder kind: the one-tap "stop these" under each reminder


class ReminderMessages:
    def __init__(
        self,
        sessions: ParentSessions,
        sender: Sender,
        dialogue: Callable[[], Dialogue],
        text: Callable[[str], str],
    ) -> None:
        self.sessions = sessions
        self.sender = sender
        self.dialogue = dialogue  # the version being served now
        self.text = text

    async def send_reminder(self, user_id: int, session: engine.Session, kind: str) -> str:
        """Send one reminder (its node, plus "stop these"). Returns sent, blocked or failed."""
        dialogue = self.dialogue()
        node_id = dialogue.reminders.get(kind)
        if node_id not in dialogue.nodes:
            log.warning("reminder %s has no node in this dialogue version", kind)
            return "failed"
        result = engine.enter(dialogue, session, node_id, Context())
        replies = result.replies
        stop = engine.Button(self.text("stop_reminders_label"), STOP_PREFIX + kind)
        try:
            for i, reply in enumerate(replies):
                buttons = (*reply.buttons, stop) if i == len(replies) - 1 else reply.buttons
                await self.sender.send(user_id, reply.text, buttons)
        except StopSending:
            return "blocked"
        except TelegramError as exc:
            log.warning("a reminder failed: %s", type(exc).__name__)
            return "failed"
        return "sent"

    async def stop_reminders(self, update: Update, kind: str) -> None:
        user_id = update.effective_user.id
        session = await self.sessions.get(user_id)
        if session is None:
            stored = await self.sessions.stored(user_id)
            session = stored.session if stored else engine.new_session(self.dialogue())
        stopped = replace(session, variables=freeze({**session.variables, **stop_variables(kind)}))
        await self.sessions.put(user_id, stopped)
        await self.sender.send_quietly(update.effective_chat.id, self.text("reminders_stopped"))
