"""The floor for bot_bench.py: the barest python-telegram-bot echo bot, run the same way.

.venv/bin/python benchmarks/echo_bot.py BASE_URL   (the token comes from TELEGRAM_BOT_TOKEN)
"""

import os
import sys

from telegram import Update
from telegram.ext import ApplicationBuilder, MessageHandler, filters


async def echo(update: Update, context) -> None:
    await update.effective_message.reply_text(update.effective_message.text or "")


def main() -> None:
    app = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(sys.argv[1])
        .concurrent_updates(256)
        .build()
    )
    app.add_handler(MessageHandler(filters.ALL, echo))
    app.run_polling(allowed_updates=Update.ALL_TYPES, timeout=30, poll_interval=0)


if __name__ == "__main__":
    main()
