"""A stand-in Telegram Bot API server for tests and benchmarks.

``FakeBotApi`` is a small aiohttp server on 127.0.0.1 (free port) that speaks enough of the
Bot API for a *real* python-telegram-bot ``Application`` to run against it with long polling,
so handler code can be exercised end to end without network access or a real bot token::

    async with FakeBotApi() as fake:
        app = (
            ApplicationBuilder()
            .token(fake.token)
            .base_url(fake.base_url)            # "http://127.0.0.1:<port>/bot"
            .base_file_url(fake.base_file_url)  # "http://127.0.0.1:<port>/file/bot"
            .build()
        )                                       # or simply: app = fake.builder().build()
        app.add_handler(...)
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)
            fake.push_update(fake.make_text_update(42, "/start"))
            (reply,) = await fake.wait_for_messages(42, 1)
            await app.updater.stop()
            await app.stop()

PTB builds request URLs as ``f"{base_url}{token}/{method}"`` (unless ``base_url`` contains a
``{token}`` placeholder), so the server routes ``/bot{token}/{method}``.

What it offers:

* Recording: every request becomes a :class:`Call` in :attr:`FakeBotApi.calls`; see
  :meth:`FakeBotApi.sent_messages`, :meth:`FakeBotApi.wait_for`,
  :meth:`FakeBotApi.wait_for_messages`.
* Injecting updates: :meth:`FakeBotApi.push_update` plus ``make_*_update`` builders.
  ``getUpdates`` implements long polling and ``offset`` confirmation like Telegram does.
* Fault injection: :meth:`FakeBotApi.fail_next` (exact, per method or ``"*"``) and a seeded,
  probabilistic :class:`FaultPlan` (global via :attr:`FakeBotApi.faults` or per method via
  :meth:`FakeBotApi.set_faults`). ``getUpdates`` is only affected when targeted explicitly.
  :meth:`FakeBotApi.block_user` makes every send/edit to a chat fail with 403 Forbidden.
* Realistic answers: ``Message`` objects with per-chat incrementing ``message_id``; "message is
  not modified" when an edit changes nothing; basic validation of text length, HTML markup and
  ``callback_data`` size, so the bot fails here the way it would fail in production.
* Webhooks: :meth:`FakeBotApi.post_webhook` POSTs an update to a bot's webhook endpoint.

Where each part lives, by what it stands in for:

* ``server.py``: :class:`FakeBotApi` itself: HTTP routing, recording, the bot's settings.
* ``updates.py``: what parents do (``make_*_update``), getUpdates, webhooks.
* ``messages.py``: sending, editing and deleting messages; answering button presses.
* ``files.py``: uploads, getFile and downloads.
* ``faults.py``: :class:`FaultPlan` and the scheduled faults of ``fail_next``.
* ``common.py``: :class:`Call`, :class:`BotApiError`, and the fake Telegram's memory.
"""

from .common import DEFAULT_TOKEN, BotApiError, Call, UploadedFile, bad_request
from .faults import FAULT_KINDS, FaultPlan
from .messages import parse_html
from .server import MESSAGE_METHODS, FakeBotApi

__all__ = [
    "DEFAULT_TOKEN",
    "FAULT_KINDS",
    "MESSAGE_METHODS",
    "BotApiError",
    "Call",
    "FakeBotApi",
    "FaultPlan",
    "UploadedFile",
    "bad_request",
    "parse_html",
]
