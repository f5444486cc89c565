"""Telegram-facing features, one module each. `bot.app` registers them in one list."""
