"""The team's studio accounts, their sessions and the login rate limit.

Accounts live in a small JSON file the config names (mode 0600), never in the parents'
database: ``{"users": {"name": {"hash": "$argon2id$..."}}}``. Passwords are hashed with
argon2-cffi (Argon2id, the library's recommended parameters). Sessions are held in memory
on the server: a random id in an HttpOnly, SameSite=Strict cookie, a CSRF token the page
sends with every change, an idle expiry and an absolute one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# Verifying against this when the name is unknown takes as long as a real check.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(Exception):
    """A problem with an account or the accounts file, phrased for the deployer."""


def read_accounts(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise AccountError(f"cannot read the studio accounts file {path}: {exc}") from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise AccountError(f'{path}: expected {{"users": {{...}}}}')
    return users


def write_accounts(path: Path, users: dict[str, dict]) -> None:
    from bot.studio.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps({"users": users}, indent=2, sort_keys=True) + "\n").encode())
    os.chmod(path, 0o600)


def add_user(path: Path, name: str, password: str) -> bool:
    """Add or change an account. Returns True if it was new."""
    if not USER_NAME.match(name):
        raise AccountError(
            "a user name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
    users = read_accounts(path)
    new = name not in users
    users[name] = {"hash": _hasher.hash(password)}
    write_accounts(path, users)
    return new


def remove_user(path: Path, name: str) -> bool:
    users = read_accounts(path)
    if name not in users:
        return False
    del users[name]
    write_accounts(path, users)
    return True


def check_password(path: Path, name: str, password: str) -> bool:
    users = read_accounts(path)
    stored = users.get(name, {}).get("hash") if isinstance(users.get(name), dict) else None
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass
class StudioSession:
    user: str
    csrf: str
    created: float
    last_seen: float
    player: dict = field(default_factory=dict)  # the play-through in progress, if any


class Sessions:
    """Server-side sessions with idle and absolute expiry."""

    def __init__(
        self,
        idle_seconds: float = 3600,
        absolute_seconds: float = 12 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle = idle_seconds
        self.absolute = absolute_seconds
        self.clock = clock
        self._by_id: dict[str, StudioSession] = {}

    def create(self, user: str) -> tuple[str, StudioSession]:
        self._expire()
        now = self.clock()
        sid = secrets.token_urlsafe(32)
        session = StudioSession(user, secrets.token_urlsafe(32), now, now)
        self._by_id[sid] = session
        return sid, session

    def get(self, sid: str | None) -> StudioSession | None:
        if not sid:
            return None
        session = self._by_id.get(sid)
        if session is None:
            return None
        now = self.clock()
        if now - session.last_seen > self.idle or now - session.created > self.absolute:
            del self._by_id[sid]
            return None
        session.last_seen = now
        return session

    def end(self, sid: str | None) -> None:
        with contextlib.suppress(KeyError, TypeError):
            del self._by_id[sid]

    def _expire(self) -> None:
        now = self.clock()
        for sid, s in list(self._by_id.items()):
            if now - s.last_seen > self.idle or now - s.created > self.absolute:
                del self._by_id[sid]


class LoginLimiter:
    """At most ``attempts`` failed logins per name and per address in ``window`` seconds."""

    def __init__(
        self, attempts: int = 5, window: float = 300, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: dict[str, list[float]] = {}

    def _recent(self, key: str) -> list[float]:
        now = self.clock()
        times = [t for t in self._failures.get(key, []) if now - t < self.window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def blocked(self, *keys: str) -> bool:
        return any(len(self._recent(k)) >= self.attempts for k in keys)

    def failed(self, *keys: str) -> None:
        for k in keys:
            self._failures.setdefault(k, []).append(self.clock())

    def succeeded(self, *keys: str) -> None:
        for k in keys:
            self._failures.pop(k, None)
