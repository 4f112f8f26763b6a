"""An aiohttp transport for python-telegram-bot (a ``telegram.request.BaseRequest``).

The bot spends most of its CPU in the HTTP client: every step is several Bot API calls.
aiohttp does the same work as PTB's default httpx transport for noticeably less CPU per
call (see docs/performance.md). Errors map exactly as PTB's own transport maps them:
timeouts become ``TimedOut``, any other transport failure ``NetworkError``; answers with
any status are returned for PTB to interpret (429 -> RetryAfter, 403 -> Forbidden, ...).
"""

from __future__ import annotations

import asyncio

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        read_timeout: float = 5.0,
        write_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        pool_timeout: float = 1.0,
        media_write_timeout: float = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0),
                headers={"User-Agent": self.USER_AGENT},
                # PTB decodes the body itself; skip aiohttp's cookie handling entirely.
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout=BaseRequest.DEFAULT_NONE,
        write_timeout=BaseRequest.DEFAULT_NONE,
        connect_timeout=BaseRequest.DEFAULT_NONE,
        pool_timeout=BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None

        def pick(value, default):
            return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value

        read = pick(read_timeout, self._read)
        connect = pick(connect_timeout, self._connect)
        pool = pick(pool_timeout, self._pool)
        write = pick(write_timeout, self._media_write if files else self._write)
        # aiohttp has no write timeout of its own: bound the whole call by the sum instead.
        parts = (read, write, connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(parts),
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        data: aiohttp.FormData | dict | None = fields or None
        if files:
            form = aiohttp.FormData(quote_fields=False)
            for name, value in (fields or {}).items():
                form.add_field(name, value)
            for name, part in files.items():
                filename, content, mimetype = part if len(part) == 3 else (*part, None)
                if not isinstance(content, bytes | bytearray):
                    content = content.read()  # PTB may hand over an open file
                form.add_field(
                    name,
                    content,
                    filename=filename,
                    content_type=mimetype or "application/octet-stream",
                )
            data = form
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as resp:
                return resp.status, await resp.read()
        except TimeoutError as err:
            raise TimedOut from err
        except asyncio.CancelledError:
            raise
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err
