"""``GET /healthz`` for deployers and their monitors: 200 when all is well, 503 when not.

The answer says which dialogue version is serving and for how long; it is 503 when
Telegram cannot be reached (checked at most every few seconds, not on every probe) or when
the database does not answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

CHECK_EVERY_SECONDS = 10.0


class Health:
    def __init__(
        self,
        *,
        version: Callable[[], str],
        telegram: Callable[[], Awaitable[bool]],
        database: Callable[[], Awaitable[bool]] | None = None,
        metrics: Callable[[], bytes] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metrics = metrics
        self.version = version
        self.telegram = telegram
        self.database = database
        self.clock = clock
        self.started = clock()
        self._telegram_cache: tuple[float, bool] | None = None
        self._runner: web.AppRunner | None = None

    async def _telegram_ok(self) -> bool:
        now = self.clock()
        if self._telegram_cache and now - self._telegram_cache[0] < CHECK_EVERY_SECONDS:
            return self._telegram_cache[1]
        try:
            ok = await asyncio.wait_for(self.telegram(), timeout=5)
        except Exception:  # any failure to reach Telegram is "not reachable"
            ok = False
        self._telegram_cache = (now, ok)
        return ok

    async def report(self) -> tuple[int, dict]:
        telegram = await self._telegram_ok()
        database = True
        if self.database is not None:
            try:
                database = await asyncio.wait_for(self.database(), timeout=5)
            except Exception:
                database = False
        ok = telegram and database
        body = {
            "status": "ok" if ok else "unavailable",
            "dialogue_version": self.version(),
            "uptime_seconds": round(self.clock() - self.started, 1),
            "telegram": "ok" if telegram else "unreachable",
            "database": "ok" if database else "unreachable",
        }
        return (200 if ok else 503), body

    async def _handle(self, request: web.Request) -> web.Response:
        status, body = await self.report()
        return web.json_response(body, status=status)

    async def _metrics(self, request: web.Request) -> web.Response:
        from bot.service.metrics import CONTENT_TYPE

        response = web.Response(body=self.metrics())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    async def start(self, host: str, port: int) -> int:
        """Serve on host:port (0 = any free port); returns the port actually used."""
        app = web.Application()
        app.router.add_get("/healthz", self._handle)
        if self.metrics is not None:
            app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
            self._runner = None
