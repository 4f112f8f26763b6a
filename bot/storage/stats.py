"""Anonymous figures for the charity team: counts only, never an id or a word a parent typed.

The same numbers back the admin command /stats and ``babyloss-bot stats``. The database is
opened read-only, so this is safe while the bot runs.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from bot.dialogue.model import Dialogue
from bot.storage.database import StorageError, check_file


def database_stats(path: str | Path) -> dict:
    """Remembered parents, visits per node and reminders by outcome, from the database."""
    path = Path(path)
    check_file(path)
    if not path.exists():
        return {"remembered_parents": 0, "visits": {}, "reminders": {}}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        with contextlib.closing(conn):
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            parents = (
                conn.execute("SELECT count(*) FROM parents").fetchone()[0]
                if "parents" in tables
                else 0
            )
            visits = (
                dict(conn.execute("SELECT node, visits FROM node_visits"))
                if "node_visits" in tables
                else {}
            )
            reminders = (
                dict(conn.execute("SELECT status, count(*) FROM reminders GROUP BY status"))
                if "reminders" in tables
                else {}
            )
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: cannot be read ({exc})") from None
    return {"remembered_parents": parents, "visits": visits, "reminders": reminders}


def milestones(dialogue: Dialogue | None, visits: dict[str, int]) -> dict[str, int]:
    """How many times parents reached each node marked `milestone:` (completed paths)."""
    out: dict[str, int] = {}
    if dialogue is None:
        return out
    for node in dialogue.nodes.values():
        if node.milestone:
            out[node.milestone] = out.get(node.milestone, 0) + visits.get(node.id, 0)
    return out


def format_stats(
    stats: dict, dialogue: Dialogue | None, *, active_sessions: int | None = None, top: int = 15
) -> str:
    lines = []
    if dialogue is not None:
        lines.append(f"Dialogue version {dialogue.version} ({len(dialogue.nodes)} nodes)")
    if active_sessions is not None:
        lines.append(f"Conversations active now: {active_sessions}")
    lines.append(f"Parents who asked to be remembered: {stats['remembered_parents']}")
    reached = milestones(dialogue, stats["visits"])
    if reached:
        lines.append(
            "Paths completed: " + ", ".join(f"{k} {v}" for k, v in sorted(reached.items()))
        )
    reminders = stats["reminders"]
    if reminders:
        lines.append("Reminders: " + ", ".join(f"{k} {v}" for k, v in sorted(reminders.items())))
    visits = sorted(stats["visits"].items(), key=lambda kv: (-kv[1], kv[0]))
    if visits:
        lines.append(
            f"Most visited ({min(top, len(visits))} of {len(visits)} nodes): "
            + ", ".join(f"{n} {c}" for n, c in visits[:top])
        )
    else:
        lines.append("No visits recorded yet.")
    return "\n".join(lines)
