"""Shared by the Telegram adapter and its mixins: the signal to stop sending to a parent."""


class StopSending(Exception):
    """The parent has blocked the bot: stop this step's sends."""
