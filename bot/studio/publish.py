"""Publish a clean draft to the live dialogue folder, keep every version, roll back.

The studio beside the live bot edits a draft copy. Publish checks the draft exactly as
``babyloss-bot validate --strict`` and ``babyloss-bot test`` would, copies its files over
the live ones (each replaced atomically), keeps the version, then asks the running bot to
reload: the same reload SIGHUP and /reload use, so parents mid-conversation are safe.

A version is a git commit when the live folder is inside a git repository, otherwise a
numbered copy in the versions folder (``0001/``, ``0002/``... each with ``version.json``).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.studio.files import copy_folder, folder_files, sync_folder
from bot.studio.project import Project

Reload = Callable[[], tuple[bool, str]]


class PublishError(Exception):
    pass


@dataclass
class Outcome:
    ok: bool
    message: str
    version: str | None = None
    problems: list | None = None
    tests: dict | None = None
    changed: list | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _git(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-C", str(folder), *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def git_root(folder: Path) -> Path | None:
    if shutil.which("git") is None:
        return None
    try:
        out = _git(folder, "rev-parse", "--show-toplevel", check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


class Publisher:
    def __init__(
        self, draft: Path, live: Path, versions: Path, reload: Reload | None = None
    ) -> None:
        self.draft = draft
        self.live = live
        self.versions = versions
        self.reload = reload
        self.repo = git_root(live)

    # -- The draft --------------------------------------------------------------------
    def ensure_draft(self) -> None:
        """Start the draft as a copy of what is live, if there is none yet."""
        if not self.draft.exists() or not any(self.draft.iterdir()):
            copy_folder(self.live, self.draft)

    # -- Versions ---------------------------------------------------------------------
    def list_versions(self) -> list[dict]:
        """Newest first: id, who, when, what."""
        if self.repo:
            out = _git(
                self.live,
                "log",
                "--format=%H%x1f%an%x1f%aI%x1f%s",
                "-n",
                "50",
                "--",
                ".",
                check=False,
            )
            rows = []
            for line in out.stdout.splitlines():
                sha, who, when, subject = line.split("\x1f", 3)
                rows.append(
                    {"id": sha, "short": sha[:10], "who": who, "when": when, "what": subject}
                )
            return rows
        rows = []
        if self.versions.is_dir():
            for d in sorted(self.versions.iterdir(), reverse=True):
                meta = d / "version.json"
                if d.is_dir() and d.name.isdigit() and meta.is_file():
                    info = json.loads(meta.read_text(encoding="utf-8"))
                    rows.append({"id": d.name, "short": d.name, **info})
        return rows

    def _keep(self, user: str, what: str) -> str:
        if self.repo:
            _git(self.live, "add", "-A", "--", ".")
            staged = _git(self.live, "diff", "--cached", "--quiet", "--", ".", check=False)
            if staged.returncode == 0:
                return _git(self.live, "rev-parse", "HEAD").stdout.strip()
            ident = f"{user} <{user}@studio.invalid>"
            _git(
                self.live,
                "-c",
                f"user.name={user}",
                "-c",
                f"user.email={user}@studio.invalid",
                "commit",
                "-q",
                "--author",
                ident,
                "-m",
                what,
                "--",
                ".",
            )
            return _git(self.live, "rev-parse", "HEAD").stdout.strip()
        self.versions.mkdir(parents=True, exist_ok=True)
        numbers = [int(d.name) for d in self.versions.iterdir() if d.name.isdigit()]
        number = f"{(max(numbers) if numbers else 0) + 1:04d}"
        target = self.versions / number
        tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=self.versions))
        copy_folder(self.live, tmp / "files")
        (tmp / "version.json").write_text(
            json.dumps({"who": user, "when": _now(), "what": what}) + "\n", encoding="utf-8"
        )
        tmp.rename(target)
        return number

    def ensure_first_version(self) -> None:
        """So that what was live before the studio's first publish can be restored."""
        if not self.repo and not self.list_versions():
            self._keep("(before the studio)", "What was live when the studio started")

    # -- Publish and roll back -----------------------------------------------------------
    def publish(self, user: str) -> Outcome:
        clean, problems, tests = Project(self.draft).strict_check()
        if not clean:
            errors = [p for p in problems if p["severity"] == "error"]
            why = []
            if errors:
                why.append(f"{len(errors)} error(s)")
            if len(problems) > len(errors):
                why.append(f"{len(problems) - len(errors)} warning(s)")
            if tests.get("failures"):
                why.append(f"{len(tests['failures'])} failing conversation test(s)")
            if tests.get("problems"):
                why.append(f"{len(tests['problems'])} problem(s) in the tests")
            return Outcome(
                False,
                "Not published: the draft has " + ", ".join(why or ["problems"]) + ". "
                "Nothing live has changed.",
                problems=problems,
                tests=tests,
            )
        changed = sync_folder(self.draft, self.live)
        if not changed:
            return Outcome(
                True, "Nothing to publish: the draft is the same as what is live.", changed=[]
            )
        version = self._keep(user, f"Studio: published by {user} ({len(changed)} file(s))")
        message = self._reload(f"Published version {version[:10]}")
        return Outcome(True, message, version=version, changed=changed)

    def rollback(self, user: str, version: str) -> Outcome:
        known = {v["id"]: v for v in self.list_versions()}
        if version not in known:
            return Outcome(False, f"There is no version '{version}'.")
        if self.repo:
            _git(self.live, "restore", f"--source={version}", "--staged", "--worktree", "--", ".")
            changed = [
                line
                for line in _git(
                    self.live, "diff", "--cached", "--name-only", "--", "."
                ).stdout.splitlines()
            ]
        else:
            changed = sync_folder(self.versions / version / "files", self.live)
        new = self._keep(user, f"Studio: rolled back to {version[:10]} by {user}")
        sync_folder(self.live, self.draft)  # the draft starts again from what is live
        message = self._reload(f"Rolled back to {version[:10]} (now version {new[:10]})")
        return Outcome(True, message, version=new, changed=changed)

    def _reload(self, what: str) -> str:
        if self.reload is None:
            return f"{what}. No running bot to reload."
        ok, summary = self.reload()
        if not ok:
            raise PublishError(f"{what}, but the bot refused to reload it: {summary}")
        return f"{what}. {summary}"

    def live_files(self) -> dict[str, Path]:
        return folder_files(self.live)
