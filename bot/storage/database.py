"""Opt-in memory in SQLite: only parents who said "yes, remember me" are ever written here.

The database is created with mode 0600, runs in WAL mode with ``secure_delete`` on, and
is migrated at start (``PRAGMA user_version``). A corrupt, unreadable or newer database is
refused with a message naming the file; it is never recreated or overwritten. Anonymous
counters (visits per node, no ids) are the only thing kept about everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from bot.dialogue.engine import Session

log = logging.getLogger("babyloss.storage")

SQLITE_HEADER = b"SQLite format 3\x00"

# Insert or update a remembered parent; consent_at changes only with the privacy version.
SAVE_SQL = (
    "INSERT INTO parents (user_key, user_id, consent_at, privacy_version, last_active, "
    "session) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_key) DO UPDATE SET "
    "last_active = excluded.last_active, session = excluded.session, blocked_at = NULL, "
    "privacy_version = excluded.privacy_version, "
    "consent_at = CASE WHEN parents.privacy_version = excluded.privacy_version "
    "THEN parents.consent_at ELSE excluded.consent_at END"
)

# Each entry moves the schema from version i to i + 1. Never edit a released step: add one.
MIGRATIONS: list[str] = [
    # 1: parents who opted in, their session as JSON and the consent record. Rows are found
    # by a keyed hash of the Telegram id, never the id itself: B-tree pages keep copies of
    # keys as dividers even after a row is deleted, and those must not be the parent's id.
    """
    CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
    INSERT INTO meta (name, value) VALUES ('key_secret', randomblob(32));
    CREATE TABLE parents (
        user_key TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL,
        consent_at TEXT NOT NULL,
        privacy_version TEXT NOT NULL,
        last_active TEXT NOT NULL,
        session TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 2: anonymous visit counts per node; an index for the retention job.
    """
    CREATE TABLE node_visits (node TEXT PRIMARY KEY, visits INTEGER NOT NULL);
    CREATE INDEX parents_last_active ON parents (last_active);
    """,
    # 3: reminders parents asked for (deleted with the parent), and who blocked the bot.
    # status: pending -> claimed (just before sending) -> sent | failed | blocked |
    # skipped (parent blocked the bot) | dropped (missed while the bot was down).
    """
    ALTER TABLE parents ADD COLUMN blocked_at TEXT;
    CREATE TABLE reminders (
        user_key TEXT NOT NULL REFERENCES parents (user_key) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        due_utc TEXT NOT NULL,
        zone TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        PRIMARY KEY (user_key, kind, due_utc)
    ) WITHOUT ROWID;
    CREATE INDEX reminders_due ON reminders (status, due_utc);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class StorageError(Exception):
    """The database cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class StoredParent:
    user_id: int
    consent_at: str
    privacy_version: str
    last_active: str
    session: Session

    def export(self) -> dict:
        """Everything stored about this parent, in words they can read."""
        return {
            "what_this_is": "Everything babyloss-bot keeps about you, because you asked it to "
            "remember you. Send /forget to delete it all.",
            "telegram_user_id": self.user_id,
            "you_agreed_on": self.consent_at,
            "privacy_text_version_you_agreed_to": self.privacy_version,
            "your_last_visit": self.last_active,
            "where_you_are_in_the_conversation": self.session.node,
            "your_choices": dict(self.session.variables),
            "language": self.session.language,
            "recent_steps_for_the_back_button": list(self.session.history),
        }


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def check_file(path: Path) -> None:
    """Refuse a file that exists but is not a SQLite database we can read."""
    if not path.exists():
        return
    if path.is_dir():
        raise StorageError(f"{path}: is a folder, not a database file (check storage.path)")
    try:
        with path.open("rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StorageError(
            f"{path}: cannot be read ({exc.strerror}); check its owner and permissions"
        ) from None
    if header and header != SQLITE_HEADER:
        raise StorageError(
            f"{path}: is not a SQLite database (it may be corrupt, or the wrong "
            "file). The bot will not overwrite it: move it aside or fix "
            "storage.path"
        )


def _serialised(method):
    """One operation at a time on the shared connection. Without this, a statement from one
    parent's step could run inside another's open transaction and share its fate."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        async with self._lock:
            return await method(self, *args, **kwargs)

    return wrapper


class Database:
    """One aiosqlite connection; every write is its own committed transaction."""

    def __init__(self, path: Path, conn: aiosqlite.Connection) -> None:
        self.path = path
        self.conn = conn
        self._secret = b""
        self._lock = asyncio.Lock()
        # Group commit: saves that arrive while a transaction is being written wait for the
        # next one, so many parents' steps share one commit (and one fsync).
        self._waiting_saves: list[tuple[tuple, asyncio.Future]] = []
        self._saver: asyncio.Task | None = None

    def key(self, user_id: int) -> str:
        return hmac.new(self._secret, str(user_id).encode(), hashlib.sha256).hexdigest()

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        path = Path(path)
        check_file(path)
        if not path.exists() or path.stat().st_size == 0:
            try:
                if not path.parent.exists():  # said, so a mistyped storage.path is noticed
                    log.info("creating the folder %s for the database", path.parent)
                path.parent.mkdir(parents=True, exist_ok=True)
                # Create it private before SQLite opens it: 0600, whatever the umask.
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
            except OSError as exc:
                raise StorageError(f"{path}: cannot create the database ({exc.strerror})") from None
        old_umask = os.umask(0o077)  # the -wal and -shm files are private too
        try:
            conn = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"{path}: cannot open the database ({exc})") from None
        finally:
            os.umask(old_umask)
        db = cls(path, conn)
        try:
            await db._prepare()
        except sqlite3.DatabaseError as exc:
            await conn.close()
            raise StorageError(
                f"{path}: the database is damaged ({exc}). The bot will not "
                "overwrite it: restore a backup (babyloss-bot backup) or move it "
                "aside"
            ) from None
        except StorageError:
            await conn.close()
            raise
        return db

    async def _prepare(self) -> None:
        c = self.conn
        # Look before touching anything: a file we refuse must stay exactly as it was
        # (even switching to WAL would rewrite its header).
        rows = await (await c.execute("PRAGMA integrity_check")).fetchall()
        if [r[0] for r in rows] != ["ok"]:
            detail = "; ".join(str(r[0]) for r in rows[:3])
            raise StorageError(
                f"{self.path}: integrity check failed ({detail}). The bot will "
                "not use or overwrite it: restore a backup"
            )
        (version,) = await (await c.execute("PRAGMA user_version")).fetchone()
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path}: was written by a newer babyloss-bot (schema "
                f"{version}, this one knows up to {SCHEMA_VERSION}). Upgrade "
                "the bot; the file has not been changed"
            )
        await c.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten with zeros
        await c.execute("PRAGMA foreign_keys = ON")
        (mode,) = await (await c.execute("PRAGMA journal_mode = WAL")).fetchone()
        if str(mode).lower() != "wal":
            raise StorageError(f"{self.path}: could not switch to WAL mode (got {mode})")
        # FULL: a committed step survives a crash of the machine, not only of the bot.
        await c.execute("PRAGMA synchronous = FULL")
        await c.execute("PRAGMA busy_timeout = 5000")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            await c.executescript(
                f"BEGIN; {MIGRATIONS[target - 1]} PRAGMA user_version = {target}; COMMIT;"
            )
        row = await (await c.execute("SELECT value FROM meta WHERE name = 'key_secret'")).fetchone()
        self._secret = bytes(row[0])

    async def close(self) -> None:
        if self._saver is not None:
            await asyncio.wait([self._saver])  # every save asked for is committed first
        await self.conn.close()

    @_serialised
    async def version(self) -> int:
        (version,) = await (await self.conn.execute("PRAGMA user_version")).fetchone()
        return version

    @_serialised
    async def ping(self) -> bool:
        await (await self.conn.execute("SELECT 1")).fetchone()
        return True

    # -- Parents ---------------------------------------------------------------------
    @_serialised
    async def load(self, user_id: int) -> StoredParent | None:
        cursor = await self.conn.execute(
            "SELECT user_id, consent_at, privacy_version, last_active, session "
            "FROM parents WHERE user_key = ?",
            (self.key(user_id),),
        )
        row = await cursor.fetchone()
        if row is None:
            return None
        return StoredParent(row[0], row[1], row[2], row[3], Session.from_dict(json.loads(row[4])))

    async def save(
        self, user_id: int, session: Session, privacy_version: str, when: dt.datetime | None = None
    ) -> None:
        """Insert or update, committed before this returns (consent time set once).

        Saves made at the same moment by different parents are committed together in one
        transaction; each caller still returns only once its own row is committed."""
        moment = _iso(when or now_utc())
        row = (
            self.key(user_id),
            user_id,
            moment,
            privacy_version,
            moment,
            json.dumps(session.to_dict()),
        )
        done = asyncio.get_running_loop().create_future()
        self._waiting_saves.append((row, done))
        if self._saver is None or self._saver.done():
            # A task of its own, so a caller that is cancelled never strands the others.
            self._saver = asyncio.create_task(self._write_waiting_saves())
        await asyncio.shield(done)

    async def _write_waiting_saves(self) -> None:
        while self._waiting_saves:
            batch, self._waiting_saves = self._waiting_saves, []
            try:
                async with self._lock:
                    try:
                        await self._commit_rows([row for row, _ in batch])
                        outcomes: list[BaseException | None] = [None] * len(batch)
                    except sqlite3.Error:
                        # One bad row must not fail its neighbours: try each on its own.
                        outcomes = [await self._commit_one(row) for row, _ in batch]
            except Exception as exc:  # e.g. the connection is gone: nobody's row is saved
                outcomes = [exc] * len(batch)
            except BaseException:  # cancelled while writing: say so rather than hang
                for _, done in batch + self._waiting_saves:
                    if not done.done():
                        done.set_exception(StorageError("not saved: the bot is stopping"))
                self._waiting_saves = []
                raise
            for (_, done), error in zip(batch, outcomes, strict=True):
                if done.done():
                    continue
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)

    async def _commit_rows(self, rows: list[tuple]) -> None:
        if len(rows) == 1:  # autocommit: one statement is its own transaction
            await self.conn.execute(SAVE_SQL, rows[0])
            return
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            await self.conn.executemany(SAVE_SQL, rows)
            await self.conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await self.conn.execute("ROLLBACK")
            raise

    async def _commit_one(self, row: tuple) -> BaseException | None:
        try:
            await self.conn.execute(SAVE_SQL, row)
        except sqlite3.Error as exc:
            return exc
        return None

    @_serialised
    async def forget(self, user_id: int) -> bool:
        """Delete every row about this parent and leave no copy in the WAL file."""
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = await self.conn.execute(
                "DELETE FROM parents WHERE user_key = ?", (self.key(user_id),)
            )
            deleted = cursor.rowcount > 0
            await self.conn.execute("COMMIT")
        except BaseException:
            await self.conn.execute("ROLLBACK")
            raise
        await self._checkpoint()
        return deleted

    @_serialised
    async def checkpoint(self) -> None:
        await self._checkpoint()

    async def _checkpoint(self) -> None:
        # Copy the WAL into the database and truncate it, so deleted pages live nowhere else.
        await self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @_serialised
    async def delete_inactive(self, older_than_days: int, now: dt.datetime | None = None) -> int:
        cutoff = _iso((now or now_utc()) - dt.timedelta(days=older_than_days))
        cursor = await self.conn.execute("DELETE FROM parents WHERE last_active < ?", (cutoff,))
        count = cursor.rowcount
        if count:
            await self._checkpoint()
        return count

    # -- Reminders ---------------------------------------------------------------------
    @_serialised
    async def pending_reminders(self, user_id: int) -> dict[str, tuple[str, str]]:
        """kind -> (due_utc, zone) of this parent's reminders still to send."""
        rows = await (
            await self.conn.execute(
                "SELECT kind, due_utc, zone FROM reminders WHERE user_key = ? AND status = "
                "'pending'",
                (self.key(user_id),),
            )
        ).fetchall()
        return {kind: (due, zone) for kind, due, zone in rows}

    @_serialised
    async def set_reminders(
        self, user_id: int, wanted: dict[str, tuple[dt.datetime, str]], keep: Iterable[str] = ()
    ) -> None:
        """Make this parent's pending reminders exactly ``wanted`` (kind -> (due, zone)),
        leaving the kinds in ``keep`` as they are. One transaction."""
        key = self.key(user_id)
        keep = set(keep)
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            rows = await (
                await self.conn.execute(
                    "SELECT kind, due_utc, zone FROM reminders WHERE user_key = ? AND "
                    "status = 'pending'",
                    (key,),
                )
            ).fetchall()
            current = {kind: (due, zone) for kind, due, zone in rows}
            for kind, (due, zone) in current.items():
                target = wanted.get(kind)
                if kind in keep or (target and (_iso(target[0]), target[1]) == (due, zone)):
                    continue
                await self.conn.execute(
                    "DELETE FROM reminders WHERE user_key = ? AND kind = ? AND due_utc = ?",
                    (key, kind, due),
                )
            for kind, (due, zone) in wanted.items():
                if kind in keep and kind in current:
                    continue
                await self.conn.execute(
                    "INSERT OR IGNORE INTO reminders (user_key, kind, due_utc, zone) "
                    "VALUES (?, ?, ?, ?)",
                    (key, kind, _iso(due), zone),
                )
            await self.conn.execute("COMMIT")
        except BaseException:
            await self.conn.execute("ROLLBACK")
            raise

    @_serialised
    async def claim_due(self, now: dt.datetime, limit: int = 500) -> list[dict]:
        """Mark up to ``limit`` due reminders as claimed, committed, and return them. A claimed
        reminder is never sent again, even if the bot dies before it is confirmed: at most
        once is the promise."""
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            rows = await (
                await self.conn.execute(
                    "SELECT r.user_key, p.user_id, r.kind, r.due_utc, r.zone, p.blocked_at, "
                    "p.session FROM reminders r JOIN parents p USING (user_key) "
                    "WHERE r.status = 'pending' AND r.due_utc <= ? ORDER BY r.due_utc LIMIT ?",
                    (_iso(now), limit),
                )
            ).fetchall()
            await self.conn.executemany(
                "UPDATE reminders SET status = 'claimed' WHERE user_key = ? AND kind = ? "
                "AND due_utc = ?",
                [(r[0], r[2], r[3]) for r in rows],
            )
            await self.conn.execute("COMMIT")
        except BaseException:
            await self.conn.execute("ROLLBACK")
            raise
        return [
            {
                "user_key": r[0],
                "user_id": r[1],
                "kind": r[2],
                "due": dt.datetime.fromisoformat(r[3]),
                "zone": r[4],
                "blocked": bool(r[5]),
                "session": Session.from_dict(json.loads(r[6])),
            }
            for r in rows
        ]

    @_serialised
    async def finish_reminder(
        self, claimed: dict, status: str, following: dt.datetime | None = None
    ) -> None:
        """Record how a claimed reminder ended, and schedule the next one of a yearly kind."""
        await self.conn.execute(
            "UPDATE reminders SET status = ? WHERE user_key = ? AND kind = ? AND due_utc = ?",
            (status, claimed["user_key"], claimed["kind"], _iso(claimed["due"])),
        )
        if following is not None:
            await self.conn.execute(
                "INSERT OR IGNORE INTO reminders (user_key, kind, due_utc, zone) "
                "VALUES (?, ?, ?, ?)",
                (claimed["user_key"], claimed["kind"], _iso(following), claimed["zone"]),
            )

    @_serialised
    async def mark_blocked(self, user_id: int, blocked: bool = True) -> None:
        await self.conn.execute(
            "UPDATE parents SET blocked_at = ? WHERE user_key = ?",
            (_iso(now_utc()) if blocked else None, self.key(user_id)),
        )

    @_serialised
    async def reminder_counts(self) -> dict[str, int]:
        rows = await (
            await self.conn.execute("SELECT status, count(*) FROM reminders GROUP BY status")
        ).fetchall()
        return dict(rows)

    @_serialised
    async def count_parents(self) -> int:
        (n,) = await (await self.conn.execute("SELECT count(*) FROM parents")).fetchone()
        return n

    # -- Anonymous counters ----------------------------------------------------------
    @_serialised
    async def add_visits(self, visits: Iterable[tuple[str, int]]) -> None:
        await self.conn.executemany(
            "INSERT INTO node_visits (node, visits) VALUES (?, ?) ON CONFLICT (node) "
            "DO UPDATE SET visits = visits + excluded.visits",
            list(visits),
        )

    @_serialised
    async def visits(self) -> dict[str, int]:
        rows = await (
            await self.conn.execute(
                "SELECT node, visits FROM node_visits ORDER BY visits DESC, node"
            )
        ).fetchall()
        return dict(rows)


def inspect_database(path: str | Path) -> str:
    """For --check: is the file usable? Reads only; never creates, migrates or repairs."""
    path = Path(path)
    check_file(path)
    if not path.exists():
        made_folder = _try_creating(path)
        return f"{path} will be created on first start" + (
            " (folder created then)" if made_folder else ""
        )
    if not os.access(path, os.R_OK | os.W_OK) or not os.access(path.parent, os.W_OK):
        # SQLite also needs the folder: it writes the -wal and -shm files beside the database.
        raise StorageError(
            f"{path}: the file or its folder is not writable by this user; check their owner"
        )
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        with contextlib.closing(conn):
            (check,) = conn.execute("PRAGMA integrity_check").fetchone()
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            parents = 0
            if version >= 1:
                (parents,) = conn.execute("SELECT count(*) FROM parents").fetchone()
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: cannot be read as a database ({exc})") from None
    if check != "ok":
        raise StorageError(f"{path}: integrity check failed ({check})")
    if version > SCHEMA_VERSION:
        raise StorageError(f"{path}: was written by a newer babyloss-bot (schema {version})")
    pending = SCHEMA_VERSION - version
    mode = path.stat().st_mode & 0o777
    return (
        f"{path} ok, schema {version}"
        + (f" ({pending} migration(s) will run at start)" if pending else "")
        + f", {parents} remembered parent(s)"
        + (
            f"; warning: other users may read it (mode {mode:o}): chmod 600 {path}"
            if mode & 0o077
            else ""
        )
    )


def _try_creating(path: Path) -> bool:
    """Do what Database.open will do for a new file (folders, then the file, 0600) and undo
    it, so --check fails exactly where run would. Returns whether folders were missing."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
            os.unlink(path)
        finally:
            for folder in missing:  # innermost first
                with contextlib.suppress(OSError):
                    folder.rmdir()
    except OSError as exc:
        raise StorageError(f"{path}: cannot create the database ({exc.strerror})") from None
    return bool(missing)


def backup(source: str | Path, destination: str | Path) -> int:
    """A consistent copy of a live database (SQLite's online backup API). Returns pages."""
    source, destination = Path(source), Path(destination)
    check_file(source)
    if not source.exists():
        raise StorageError(f"{source}: no such database")
    if destination.exists():
        raise StorageError(f"{destination}: already exists; choose a new file name")
    if not destination.parent.is_dir():
        raise StorageError(f"{destination.parent}: no such folder; create it first")
    try:
        fd = os.open(destination, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise StorageError(f"{destination}: cannot be written ({exc.strerror})") from None
    os.close(fd)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(destination)
        with contextlib.closing(src), contextlib.closing(dst):
            src.backup(dst)
            (pages,) = dst.execute("PRAGMA page_count").fetchone()
            (check,) = dst.execute("PRAGMA integrity_check").fetchone()
        if check != "ok":
            raise StorageError(f"{destination}: the backup failed its integrity check")
        return pages
    except sqlite3.Error as exc:
        destination.unlink(missing_ok=True)
        raise StorageError(f"backup of {source} failed: {exc}") from None
