"""The Telegram adapter: updates in, engine steps, messages out (python-telegram-bot)."""
