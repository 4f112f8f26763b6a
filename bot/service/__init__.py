"""The Telegram service: configuration, logging, and the adapter around the pure engine."""
