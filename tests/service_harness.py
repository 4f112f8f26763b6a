"""Run the real service (a python-telegram-bot Application) against the stand-in Bot API."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from bot.dialogue.loader import load_dialogue_dir
from bot.service.config import Config, WebhookConfig
from bot.service.run import serve
from bot.storage.database import Database
from bot.telegram.adapter import BabylossBot
from tests.conftest import ROOT
from tests.fakes.bot_api import Call, FakeBotApi

EXAMPLE = ROOT / "docs" / "examples" / "first-dialogue"


# Which HTTP transport the service uses in tests; test_telegram_service runs under both.
TRANSPORT = {"name": "aiohttp"}


def make_config(fake: FakeBotApi, dialogues: Path = EXAMPLE, **overrides) -> Config:
    values = dict(
        token=fake.token,
        base_url=fake.base_url,
        dialogues_path=dialogues,
        typing_delay_ms=0,
        source="test",
        transport=TRANSPORT["name"],
    )
    values.update(overrides)
    return Config(**values)


class Harness:
    """The service as ``run`` builds it; with ``storage=True`` it opens config.storage_path."""

    def __init__(
        self, fake: FakeBotApi, config: Config, *, storage: bool = False, clock=None
    ) -> None:
        self.fake = fake
        self.clock = clock
        self.config = config
        self.storage = storage
        self.db: Database | None = None
        self.service: BabylossBot | None = None
        self.stop_event = asyncio.Event()
        self.ready = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Harness:
        if self.storage:
            self.db = await Database.open(self.config.storage_path)
        result = load_dialogue_dir(self.config.dialogues_path, variables=self.config.variables)
        assert result.ok, [p.format() for p in result.problems]
        extra = {"clock": self.clock} if self.clock else {}
        self.service = BabylossBot(self.config, result.dialogue, db=self.db, **extra)
        self.task = asyncio.create_task(
            serve(self.config, stop=self.stop_event, ready=self.ready, service=self.service)
        )
        ready = asyncio.create_task(self.ready.wait())
        done, _ = await asyncio.wait(
            {ready, self.task}, timeout=10, return_when=asyncio.FIRST_COMPLETED
        )
        if self.task in done:
            ready.cancel()
            self.task.result()  # raises what went wrong
        assert ready in done, "the service did not start within 10 s"
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def stop(self) -> int:
        self.stop_event.set()
        assert self.task is not None
        code = await asyncio.wait_for(self.task, timeout=15)
        if self.db is not None:
            await self.db.close()
            self.db = None
        return code

    # -- Driving it ----------------------------------------------------------------
    async def step(
        self, update: dict, *, until_buttons: bool = True, timeout: float = 5.0
    ) -> list[Call]:
        """Push one update and wait until the bot has answered it; returns the sends."""
        since = len(self.fake.calls)
        self.fake.push_update(update)
        if until_buttons:
            await self.fake.wait_for(
                lambda c: c.method == "sendMessage" and c.ok and c.params.get("reply_markup"),
                timeout,
                since=since,
            )
        else:
            await self.fake.wait_for(
                lambda c: c.method == "sendMessage" and c.ok, timeout, since=since
            )
        await asyncio.sleep(0.05)  # let any trailing calls of the same step land
        return [c for c in self.fake.calls[since:] if c.method == "sendMessage" and c.ok]

    async def text(self, user: int, text: str, **kw) -> list[Call]:
        return await self.step(self.fake.make_text_update(user, text), **kw)

    def last_keyboard(self, user: int) -> tuple[int, list[tuple[str, str]]]:
        """(message id, [(label, data)]) of the newest message with buttons for ``user``."""
        for call in reversed(self.fake.calls):
            if (
                call.method == "sendMessage"
                and call.ok
                and str(call.chat_id) == str(user)
                and call.params.get("reply_markup")
            ):
                rows = call.params["reply_markup"]["inline_keyboard"]
                return call.result["message_id"], [
                    (r[0]["text"], r[0]["callback_data"]) for r in rows
                ]
        raise AssertionError("no keyboard sent")

    async def press(self, user: int, label: str, **kw) -> list[Call]:
        message_id, buttons = self.last_keyboard(user)
        data = dict(buttons)[label]
        return await self.step(self.fake.make_callback_update(user, data, message_id), **kw)


@contextlib.asynccontextmanager
async def running(
    config_overrides: dict | None = None,
    dialogues: Path = EXAMPLE,
    storage: bool = False,
    **fake_kw,
):
    async with FakeBotApi(**fake_kw) as fake:
        config = make_config(fake, dialogues, **(config_overrides or {}))
        async with Harness(fake, config, storage=storage) as harness:
            yield harness


__all__ = ["Harness", "WebhookConfig", "make_config", "running", "EXAMPLE"]


async def read_until(proc, text: str, timeout: float, seen: list[str]) -> None:
    """Read a bot process's log (stderr) into ``seen`` until a line holds ``text``."""

    async def scan() -> None:
        while True:
            line = await proc.stderr.readline()
            if not line:
                raise AssertionError(f"exited before {text!r}: {''.join(seen)}")
            seen.append(line.decode())
            if text in seen[-1]:
                return

    await asyncio.wait_for(scan(), timeout)
