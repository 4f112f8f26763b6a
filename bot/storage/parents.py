"""Parents' sessions: in memory for everyone, in SQLite only for those who said yes.

A session is written to disk only while its ``remember`` variable is "yes" (set by the
consent question in the dialogue). Saying "no" later deletes what was kept. Each write is
committed before the reply that depends on it is sent.
"""

from __future__ import annotations

import datetime as dt

from bot.dialogue.engine import Session
from bot.dialogue.reminders import PREFERENCE_VARIABLES
from bot.storage.database import Database, StoredParent
from bot.storage.sessions import MemorySessions

CONSENT_VARIABLE = "remember"


def has_consent(session: Session) -> bool:
    return str(session.variables.get(CONSENT_VARIABLE, "")).lower() in ("yes", "true")


def withdrew_consent(session: Session) -> bool:
    return str(session.variables.get(CONSENT_VARIABLE, "")).lower() in ("no", "false")


class ParentSessions:
    def __init__(
        self, memory: MemorySessions, db: Database | None, privacy_version: str = "1"
    ) -> None:
        self.memory = memory
        self.db = db
        self.privacy_version = privacy_version
        self._stored: set[int] = set()  # ids with a row on disk, learnt this run (memory only)
        self._last_variables: dict[int, dict] = {}  # to notice changed reminder choices
        self.reminders = None  # set by the service when reminders are on (Reminders)

    async def get(self, user_id: int) -> Session | None:
        return await self.memory.get(user_id)

    async def stored(self, user_id: int) -> StoredParent | None:
        if self.db is None:
            return None
        parent = await self.db.load(user_id)
        if parent is not None:
            self._stored.add(user_id)
            self._last_variables[user_id] = dict(parent.session.variables)
        return parent

    async def put(self, user_id: int, session: Session, when: dt.datetime | None = None) -> None:
        await self.memory.put(user_id, session)
        if self.db is None:
            return
        if has_consent(session):
            await self.db.save(user_id, session, self.privacy_version, when)
            self._stored.add(user_id)
            before = self._last_variables.get(user_id, {})
            after = dict(session.variables)
            self._last_variables[user_id] = after
            if self.reminders is not None and any(
                before.get(k) != after.get(k) for k in PREFERENCE_VARIABLES
            ):
                await self.reminders.sync(user_id, before, after)
        elif user_id in self._stored and withdrew_consent(session):
            await self.db.forget(user_id)  # "no" after "yes": consent withdrawn, data gone
            self._stored.discard(user_id)
            self._last_variables.pop(user_id, None)

    async def forget(self, user_id: int) -> bool:
        in_memory = await self.memory.forget(user_id)
        on_disk = await self.db.forget(user_id) if self.db else False
        self._stored.discard(user_id)
        self._last_variables.pop(user_id, None)
        return in_memory or on_disk

    def __len__(self) -> int:
        return len(self.memory)

    def expire(self) -> int:
        expired = self.memory.expire()
        for user_id in [u for u in self._last_variables if not self.memory.has(u)]:
            del self._last_variables[user_id]  # reloaded from the database when they return
        return expired
