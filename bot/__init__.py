"""babyloss-bot: a gentle Telegram companion for parents after baby loss."""

__version__ = "0.1.0"
