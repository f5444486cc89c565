"""Helpers every feature shares: who is writing, escaping, fitting Telegram's limits, flows,
labels and how an issue reads."""
