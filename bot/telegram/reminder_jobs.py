"""Keeping and sending the reminders parents asked for.

Preferences live in a parent's session (see bot.dialogue.reminders); whenever a remembered parent's
reminder choices change, their pending reminders in SQLite are brought in line. A JobQueue
job then claims due reminders (committed before anything is sent, so none goes twice even
if the bot dies halfway through a batch), sends them through the rate limiter, and records
how each ended. Reminders due while the bot was down go out on start only if it is still
the same day for the parent (the Wave of Light only within its hour).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable

from bot.dialogue.reminders import (
    CHECK_IN,
    YEARLY,
    next_due,
    still_sendable,
    wanted_kinds,
    zone_for,
)
from bot.storage.database import Database, now_utc

log = logging.getLogger("babyloss.reminders")
CONCURRENT_SENDS = 20


class Reminders:
    def __init__(
        self, db: Database, send: Callable, *, clock: Callable[[], dt.datetime] = now_utc
    ) -> None:
        """``send(user_id, session, kind)`` delivers one reminder and returns "sent",
        "blocked" or "failed"."""
        self.db = db
        self.send = send
        self.clock = clock
        self.totals: Counter = Counter()

    async def sync(self, user_id: int, old_variables, new_variables) -> None:
        """Bring a remembered parent's pending reminders in line with their choices."""
        now = self.clock()
        wanted = {}
        for kind in wanted_kinds(new_variables):
            due = next_due(kind, new_variables, now)
            if due is not None:
                wanted[kind] = (due.at, due.zone)
        # A check-in counts from when it was chosen: keep it unless the choice changed.
        keep = (
            [CHECK_IN]
            if old_variables.get("check_in") == new_variables.get("check_in")
            and zone_for(old_variables) == zone_for(new_variables)
            else []
        )
        await self.db.set_reminders(user_id, wanted, keep=keep)

    async def dispatch(self, context=None) -> Counter:
        """Send everything due now. Returns counts by outcome (also added to totals)."""
        outcome: Counter = Counter()

        async def worker() -> None:
            # Each worker claims one reminder at a time, so a crash leaves at most one
            # claimed-but-unconfirmed reminder per worker: those were being sent right then.
            while True:
                now = self.clock()
                batch = await self.db.claim_due(now, 1)
                if not batch:
                    return
                outcome[await self._deliver(batch[0], now)] += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENT_SENDS)))
        if outcome:
            log.info("reminders: %s", ", ".join(f"{n} {k}" for k, n in sorted(outcome.items())))
        self.totals.update(outcome)
        return outcome

    async def _deliver(self, claimed: dict, now: dt.datetime) -> str:
        kind, session = claimed["kind"], claimed["session"]
        following = None
        if kind in wanted_kinds(session.variables) and (kind in YEARLY or kind == "anniversary"):
            # Schedule next year's now, so a crash below cannot lose the whole series.
            due = next_due(kind, session.variables, max(now, claimed["due"]))
            following = due.at if due else None
        if claimed["blocked"]:
            status = "skipped"
        elif not still_sendable(kind, claimed["due"], claimed["zone"], now):
            status = "dropped"
        else:
            try:
                status = await self.send(claimed["user_id"], session, kind)
            except Exception:  # one parent's failure must not stop the others' reminders
                log.exception("a reminder could not be sent")
                status = "failed"
            if status == "blocked":
                await self.db.mark_blocked(claimed["user_id"])
        await self.db.finish_reminder(claimed, status, following)
        return status
