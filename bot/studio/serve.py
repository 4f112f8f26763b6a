"""Run the studio: on a volunteer's laptop (``babyloss-bot studio``) or beside the live bot.

On a laptop it listens on 127.0.0.1 only, edits the folder in place and signs the
volunteer in through a secret link it opens in their browser. Beside the bot (``studio:``
in the config) it needs named accounts, edits a draft copy, and publishes to the live
folder through the bot's own reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import secrets
import sys
import webbrowser
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.studio.publish import Publisher, Reload
from bot.studio.web import StudioSettings, build_app

log = logging.getLogger("babyloss.studio")


@dataclass(frozen=True)
class StudioConfig:
    """The ``studio:`` section of the bot's config file."""

    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = 8090
    accounts: Path = Path("studio-accounts.json")
    draft_path: Path | None = None  # default: <dialogues>.draft beside the live folder
    versions_path: Path | None = None  # default: <dialogues>.versions (without git)
    secure_cookies: bool = True
    session_minutes: float = 60.0

    @classmethod
    def from_values(cls, values: dict) -> StudioConfig:
        """From the bot config's ``studio`` section (keys without the ``studio.`` prefix)."""
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})

    def draft_for(self, live: Path) -> Path:
        return self.draft_path or live.parent / f"{live.name}.draft"

    def versions_for(self, live: Path) -> Path:
        return self.versions_path or live.parent / f"{live.name}.versions"


class StudioServer:
    """An aiohttp site for the studio, started and stopped inside a running event loop."""

    def __init__(self, settings: StudioSettings) -> None:
        self.settings = settings
        self.app = build_app(settings)
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        self.runner = web.AppRunner(self.app, access_log=None)  # URLs can hold the token
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.port

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def live_settings(studio: StudioConfig, live: Path, reload: Reload | None) -> StudioSettings:
    """The studio beside the bot: a draft of ``live``, published through ``reload``."""
    publisher = Publisher(studio.draft_for(live), live, studio.versions_for(live), reload)
    publisher.ensure_draft()
    publisher.ensure_first_version()
    return StudioSettings(
        folder=publisher.draft,
        mode="live",
        accounts_file=studio.accounts,
        secure_cookies=studio.secure_cookies,
        session_minutes=studio.session_minutes,
        publisher=publisher,
    )


async def start_beside_bot(config, reload: Reload) -> StudioServer:
    """Called by ``babyloss-bot run`` when the config has ``studio: {enabled: true}``.

    ``reload`` is the bot's own (the one SIGHUP calls); publishing runs in a worker thread,
    so the reload is handed back to the event loop, exactly where SIGHUP would run it.
    """
    studio = StudioConfig.from_values(config.studio)
    live = Path(config.dialogues_path)
    loop = asyncio.get_running_loop()

    def reload_on_loop() -> tuple[bool, str]:
        async def run() -> tuple[bool, str]:
            return reload()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=60)

    settings = await asyncio.to_thread(live_settings, studio, live, reload_on_loop)
    server = StudioServer(settings)
    port = await server.start(studio.listen, studio.port)
    log.info("studio on http://%s:%s/ (editing %s)", studio.listen, port, settings.folder)
    return server


def run_local(folder: Path, port: int, open_browser: bool) -> int:
    """``babyloss-bot studio``: serve until Ctrl+C."""
    if not folder.is_dir():
        print(f"There is no dialogue folder at '{folder}'.", file=sys.stderr)
        return 2
    token = secrets.token_urlsafe(24)
    settings = StudioSettings(
        folder=folder, mode="local", local_token=token, local_user=_user_name()
    )

    async def main() -> None:
        server = StudioServer(settings)
        try:
            bound = await server.start("127.0.0.1", port)
        except OSError as exc:
            print(
                f"Cannot listen on 127.0.0.1:{port}: {exc.strerror}. Try --port 0.", file=sys.stderr
            )
            raise SystemExit(2) from None
        url = f"http://127.0.0.1:{bound}/login?token={token}"
        print(f"The studio is editing {folder}.\nOpen {url}\nStop it with Ctrl+C.", flush=True)
        if open_browser:
            with contextlib.suppress(Exception):
                webbrowser.open(url)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("\nStudio stopped.")
    return 0


def _user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name on some containers
        return "volunteer"
