"""The SQLite store on real files: migrations, refusal of bad files, deletion without trace."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.dialogue.engine import Session
from bot.storage.database import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Database,
    StorageError,
    backup,
    inspect_database,
)

PARENT = 7_345_612_908  # a realistic Telegram id


def id_patterns(user_id: int) -> list[bytes]:
    """Every way the id could sit in a SQLite file: as text, or as a big-endian integer."""
    out = [str(user_id).encode()]
    for width in (4, 6, 8):
        if user_id < 256**width:
            out.append(user_id.to_bytes(width, "big"))
    return out


def raw_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


async def test_new_database_is_private_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    try:
        assert await db.version() == SCHEMA_VERSION
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        (mode,) = await (await db.conn.execute("PRAGMA journal_mode")).fetchone()
        assert mode == "wal"
        (secure,) = await (await db.conn.execute("PRAGMA secure_delete")).fetchone()
        assert secure == 1
        await db.save(PARENT, Session(node="menu"), "1")
        for extra in tmp_path.glob("bot.sqlite3-*"):
            assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0, extra
    finally:
        await db.close()


@pytest.mark.parametrize("start", range(SCHEMA_VERSION))
async def test_migrates_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for version in range(1, start + 1):
        conn.executescript(MIGRATIONS[version - 1] + f"PRAGMA user_version = {version};")
    if start >= 1:  # a parent stored by the older version must survive the upgrade
        conn.execute(
            "INSERT INTO parents VALUES ('k', 1, 't', '1', '2026-01-01', '{\"node\": \"menu\"}')"
        )
        conn.commit()
    conn.close()
    db = await Database.open(path)
    try:
        assert await db.version() == SCHEMA_VERSION
        assert await db.count_parents() == (1 if start >= 1 else 0)
        await db.add_visits([("menu", 2)])
        assert await db.visits() == {"menu": 2}
    finally:
        await db.close()


async def test_refuses_a_newer_database_and_leaves_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StorageError, match="newer babyloss-bot"):
        await Database.open(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "content", [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 5000]
)
async def test_refuses_a_corrupt_file_and_never_overwrites_it(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "broken.sqlite3"
    path.write_bytes(content)
    with pytest.raises(StorageError) as err:
        await Database.open(path)
    assert str(path) in str(err.value) and "will not" in str(err.value)
    assert path.read_bytes() == content
    with pytest.raises(StorageError):
        inspect_database(path)


async def test_refuses_an_unreadable_file(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        # root reads anything, so show the folder case instead: also a clear refusal.
        with pytest.raises(StorageError, match="is a folder"):
            await Database.open(tmp_path)
        return
    path = tmp_path / "locked.sqlite3"
    path.write_bytes(b"")
    path.chmod(0)
    with pytest.raises(StorageError, match="cannot be read"):
        await Database.open(path)


async def test_forget_leaves_no_byte_of_the_parent_in_the_files(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    secret_choice = "partner_feeling_purple_42"
    try:
        for other in range(1000, 1300):  # enough rows for interior B-tree pages
            await db.save(other, Session(node="menu", variables={"x": "y" * 50}), "1")
        for _ in range(3):
            await db.save(PARENT, Session(node="menu", variables={"feeling": secret_choice}), "1")
        assert secret_choice.encode() in raw_bytes(path)
        assert await db.forget(PARENT)
        assert await db.load(PARENT) is None
        data = raw_bytes(path)
        assert secret_choice.encode() not in data
        for pattern in id_patterns(PARENT):
            assert pattern not in data, pattern
        assert await db.count_parents() == 300  # nobody else was touched
    finally:
        await db.close()


async def test_consent_time_is_kept_until_the_privacy_text_changes(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        t1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        t2 = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
        await db.save(PARENT, Session(node="a"), "1", t1)
        await db.save(PARENT, Session(node="b"), "1", t2)
        parent = await db.load(PARENT)
        assert (
            parent.consent_at.startswith("2026-01-01")
            and parent.last_active.startswith("2026-02-01")
            and parent.session.node == "b"
        )
        await db.save(PARENT, Session(node="c"), "2", t2)
        assert (await db.load(PARENT)).consent_at.startswith("2026-02-01")
        export = (await db.load(PARENT)).export()
        assert export["telegram_user_id"] == PARENT
        assert export["where_you_are_in_the_conversation"] == "c"
    finally:
        await db.close()


async def test_retention_deletes_only_the_inactive(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    try:
        await db.save(1, Session(node="a"), "1", now - dt.timedelta(days=181))
        await db.save(2, Session(node="a"), "1", now - dt.timedelta(days=179))
        assert await db.delete_inactive(180, now) == 1
        assert await db.load(1) is None and await db.load(2) is not None
    finally:
        await db.close()


async def test_backup_while_the_database_is_in_use(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    try:
        for user in range(200):
            await db.save(user, Session(node="menu"), "1")
        pages = backup(path, tmp_path / "copy.sqlite3")
        await db.save(999, Session(node="menu"), "1")  # still writable afterwards
    finally:
        await db.close()
    assert pages > 0
    copy = tmp_path / "copy.sqlite3"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    conn = sqlite3.connect(copy)
    assert conn.execute("SELECT count(*) FROM parents").fetchone() == (200,)
    conn.close()
    with pytest.raises(StorageError, match="already exists"):
        backup(path, copy)


def test_inspect_does_not_create_or_migrate(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    assert "will be created" in inspect_database(path)
    assert not path.exists()
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    conn.close()
    assert f"{SCHEMA_VERSION - 1} migration(s) will run at start" in inspect_database(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (1,)
    conn.close()


async def test_saves_at_the_same_moment_share_commits_and_all_land(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    statements: list[str] = []
    try:
        await db.conn.set_trace_callback(statements.append)
        users = range(1_000, 1_050)
        await asyncio.gather(*(db.save(u, Session(node=f"n{u}"), "1") for u in users))
        await db.conn.set_trace_callback(None)
    finally:
        await db.close()
    commits = sum(1 for s in statements if s.strip().upper() == "COMMIT")
    assert 1 <= commits < 10, statements[:20]  # 50 parents, a handful of transactions
    # Every save that returned is on disk, as another connection sees it.
    db = await Database.open(path)
    try:
        for u in users:
            parent = await db.load(u)
            assert parent is not None and parent.session.node == f"n{u}"
    finally:
        await db.close()


async def test_one_failing_save_does_not_fail_the_others_in_its_commit(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        good = [db.save(u, Session(node="menu"), "1") for u in range(10)]
        bad = db.save(None, Session(node="menu"), "1")  # type: ignore[arg-type]  # NOT NULL
        results = await asyncio.gather(*good[:5], bad, *good[5:], return_exceptions=True)
        assert isinstance(results[5], sqlite3.IntegrityError)
        assert [r for i, r in enumerate(results) if i != 5] == [None] * 10
        assert await db.count_parents() == 10
    finally:
        await db.close()


async def test_close_waits_for_saves_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    tasks = [asyncio.create_task(db.save(u, Session(node="menu"), "1")) for u in range(20)]
    await asyncio.sleep(0)  # the saves are queued, not yet committed
    await db.close()
    assert all(t.done() and t.exception() is None for t in tasks)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM parents").fetchone() == (20,)
    conn.close()


async def test_a_save_cancelled_by_its_caller_is_still_committed(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    try:
        task = asyncio.create_task(db.save(PARENT, Session(node="menu"), "1"))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await db.close()
    db = await Database.open(path)
    try:
        assert (await db.load(PARENT)) is not None
    finally:
        await db.close()
