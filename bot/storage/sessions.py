"""Where parents' sessions live while the bot runs.

Without consent a session exists only in memory and is forgotten after an idle time
(default 24 hours). Nothing here touches the disk; opt-in storage wraps this interface.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.dialogue.engine import Session


class MemorySessions:
    """Sessions by Telegram user id, in memory only, expiring when idle."""

    def __init__(self, idle_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._sessions: dict[int, tuple[Session, float]] = {}

    async def get(self, key: int) -> Session | None:
        entry = self._sessions.get(key)
        if entry is None:
            return None
        session, seen = entry
        if self.clock() - seen > self.idle_seconds:
            del self._sessions[key]
            return None
        return session

    async def put(self, key: int, session: Session) -> None:
        self._sessions[key] = (session, self.clock())

    async def forget(self, key: int) -> bool:
        return self._sessions.pop(key, None) is not None

    def expire(self) -> int:
        """Drop idle sessions; returns how many were dropped."""
        now = self.clock()
        old = [k for k, (_, seen) in self._sessions.items() if now - seen > self.idle_seconds]
        for key in old:
            del self._sessions[key]
        return len(old)

    def __len__(self) -> int:
        return len(self._sessions)

    def has(self, key: int) -> bool:
        return key in self._sessions

    def nodes(self) -> list[str | None]:
        """Where current parents are, without who they are (for anonymous stats)."""
        return [s.node for s, _ in self._sessions.values()]
